"""The HTTP side: the Starlette application serving the page, its JSON API (snapshot and
actions) and the server-sent event stream, on loopback only.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.sandbox.web.common import STATIC, Refused
from bot.sandbox.web.workspace import Workspace


def create_web_app(workspace: Workspace) -> Starlette:
    """Return the ASGI app serving the page, its snapshot, its actions and its live stream."""

    async def body(request: Request) -> dict[str, Any]:
        # Another site open in the same browser must not act as the sandbox's people: its
        # page can only send a JSON body after a preflight this app never answers, and a
        # browser names the page's origin, which must be this one.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise Refused("send application/json", 415)
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            raise Refused("cross-origin requests are refused", 403)
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise Refused("not JSON", 400) from None
        if not isinstance(data, dict):
            raise Refused("not a JSON object", 400)
        return data

    def refusing(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request))
            except Refused as refusal:
                return JSONResponse(
                    {"ok": False, "error": refusal.reason}, status_code=refusal.status
                )

        return endpoint

    async def index(_: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def snapshot(request: Request) -> dict[str, Any]:
        q = request.query_params
        user = workspace.person(q.get("user") or workspace.default_user)
        return await asyncio.to_thread(
            workspace.snapshot, user, q.get("channel") or None, q.get("home") == "1"
        )

    def acting(method: str) -> Any:
        async def handler(request: Request) -> dict[str, Any]:
            data = await body(request)
            user = workspace.person(data.get("user"))
            if method == "send":
                return await asyncio.to_thread(
                    workspace.send, user, str(data.get("channel", "")), str(data.get("text", ""))
                )
            if method == "press":
                return await asyncio.to_thread(workspace.press, user, data)
            if method == "shortcut":
                return await asyncio.to_thread(workspace.shortcut, user, data)
            if method == "react":
                return await asyncio.to_thread(workspace.react, user, data)
            if method == "submit":
                given = data.get("values")
                values = given if isinstance(given, dict) else {}
                return await asyncio.to_thread(
                    workspace.submit, user, str(data.get("view_id", "")), values
                )
            if method == "cancel":
                return await asyncio.to_thread(workspace.cancel, user, str(data.get("view_id", "")))
            return await asyncio.to_thread(workspace.open_home, user)

        return handler

    async def events(_: Request) -> Response:
        return StreamingResponse(
            workspace.changes(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    routes = [
        Route("/", index),
        Route("/api/snapshot", refusing(snapshot)),
        Route("/api/events", events),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    for name in ("send", "press", "submit", "cancel", "home", "shortcut", "react"):
        routes.append(Route(f"/api/{name}", refusing(acting(name)), methods=["POST"]))
    # Only loopback names: a DNS-rebound name reaching this port gets 400, not a snapshot.
    loopback = ["127.0.0.1", "localhost", "[::1]", "::1"]
    return Starlette(
        routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=loopback)]
    )
