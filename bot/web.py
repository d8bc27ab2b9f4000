"""HTTP: Slack requests at /slack/events, health, metrics and calendar feeds."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import edge
from bot.fastack import Foreground, OnLoop, answer_at_ack, answer_on_loop
from bot.health import Check
from bot.services import Services
from bot.usecases import oncall

log = logging.getLogger(__name__)


class Metrics:
    """The request metrics of one web app, in its process's registry (or one of its own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "escbot_slack_requests_total",
            "Slack requests by status",
            ["status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "escbot_slack_request_seconds",
            "Time to answer Slack",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3),
        )


def slack_endpoint(
    bolt: App,
    metrics: Metrics,
    foreground: Foreground | None = None,
    listeners: Executor | None = None,
    signing_secret: str | None = None,
    on_loop: OnLoop | None = None,
) -> Any:
    """Return the Starlette endpoint that hands Slack requests to Bolt.

    With a listener pool (and Bolt set to `process_before_response`), the whole dispatch runs
    on the pool and the answer leaves as soon as the listener acks, the listener going on;
    the requests `on_loop` names are dispatched on the event loop itself (bot.fastack).
    Nothing unsigned gets past the signature check, nothing malformed past `bot.edge`.
    """
    foreground = foreground or Foreground()
    verifier = SignatureVerifier(signing_secret) if signing_secret else None
    on_loop = on_loop or OnLoop()

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        with foreground.serving():  # background work gives way until Slack has its answer
            body = await _body(request)
            if body is None:
                response = _refusal(413, f"request body over {MAX_BODY} bytes")
            elif verifier is None or not edge.signed(verifier, body, request.headers):
                response = _refusal(401, "invalid signature")
            else:
                response = await _dispatch(bolt, body, request, listeners, on_loop)
        metrics.requests.labels(str(response.status)).inc()
        metrics.latency.observe(time.perf_counter() - started)
        return to_starlette_response(response)

    return slack_events


# Slack's requests are kilobytes (a full form is tens of them); read no more than this of
# anyone's, signed or not.
MAX_BODY = 1024 * 1024


async def _body(request: Request) -> bytes | None:
    """Return the request's body, or None past MAX_BODY (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _dispatch(
    bolt: App,
    body: bytes,
    request: Request,
    listeners: Executor | None,
    on_loop: OnLoop,
) -> BoltResponse:
    """Answer a signed request: 400 when malformed, else what Bolt's listeners say."""
    parsed = edge.parse(body, request.headers, request.url.query)
    if isinstance(parsed, str):
        log.warning("refused a malformed Slack request: %s", parsed)
        return _refusal(400, f"malformed request: {parsed}")
    try:
        if listeners is None:
            # Bolt's dispatch blocks until the listener acks: keep it off the event loop.
            return await run_in_threadpool(bolt.dispatch, parsed)
        if on_loop(parsed):
            return await answer_on_loop(bolt, parsed)
        return await answer_at_ack(bolt, parsed, listeners)
    except Exception as exc:  # Bolt's own handling failed: answer, and log one line
        log.error("could not answer a Slack request: %s: %s", type(exc).__name__, exc)
        return _refusal(400, "request not handled")


def _refusal(status: int, error: str) -> BoltResponse:
    return BoltResponse(
        status=status,
        body=json.dumps({"error": error}),
        headers={"content-type": "application/json"},
    )


def create_web(
    bolt: App, svc: Services, *, checks: Mapping[str, Callable[[], bool]] | None = None
) -> Starlette:
    """Build the ASGI app serving Slack and the operational endpoints."""
    metrics = Metrics(svc.telemetry.registry)
    routes = [
        Route(
            "/slack/events",
            slack_endpoint(
                bolt,
                metrics,
                svc.foreground,
                svc.listeners,
                signing_secret=svc.settings.slack_signing_secret,
                on_loop=svc.on_loop,
            ),
            methods=["POST"],
        ),
        *operational_routes(svc, metrics, checks),
    ]
    return Starlette(routes=routes)


def create_operational_web(
    svc: Services, *, checks: Mapping[str, Callable[[], bool]] | None = None
) -> Starlette:
    """Build the ASGI app of a process Slack does not post to (Socket Mode): health, metrics
    and calendar feeds, no /slack/events."""
    return Starlette(routes=operational_routes(svc, Metrics(svc.telemetry.registry), checks))


def operational_routes(
    svc: Services, metrics: Metrics, checks: Mapping[str, Callable[[], bool]] | None = None
) -> list[Route]:
    """Return the routes every process serves: /healthz, /readyz, /metrics, calendar feeds.

    `checks` adds readiness checks by name (e.g. the Socket Mode connection) to the database's.
    """
    Gauge(
        "escbot_background_gave_way_seconds",
        "Time background work (staffing, pings) waited for Slack requests to be answered",
        registry=metrics.registry,
    ).set_function(lambda: svc.foreground.waited)

    for name, extra in (checks or {}).items():  # e.g. the Socket Mode connection
        svc.readiness.add(name, _as_check(extra))

    async def healthz(_: Request) -> Response:
        """Liveness: the process serves, whatever the database or Slack say."""
        return JSONResponse({"ok": True, "checks": {"process": {"ok": True, "detail": "serving"}}})

    async def readyz(_: Request) -> Response:
        """Readiness: every check of `svc.readiness` (database, token, scheduler…) passes."""
        ok, answers = await run_in_threadpool(svc.readiness.run)
        return JSONResponse(
            {
                "ok": ok,
                "checks": {name: "ok" if a["ok"] else "failing" for name, a in answers.items()},
                "details": {name: a["detail"] for name, a in answers.items() if a["detail"]},
            },
            status_code=200 if ok else 503,
        )

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def oncall_feed(request: Request) -> Response:
        params = request.path_params
        body = await run_in_threadpool(
            oncall.calendar_feed, svc, rotation=params.get("rotation"), user=params.get("user")
        )
        if body is None:
            return Response("No such calendar.\n", status_code=404, media_type="text/plain")
        return Response(body, media_type="text/calendar; charset=utf-8")

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/oncall/users/{user}.ics", oncall_feed, methods=["GET"]),
        Route("/oncall/{rotation}.ics", oncall_feed, methods=["GET"]),
    ]


class Server:
    """Uvicorn in a background thread on an already-bound socket (port 0 picks one)."""

    def __init__(self, asgi: Any, host: str = "127.0.0.1", port: int = 0):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                asgi, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
            )
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="web", daemon=True
        )

    def start(self) -> Server:
        """Start serving and wait until the socket accepts requests."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def serve_forever(asgi: Any, port: int) -> None:
    """Serve on all interfaces in the foreground (production)."""
    uvicorn.run(
        asgi,
        host="0.0.0.0",
        port=port,
        log_level="info",
        access_log=False,
        proxy_headers=True,
        log_config=None,  # uvicorn's lines go through bot.logs, in its format (LOG_FORMAT)
    )


def _as_check(probe: Callable[[], object]) -> Callable[[], Check]:
    """Return a readiness check that passes while `probe()` is true."""
    return lambda: Check(bool(probe()), "")
