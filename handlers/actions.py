"""Buttons on the card, sign-off requests and handoff briefs, and the forms they open."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from slack_bolt import Ack, App

from bot import blocks
from bot.blocks import Action, Callback
from bot.errors import UserError, form_errors, user_message
from bot.parsing.esc import DecisionDraft
from bot.policy import Act
from bot.results import Where
from bot.services import Services
from bot.usecases import decisions, lifecycle, paging, signoffs
from handlers.replying import answer

# What each card button opens, and what its form will do (the policy decides who may).
FORMS = {
    Action.LOG_DECISION: (Act.DECISION, lambda esc, config: blocks.decision_modal(esc)),
    Action.ADD_STAKEHOLDERS: (Act.INVITE, blocks.stakeholders_modal),
    Action.CHANGE_SEVERITY: (Act.SEVERITY, blocks.severity_modal),
    Action.RESOLVE: (Act.RESOLVE, lambda esc, config: blocks.resolve_modal(esc)),
}


def _number(value: Any) -> int:
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 9):  # an ESC-n or sign-off ID
        raise UserError("That button is out of date.")
    return int(text)


def _where(body: dict[str, Any], action: dict[str, Any]) -> Where:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return Where(_number(action.get("value")), channel)


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


def handle_escalate_now_button(
    svc: Services, ack: Ack, body: dict[str, Any], action: dict
) -> None:
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
                _number(action.get("value")),
                approve=action["action_id"] == Action.SIGNOFF_APPROVE.value,
                channel_id=_where(body, action).channel_id,
            ).message,
            None,
        ),
    )


# -- forms ------------------------------------------------------------------------------------


def form_value(values: dict[str, Any], block: str) -> Any:
    """Return what the user entered in a block of a submitted form."""
    element = (values.get(block) or {}).get(block) or {}
    kind = element.get("type")
    if kind == "static_select":
        return (element.get("selected_option") or {}).get("value")
    if kind in ("multi_static_select", "checkboxes"):
        return [o["value"] for o in element.get("selected_options") or []]
    if kind == "multi_users_select":
        return list(element.get("selected_users") or [])
    return element.get("value")


def _form_where(body: dict[str, Any], view: dict[str, Any]) -> Where:
    return Where(_number(view.get("private_metadata")), None)


def _apply(ack: Ack, field: str, run: Any) -> None:
    """Run the use case, then close the form; a refusal is shown on the form instead."""
    try:
        run()
    except Exception as exc:
        message = user_message(exc)
        if message is None:
            raise
        ack(response_action="errors", errors={field: message[:1900]})
        return
    ack()


def handle_decision_submission(
    svc: Services, ack: Ack, body: dict[str, Any], view: dict[str, Any]
) -> None:
    """The Log decision form was submitted: record it once per form."""
    values = view["state"]["values"]
    supersedes = (form_value(values, "supersedes") or "").strip().lstrip("#")
    if supersedes and not supersedes.isdigit():
        ack(response_action="errors", errors={"supersedes": "An entry number, like 3."})
        return
    try:
        draft = DecisionDraft(
            text=(form_value(values, "decision") or "").strip(),
            rationale=(form_value(values, "rationale") or "").strip(),
            policy=(form_value(values, "policy") or "").strip(),
            consulted=form_value(values, "consulted") or [],
            supersedes=int(supersedes) if supersedes else None,
        )
    except ValidationError as exc:
        errors = form_errors(exc, {"text": "decision"})
        ack(response_action="errors", errors=errors or {"decision": "Please check the form."})
        return
    _apply(
        ack,
        "supersedes" if draft.supersedes else "decision",
        lambda: decisions.record_decision(
            svc,
            body["user"]["id"],
            _form_where(body, view),
            draft,
            request_key=f"view:{view['id']}",
        ),
    )


def handle_stakeholders_submission(
    svc: Services, ack: Ack, body: dict[str, Any], view: dict[str, Any]
) -> None:
    """The Add stakeholders form was submitted: one batched invite."""
    values = view["state"]["values"]
    users = form_value(values, "users") or []
    groups = form_value(values, "groups") or []
    if not users and not groups:
        ack(response_action="errors", errors={"users": "Pick people or a stakeholder group."})
        return
    _apply(
        ack,
        "users",
        lambda: lifecycle.invite(
            svc,
            body["user"]["id"],
            _form_where(body, view),
            users=users,
            groups=groups,
            request_key=f"view:{view['id']}",
        ),
    )


def handle_severity_submission(
    svc: Services, ack: Ack, body: dict[str, Any], view: dict[str, Any]
) -> None:
    """The Change severity form was submitted."""
    severity = form_value(view["state"]["values"], "severity") or ""
    _apply(
        ack,
        "severity",
        lambda: lifecycle.set_severity(svc, body["user"]["id"], _form_where(body, view), severity),
    )


def handle_resolve_submission(
    svc: Services, ack: Ack, body: dict[str, Any], view: dict[str, Any]
) -> None:
    """The Resolve form was submitted."""
    summary = (form_value(view["state"]["values"], "summary") or "").strip()
    if not summary:
        ack(response_action="errors", errors={"summary": "Say how it was resolved."})
        return
    _apply(
        ack,
        "summary",
        lambda: lifecycle.resolve(svc, body["user"]["id"], _form_where(body, view), summary),
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
    app.view(Callback.DECISION.value)(
        lambda ack, body, view: handle_decision_submission(svc, ack, body, view)
    )
    app.view(Callback.STAKEHOLDERS.value)(
        lambda ack, body, view: handle_stakeholders_submission(svc, ack, body, view)
    )
    app.view(Callback.SEVERITY.value)(
        lambda ack, body, view: handle_severity_submission(svc, ack, body, view)
    )
    app.view(Callback.RESOLVE.value)(
        lambda ack, body, view: handle_resolve_submission(svc, ack, body, view)
    )
