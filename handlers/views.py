"""Every modal submission: the forms to raise an escalation, log a decision, add
stakeholders, change severity and resolve. Buttons that open the forms are in actions.py."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from slack_bolt import Ack, App

from bot import blocks
from bot.blocks import Callback
from bot.errors import UserError, form_errors, user_message
from bot.parsing.esc import DecisionDraft
from bot.parsing.escalate import EscalationDraft
from bot.results import Where
from bot.services import Services
from bot.usecases import decisions, escalations, lifecycle
from handlers.actions import ref_number


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


def escalation_draft(values: dict[str, Any]) -> EscalationDraft:
    """Build a draft from the /escalate form's state; raise ValidationError when bad."""
    flags = form_value(values, "flags") or []
    links = [
        line.strip() for line in (form_value(values, "links") or "").splitlines() if line.strip()
    ]
    return EscalationDraft(
        title=(form_value(values, "title") or "").strip(),
        description=(form_value(values, "description") or "").strip(),
        category=form_value(values, "category") or "",
        policy_area=form_value(values, "policy_area") or "",
        severity=form_value(values, "severity") or "",
        region=form_value(values, "region") or "",
        surfaces=form_value(values, "surfaces") or [],
        links=links,
        restricted="restricted" in flags,
        graphic="graphic" in flags,
    )


def handle_escalate_submission(
    svc: Services, ack: Ack, body: dict[str, Any], view: dict[str, Any]
) -> None:
    """The /escalate form was submitted: validate, close, raise."""
    try:
        draft = escalation_draft(view["state"]["values"])
    except ValidationError as exc:
        errors = form_errors(exc) or {"title": "Please check the form."}
        ack(response_action="errors", errors=errors)
        return
    problems = escalations.draft_problems(svc.config, draft)
    if problems:
        ack(response_action="errors", errors=problems)
        return
    origin = blocks.form_origin(str(view.get("private_metadata") or ""))
    origin_channel, origin_ts, response_url = origin
    try:  # recorded before the ack closes the form, so a closed form means a saved escalation
        escalations.accept_escalation(
            svc,
            draft,
            body["user"]["id"],
            request_key=f"view:{view['id']}",
            origin_channel=origin_channel,
            origin_ts=origin_ts,
            response_url=response_url,
        )
    except UserError as exc:
        ack(response_action="errors", errors={"title": str(exc)})
        return
    ack()


def _form_where(body: dict[str, Any], view: dict[str, Any]) -> Where:
    return Where(ref_number(view.get("private_metadata")), None)


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
    """Register the modal listeners."""
    app.view(Callback.ESCALATE.value)(
        lambda ack, body, view: handle_escalate_submission(svc, ack, body, view)
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
