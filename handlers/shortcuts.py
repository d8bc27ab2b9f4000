"""Message shortcut listeners: ack, one use case, tell the invoker."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.services import Services
from bot.usecases import coordination
from handlers.replying import answer


def handle_add_to_timeline_shortcut(svc: Services, ack: Ack, body: dict[str, Any]) -> None:
    """*Add to timeline* on a message of an escalation channel: it becomes a timeline event."""
    ack()
    message = body.get("message") or {}
    actor = body["user"]["id"]

    def run() -> tuple[str, None]:
        outcome = coordination.add_to_timeline(
            svc,
            actor,
            body["channel"]["id"],
            str(message.get("ts") or body.get("message_ts") or ""),
            author=message.get("user") if isinstance(message.get("user"), str) else None,
            text=str(message.get("text") or ""),
            via="shortcut",
        )
        return outcome.message, None

    answer(svc, body.get("response_url"), run)


def register(app: App, svc: Services) -> None:
    """Register the message shortcut listeners."""
    app.shortcut("add_to_timeline")(
        lambda ack, body: handle_add_to_timeline_shortcut(svc, ack, body)
    )
