"""Start-up of `escbot run` over HTTP: liveness at once, the bot wired while it is served.

A bare Bolt app answers `/healthz` a fraction of a second after it is spawned; escbot must
first check its database, build its services (SQLAlchemy and the models, the outbox, the Slack
gateway), register its listeners and start the scheduler — seconds on a loaded machine, most
of it imports. An orchestrator that restarts a process whose liveness probe is late would
kill a healthy bot that is still starting, so the process binds `PORT` and serves `/healthz`
as soon as uvicorn is imported, and wires the bot in a thread meanwhile:

- `/healthz` answers 200 at once (liveness: the process serves);
- `/readyz` answers 503 with the check `startup: starting` until the bot is wired, then the
  real checks (database, token, scheduler);
- Slack's requests (and `/metrics`, the calendar feeds) wait for the wiring, at most
  `WAIT_S`, then get a 503 that Slack retries;
- if wiring fails — the database unreachable, its schema behind — the server stops and
  the process exits 1 with that one line, as it did when the check came before serving.

This module imports nothing of the bot at load: what it starts is imported in the thread.
`python tests/benchmarks/bench_startup.py` prints start → `/healthz` and start → `/readyz`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

WAIT_S = 2.5  # a Slack request arriving while the bot starts waits this long (Slack: 3 s)


class Booting:
    """An ASGI app that serves liveness at once and the wired app once it is set."""

    def __init__(self) -> None:
        self.app: Any = None
        self.ready = threading.Event()

    def set(self, app: Any) -> None:
        """Serve `app` from now on."""
        self.app = app
        self.ready.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "lifespan":  # nothing to start or stop at the ASGI level
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        if path == "/healthz":
            await _json(send, 200, {"ok": True, "checks": {"process": _check(True, "starting")}})
            return
        if path == "/readyz":
            await _json(send, 503, {"ok": False, "checks": {"startup": _check(False, "starting")}})
            return
        ready = await asyncio.get_running_loop().run_in_executor(None, self.ready.wait, WAIT_S)
        if ready and self.app is not None:
            await self.app(scope, receive, send)
        else:
            await _json(send, 503, {"error": "starting; try again"})


def _check(ok: bool, detail: str) -> dict[str, Any]:
    return {"ok": ok, "detail": detail}


async def _json(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class Started:
    """What the wiring thread started, for the main thread to stop (or the error it met)."""

    def __init__(self) -> None:
        self.stops: list[Callable[[], None]] = []
        self.error: BaseException | None = None


def serve(port: int, wire: Callable[[Booting, Started], None]) -> Started:
    """Serve on all interfaces until SIGTERM (or a wiring failure), wiring the bot meanwhile.

    `wire` builds the bot, calls `booting.set(asgi_app)` and appends what must be stopped to
    `started.stops`; an exception it raises stops the server and is returned in `started`.
    """
    import uvicorn

    booting, started = Booting(), Started()
    server = uvicorn.Server(
        uvicorn.Config(
            booting,
            host="0.0.0.0",
            port=port,
            log_level="info",
            access_log=False,
            proxy_headers=True,
            log_config=None,  # uvicorn's lines go through bot.logs, in its format (LOG_FORMAT)
            lifespan="off",
        )
    )

    def wiring() -> None:
        try:
            wire(booting, started)
        except BaseException as exc:  # reported by the main thread, which exits 1
            started.error = exc
            server.should_exit = True

    thread = threading.Thread(target=wiring, name="wiring", daemon=True)
    thread.start()
    try:
        server.run()
    finally:
        # uvicorn stops on SIGTERM, then raises it again once it has: a handler of ours takes
        # that second one, so the workers stop cleanly instead of the process dying mid-way.
        signal.signal(signal.SIGTERM, lambda *_: None)
        thread.join()
        for stop in reversed(started.stops):
            try:
                stop()
            except Exception:
                log.exception("stopping failed")
    return started
