"""Drop Slack's redeliveries of an event (same `event_id`) before any listener runs."""

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


def register(app: App, svc: Services) -> None:
    """Register the redelivery check (after Bolt's signature check, before every listener)."""
    app.use(lambda body, next: handle_event_delivery(svc, body, next))
