"""Block Kit pieces every surface uses: action and callback IDs, sections, buttons."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.text import truncate

if TYPE_CHECKING:
    pass

GRAPHIC_WARNING = ":warning: *Content warning:* this escalation involves graphic material."


class Action(StrEnum):
    """Action IDs of buttons and inputs."""

    ACK = "esc_ack"
    ESCALATE_NOW = "esc_escalate_now"
    LOG_DECISION = "esc_log_decision"
    ADD_STAKEHOLDERS = "esc_add_stakeholders"
    CHANGE_SEVERITY = "esc_change_severity"
    RESOLVE = "esc_resolve"
    TAKE_OWNERSHIP = "esc_take_ownership"
    SIGNOFF_APPROVE = "signoff_approve"
    SIGNOFF_REJECT = "signoff_reject"


class Callback(StrEnum):
    """Callback IDs of modals."""

    ESCALATE = "escalate_modal"
    DECISION = "decision_modal"
    STAKEHOLDERS = "stakeholders_modal"
    SEVERITY = "severity_modal"
    RESOLVE = "resolve_modal"


def _mention(user: str | None) -> str:
    return f"<@{user}>" if user else "_unassigned_"


def _when(instant: datetime | None) -> str:
    if instant is None:
        return "—"
    ts = int(instant.timestamp())
    fallback = instant.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{ts}^{{date_short_pretty}} {{time}}|{fallback}>"


def section(text: str) -> dict[str, Any]:
    """Return a mrkdwn section block (text already escaped)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def context(text: str) -> dict[str, Any]:
    """Return a context block with one mrkdwn element."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 3000)}]}


def button(text: str, action: Action, value: str, style: str | None = None) -> dict[str, Any]:
    """Return a button element."""
    out: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action.value,
        "value": value,
    }
    if style:
        out["style"] = style
    return out
