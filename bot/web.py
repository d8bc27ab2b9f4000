"""HTTP: Slack requests at /slack/events, health, metrics and calendar feeds."""

from __future__ import annotations

import asyncio
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
from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import oncall
from bot.executors import Foreground
from bot.services import Services

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


class AnsweringAck(Ack):
    """Bolt's `ack` that also hands its answer on (to the web endpoint) when called."""

    def __init__(self, on_ack: Callable[[BoltResponse], None]) -> None:
        super().__init__()
        self.on_ack = on_ack

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = super().__call__(*args, **kwargs)
        self.on_ack(response)
        return response


def slack_endpoint(
    bolt: App,
    metrics: Metrics,
    foreground: Foreground | None = None,
    listeners: Executor | None = None,
) -> Any:
    """Return the Starlette endpoint that hands Slack requests to Bolt.

    With a listener pool (and Bolt set to `process_before_response`), the whole dispatch runs
    on the pool and the answer leaves as soon as the listener acks, the listener going on.
    """
    foreground = foreground or Foreground()

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        with foreground.serving():  # background work gives way until Slack has its answer
            body = await request.body()
            bolt_request = to_bolt_request(request, body)
            if listeners is None:
                # Bolt's dispatch blocks until the listener acks: keep it off the event loop.
                response = await run_in_threadpool(bolt.dispatch, bolt_request)
            else:
                response = await _answer(bolt, bolt_request, listeners)
        metrics.requests.labels(str(response.status)).inc()
        metrics.latency.observe(time.perf_counter() - started)
        return to_starlette_response(response)

    return slack_events


async def _answer(bolt: App, request: BoltRequest, listeners: Executor) -> BoltResponse:
    """Dispatch on the pool; return the ack's answer as soon as there is one.

    The pool's thread wakes the event loop once: at the ack, or when dispatch ends without
    one (refused, an error, or a request no listener takes).
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[BoltResponse] = loop.create_future()
    unanswered = threading.Lock()  # taken by the first hand-over (a Lock is cheap to make)

    def settle(response: BoltResponse | None, error: BaseException | None) -> None:
        if answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(response)  # type: ignore[arg-type]

    def hand_over(response: BoltResponse | None, error: BaseException | None = None) -> None:
        if unanswered.acquire(blocking=False):
            loop.call_soon_threadsafe(settle, response, error)

    def dispatch() -> None:  # on the pool's thread
        try:
            response = bolt.dispatch(request)
        except BaseException as exc:
            hand_over(None, exc)
            raise
        hand_over(response)

    request.context["ack"] = AnsweringAck(hand_over)
    listeners.submit(dispatch)
    return await answer


def create_web(
    bolt: App, svc: Services, *, checks: Mapping[str, Callable[[], bool]] | None = None
) -> Starlette:
    """Build the ASGI app serving Slack and the operational endpoints."""
    metrics = Metrics(svc.telemetry.registry)
    routes = [
        Route(
            "/slack/events",
            slack_endpoint(bolt, metrics, svc.foreground, svc.listeners),
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

    def _db_ok() -> bool:
        try:
            with svc.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    readiness: dict[str, Callable[[], bool]] = {"database": _db_ok, **(checks or {})}

    def _ready() -> dict[str, bool]:
        results = {}
        for name, check in readiness.items():
            try:
                results[name] = bool(check())
            except Exception:
                results[name] = False
        return results

    async def healthz(_: Request) -> Response:
        ok = await run_in_threadpool(_db_ok)
        return JSONResponse(
            {"ok": ok, "database": "up" if ok else "down"}, status_code=200 if ok else 503
        )

    async def readyz(_: Request) -> Response:
        results = await run_in_threadpool(_ready)
        ok = all(results.values())
        return JSONResponse(
            {"ok": ok, "checks": {name: "ok" if up else "failing" for name, up in results.items()}},
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
