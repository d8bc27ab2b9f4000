"""Slash-command listeners: ack, parse, one use case, reply."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse

from bot import blocks
from bot.errors import UsageError, UserError
from bot.fastack import ANSWER_LATER
from bot.parsing.escalate import parse_escalate
from bot.services import Services
from bot.text import escape
from bot.usecases import escalations
from handlers.replying import request_key


def handle_escalate_command(
    svc: Services, ack: Ack, command: dict[str, Any], context: BoltContext | None = None
) -> BoltResponse | None:
    """`/escalate`: the form with no text, else raise from the inline text."""
    text = (command.get("text") or "").strip()
    if not text:
        ack()
        svc.slack.open_view(
            command["trigger_id"], blocks.escalate_modal(svc.config, command.get("channel_id", ""))
        )
        return None
    try:
        draft = parse_escalate(text, svc.config)
    except UsageError as exc:
        ack(str(exc))
        return None
    raising = f":hourglass_flowing_sand: Raising *{escape(draft.title)}*…"
    where: dict[str, Any] = {
        "request_key": request_key(command),
        "response_url": command.get("response_url"),
        "origin_channel": command.get("channel_id"),
    }
    # Recorded before the ack: once Slack shows "Raising…", the escalation cannot be lost.
    later = context.get(ANSWER_LATER) if context is not None else None
    if later is not None:  # on the event loop (dispatched_on_loop): the ack follows the save
        escalations.accept_escalation_later(
            svc,
            draft,
            command["user_id"],
            lambda error: ack(str(error)) if error is not None else ack(raising),
            **where,
        )
        return later.hold()
    try:
        escalations.accept_escalation(svc, draft, command["user_id"], **where)
    except UserError as exc:
        ack(str(exc))
        return None
    ack(raising)
    return None


def dispatched_on_loop(request: BoltRequest) -> bool:
    """Return True for `/escalate` with text: parsing it and queueing its save never block,
    so it is dispatched on the event loop (bot.fastack.OnLoop); the form's needs Slack."""
    body = request.body
    return body.get("command") == "/escalate" and bool(str(body.get("text") or "").strip())


def register(app: App, svc: Services) -> None:
    """Register the slash-command listeners."""
    app.command("/escalate")(
        lambda ack, command, context: handle_escalate_command(svc, ack, command, context)
    )
    svc.on_loop.add(dispatched_on_loop)
