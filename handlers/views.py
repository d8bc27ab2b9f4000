"""Modal submission listeners."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from slack_bolt import Ack, App

from bot.blocks import Callback
from bot.errors import UserError, form_errors
from bot.parsing.escalate import EscalationDraft
from bot.services import Services
from bot.usecases import escalations


def _value(values: dict[str, Any], block: str) -> Any:
    element = (values.get(block) or {}).get(block) or {}
    kind = element.get("type")
    if kind in ("static_select",):
        return (element.get("selected_option") or {}).get("value")
    if kind in ("multi_static_select", "checkboxes"):
        return [o["value"] for o in element.get("selected_options") or []]
    return element.get("value")


def escalation_draft(values: dict[str, Any]) -> EscalationDraft:
    """Build a draft from the /escalate form's state; raise ValidationError when bad."""
    flags = _value(values, "flags") or []
    links = [line.strip() for line in (_value(values, "links") or "").splitlines() if line.strip()]
    return EscalationDraft(
        title=(_value(values, "title") or "").strip(),
        description=(_value(values, "description") or "").strip(),
        category=_value(values, "category") or "",
        policy_area=_value(values, "policy_area") or "",
        severity=_value(values, "severity") or "",
        region=_value(values, "region") or "",
        surfaces=_value(values, "surfaces") or [],
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
    try:  # recorded before the ack closes the form, so a closed form means a saved escalation
        escalations.accept_escalation(
            svc,
            draft,
            body["user"]["id"],
            request_key=f"view:{view['id']}",
            origin_channel=view.get("private_metadata") or None,
        )
    except UserError as exc:
        ack(response_action="errors", errors={"title": str(exc)})
        return
    ack()


def register(app: App, svc: Services) -> None:
    """Register the modal listeners."""
    app.view(Callback.ESCALATE.value)(
        lambda ack, body, view: handle_escalate_submission(svc, ack, body, view)
    )
