"""Message shortcut listeners: ack, one use case, tell the invoker."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import blocks
from bot.services import Services
from bot.slack import SlackError
from bot.usecases import coordination
from handlers.replying import answer


def _author(svc: Services, user: str | None) -> str:
    if not user:
        return "an app"
    try:
        info = svc.slack.user_info(user)
    except SlackError:
        return user
    profile = info.get("profile") or {}
    return str(profile.get("real_name") or info.get("real_name") or info.get("name") or user)


def handle_escalate_message_shortcut(svc: Services, ack: Ack, body: dict[str, Any]) -> None:
    """*Escalate this message*: the /escalate form, its description quoting the message and
    its author, its links the message's permalink."""
    ack()
    message = body.get("message") or {}
    channel = body["channel"]["id"]
    ts = str(message.get("ts") or body.get("message_ts") or "")
    author = message.get("user") if isinstance(message.get("user"), str) else None
    try:
        links = [svc.slack.permalink(channel, ts)]
    except SlackError:  # a message the bot cannot see the link of: the quote says enough
        links = []
    form = blocks.escalate_modal(
        svc.config,
        channel,
        description=blocks.quoted_message(_author(svc, author), str(message.get("text") or "")),
        links=links,
        origin_ts=ts or None,
        response_url=body.get("response_url"),
        restricted=coordination.restricted_channel(svc, channel),
    )
    svc.slack.open_view(body["trigger_id"], form)


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
    app.shortcut("escalate_message")(
        lambda ack, body: handle_escalate_message_shortcut(svc, ack, body)
    )
    app.shortcut("add_to_timeline")(
        lambda ack, body: handle_add_to_timeline_shortcut(svc, ack, body)
    )
