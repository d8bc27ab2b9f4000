"""What every Slack delivery goes through before a listener: redeliveries and NUL characters.

A redelivered event (same `event_id`) is acknowledged and dropped. NUL characters are taken
out of everything a user typed: PostgreSQL cannot store them in text, and a request that can
never be saved must not be accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot.services import Services
from bot.usecases.deliveries import first_delivery


def strip_nul(value: Any) -> Any:
    """Return the payload with NUL characters removed from every string in it."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = strip_nul(item)
    elif isinstance(value, list):
        value[:] = [strip_nul(item) for item in value]
    return value


class Deliveries(Middleware):
    """The one global middleware: what every delivery goes through before a listener.

    A class rather than a function, so Bolt calls it without building the listener
    arguments for it on every request.
    """

    def __init__(self, svc: Services):
        self.svc = svc

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        body = req.body
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not first_delivery(self.svc, f"event:{event_id}", "event"):
            return BoltResponse(status=200, body="")  # a redelivered event: done already
        strip_nul(body)
        return next()


def register(app: App, svc: Services) -> None:
    """Register the delivery checks (after Bolt's signature check, before every listener)."""
    app.use(Deliveries(svc))
