"""Slash-command listeners: ack, parse, one use case, reply."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import blocks
from bot.errors import UsageError, UserError
from bot.parsing.escalate import parse_escalate
from bot.services import Services
from bot.text import escape
from bot.usecases import escalations
from handlers.replying import request_key


def handle_escalate_command(svc: Services, ack: Ack, command: dict[str, Any]) -> None:
    """`/escalate`: the form with no text, else raise from the inline text."""
    text = (command.get("text") or "").strip()
    if not text:
        ack()
        svc.slack.open_view(
            command["trigger_id"], blocks.escalate_modal(svc.config, command.get("channel_id", ""))
        )
        return
    try:
        draft = parse_escalate(text, svc.config)
    except UsageError as exc:
        ack(str(exc))
        return
    # Recorded before the ack: once Slack shows "Raising…", the escalation cannot be lost.
    try:
        escalations.accept_escalation(
            svc,
            draft,
            command["user_id"],
            request_key=request_key(command),
            response_url=command.get("response_url"),
            origin_channel=command.get("channel_id"),
        )
    except UserError as exc:
        ack(str(exc))
        return
    ack(f":hourglass_flowing_sand: Raising *{escape(draft.title)}*…")


def register(app: App, svc: Services) -> None:
    """Register the slash-command listeners."""
    app.command("/escalate")(lambda ack, command: handle_escalate_command(svc, ack, command))
