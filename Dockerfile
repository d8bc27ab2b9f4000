# escbot: build the wheel, install it (not editable) in a slim runtime image.
#   docker build -t escbot .
#   docker run --env-file .env -p 3000:3000 escbot            # escbot run
#   docker run --env-file .env escbot db upgrade
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build
COPY pyproject.toml setup.py MANIFEST.in README.md escalation.example.yaml manifest.yaml ./
COPY bot ./bot
COPY handlers ./handlers
COPY schedules ./schedules
COPY storage ./storage
RUN python -m build --wheel --outdir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=3000
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --create-home --uid 10001 escbot
USER escbot
WORKDIR /home/escbot
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '3000')}/readyz\", timeout=4)"]
ENTRYPOINT ["escbot"]
CMD ["run"]
