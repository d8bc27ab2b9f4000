"""What every Slack delivery goes through before a listener: redeliveries and NUL characters.

A redelivered event (same `event_id`) is acknowledged and dropped. NUL characters are taken
out of everything a user typed: PostgreSQL cannot store them in text, and a request that can
never be saved must not be accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from bot.deliveries import first_delivery
from bot.services import Services


def handle_event_delivery(
    svc: Services, body: dict[str, Any], next: Callable[[], None]
) -> BoltResponse | None:
    """Let an event through once per `event_id`; acknowledge a repeat and do nothing."""
    event_id = body.get("event_id") if body.get("type") == "event_callback" else None
    if event_id and not first_delivery(svc, f"event:{event_id}", "event"):
        return BoltResponse(status=200, body="")
    next()
    return None


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


def handle_nul_characters(body: dict[str, Any], next: Callable[[], None]) -> None:
    """Remove NUL characters from the request in place, then go on."""
    strip_nul(body)
    next()


def register(app: App, svc: Services) -> None:
    """Register the delivery checks (after Bolt's signature check, before every listener)."""
    app.use(lambda body, next: handle_event_delivery(svc, body, next))
    app.use(lambda body, next: handle_nul_characters(body, next))
