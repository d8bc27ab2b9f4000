"""The deployment files say what the spec's Deployment section says (no container engine needed)."""

from __future__ import annotations

import re

import yaml

from tests.support.config import ROOT


def test_the_procfile_runs_the_release_step_web_without_a_scheduler_and_one_clock():
    assert (ROOT / "Procfile").read_text().splitlines() == [
        "release: escbot db upgrade",
        "web: escbot run --no-scheduler",
        "clock: escbot scheduler",
    ]


def test_the_image_installs_the_wheel_runs_as_non_root_and_checks_readiness():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(stages) == 2 and all("slim" in s for s in stages)
    assert "build --wheel" in text and "pip install /wheels/*.whl" in text
    assert "pip install -e" not in text
    user = re.search(r"^USER (\S+)", text, re.MULTILINE)
    assert user and user.group(1) not in ("root", "0")
    assert 'ENTRYPOINT ["escbot"]' in text and 'CMD ["run"]' in text
    health = re.search(r"^HEALTHCHECK .*?CMD (.*)$", text, re.MULTILINE | re.DOTALL)
    assert health and "urllib.request" in health.group(1) and "/readyz" in health.group(1)
    assert "PORT" in health.group(1)


def test_compose_brings_up_postgres_a_one_off_upgrade_two_web_and_a_scheduler():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "web", "scheduler"}
    assert "pgdata" in compose["volumes"]
    assert any(v.startswith("pgdata:") for v in services["postgres"]["volumes"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["web"]["command"] == ["run", "--no-scheduler"]
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["scheduler"]["command"] == ["scheduler"]
    for name in ("web", "scheduler"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["env_file"] == ".env"
        assert service["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
