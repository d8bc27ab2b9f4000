"""Buttons on the card, sign-off requests and handoff briefs, and the forms they open."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import blocks
from bot.blocks import Action
from bot.errors import UserError
from bot.policy import Act
from bot.results import Where
from bot.services import Services
from bot.usecases import lifecycle, paging, signoffs
from handlers.replying import answer

# What each card button opens, and what its form will do (the policy decides who may).
FORMS = {
    Action.LOG_DECISION: (Act.DECISION, lambda esc, config: blocks.decision_modal(esc)),
    Action.ADD_STAKEHOLDERS: (Act.INVITE, blocks.stakeholders_modal),
    Action.CHANGE_SEVERITY: (Act.SEVERITY, blocks.severity_modal),
    Action.RESOLVE: (Act.RESOLVE, lambda esc, config: blocks.resolve_modal(esc)),
}


def ref_number(value: Any) -> int:
    """Return the escalation or sign-off number a button or form carries; refuse a tampered one."""
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 9):  # an ESC-n or sign-off ID
        raise UserError("That button is out of date.")
    return int(text)


def _where(body: dict[str, Any], action: dict[str, Any]) -> Where:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return Where(ref_number(action.get("value")), channel)


def handle_ack_button(svc: Services, ack: Ack, body: dict[str, Any], action: dict) -> None:
    """Acknowledge from the card."""
    ack()
    answer(
        svc,
        body.get("response_url"),
        lambda: (
            lifecycle.acknowledge(svc, body["user"]["id"], _where(body, action)).message,
            None,
        ),
    )


def _page_of(value: Any) -> tuple[int, int, int]:
    """Return (escalation, round, step) from an Escalate now button's `n:round:step` value."""
    parts = str(value).split(":")
    if len(parts) != 3 or not all(p.isdigit() and len(p) < 10 for p in parts):
        raise UserError("That button is out of date.")
    number, round_, step = (int(p) for p in parts)
    return number, round_, step


def handle_escalate_now_button(svc: Services, ack: Ack, body: dict[str, Any], action: dict) -> None:
    """Page the next step of the escalation policy at once (from a page DM)."""
    ack()
    answer(
        svc,
        body.get("response_url"),
        lambda: (
            paging.escalate_now(svc, body["user"]["id"], *_page_of(action.get("value"))),
            None,
        ),
    )


def handle_take_ownership_button(
    svc: Services, ack: Ack, body: dict[str, Any], action: dict
) -> None:
    """Take ownership (from a handoff brief or the card)."""
    ack()
    user = body["user"]["id"]
    answer(
        svc,
        body.get("response_url"),
        lambda: (
            lifecycle.set_owner(svc, user, _where(body, action), user, take=True).message,
            None,
        ),
    )


def _open_form(svc: Services, body: dict[str, Any], action: dict) -> None:
    act, form = FORMS[Action(action["action_id"])]
    esc = lifecycle.check_visible(svc, body["user"]["id"], _where(body, action), act)
    svc.slack.open_view(body["trigger_id"], form(esc, svc.config))


def handle_form_button(svc: Services, ack: Ack, body: dict[str, Any], action: dict) -> None:
    """Open the form behind a card button (refusing at once who may not use it)."""
    ack()
    answer(svc, body.get("response_url"), lambda: _open_form(svc, body, action))


def handle_signoff_button(svc: Services, ack: Ack, body: dict[str, Any], action: dict) -> None:
    """Approve or reject a sign-off request."""
    ack()
    answer(
        svc,
        body.get("response_url"),
        lambda: (
            signoffs.answer_signoff(
                svc,
                body["user"]["id"],
                ref_number(action.get("value")),
                approve=action["action_id"] == Action.SIGNOFF_APPROVE.value,
                channel_id=_where(body, action).channel_id,
            ).message,
            None,
        ),
    )


def register(app: App, svc: Services) -> None:
    """Register the button and form listeners."""
    app.action(Action.ACK.value)(
        lambda ack, body, action: handle_ack_button(svc, ack, body, action)
    )
    app.action(Action.ESCALATE_NOW.value)(
        lambda ack, body, action: handle_escalate_now_button(svc, ack, body, action)
    )
    app.action(Action.TAKE_OWNERSHIP.value)(
        lambda ack, body, action: handle_take_ownership_button(svc, ack, body, action)
    )
    for button in FORMS:
        app.action(button.value)(
            lambda ack, body, action: handle_form_button(svc, ack, body, action)
        )
    for button in (Action.SIGNOFF_APPROVE, Action.SIGNOFF_REJECT):
        app.action(button.value)(
            lambda ack, body, action: handle_signoff_button(svc, ack, body, action)
        )
