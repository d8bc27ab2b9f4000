"""Pure Block Kit builders: data in, dicts out. User text is escaped here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.config import TeamConfig
from bot.text import escape, truncate
from storage.models import Escalation

GRAPHIC_WARNING = ":warning: *Content warning:* this escalation involves graphic material."


class Action(StrEnum):
    """Action IDs of buttons and inputs."""

    ACK = "esc_ack"
    LOG_DECISION = "esc_log_decision"
    ADD_STAKEHOLDERS = "esc_add_stakeholders"
    CHANGE_SEVERITY = "esc_change_severity"
    RESOLVE = "esc_resolve"
    TAKE_OWNERSHIP = "esc_take_ownership"


class Callback(StrEnum):
    """Callback IDs of modals."""

    ESCALATE = "escalate_modal"


ESCALATE_USAGE = (
    "Usage: `/escalate [SEV1|SEV2|SEV3|SEV4] [#category] title words…` — "
    "or `/escalate` alone for the form."
)


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


def escalation_card(esc: Escalation, config: TeamConfig) -> tuple[str, list[dict[str, Any]]]:
    """Return the pinned summary card of an escalation: fallback text and blocks."""
    title = escape(esc.title)
    text = f"{esc.ref} [{esc.severity}] {title} — {esc.status}"
    fields = [
        ("Severity", esc.severity),
        ("Status", esc.status.capitalize()),
        ("Category", esc.category),
        ("Policy area", esc.policy_area),
        ("Region", esc.region),
        ("Owner", _mention(esc.owner)),
        ("Reporter", _mention(esc.reporter)),
        ("Ack SLA", _when(esc.ack_deadline)),
    ]
    blocks: list[dict[str, Any]] = []
    if esc.graphic:
        blocks.append(section(GRAPHIC_WARNING))
    blocks.append(
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"{esc.ref}: {esc.title}", 150)},
        }
    )
    if esc.description:
        blocks.append(section(escape(truncate(esc.description, 2900))))
    blocks.append(
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
        }
    )
    notes = []
    if esc.surfaces:
        notes.append("Surfaces: " + ", ".join(escape(s) for s in esc.surfaces))
    if esc.links:
        notes.append("Links: " + " ".join(escape(link) for link in esc.links))
    if esc.restricted:
        notes.append(":lock: Restricted — need to know. Do not share outside this channel.")
    if notes:
        blocks.append(context("\n".join(notes)))
    if esc.status != "resolved":
        value = str(esc.id)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"card-{esc.id}",
                "elements": [
                    button("Acknowledge", Action.ACK, value, "primary"),
                    button("Log decision", Action.LOG_DECISION, value),
                    button("Add stakeholders", Action.ADD_STAKEHOLDERS, value),
                    button("Change severity", Action.CHANGE_SEVERITY, value),
                    button("Resolve", Action.RESOLVE, value, "danger"),
                ],
            }
        )
    elif esc.resolution:
        blocks.append(section("*Resolution:* " + escape(esc.resolution)))
    return text, blocks


def announcement(esc: Escalation, link: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the one-line feed announcement of a new (unrestricted) escalation."""
    warn = " :warning: graphic" if esc.graphic else ""
    text = (
        f":rotating_light: *{esc.ref}* [{esc.severity}] {escape(esc.title)} "
        f"— {esc.category}, {esc.region}{warn} — <{link}|join <#{esc.channel_id}>>"
    )
    return text, [section(text)]


def staffed_summary(esc: Escalation, pending: Sequence[str], skipped: dict[str, str]) -> str:
    """Return what the reporter is told once the channel is set up."""
    parts = [f"*{esc.ref}* is open in <#{esc.channel_id}>."]
    if skipped:
        parts.append("Could not add: " + ", ".join(f"<@{u}> ({e})" for u, e in skipped.items()))
    if pending:
        parts.append("Still pending, retrying: " + ", ".join(pending) + ".")
    return " ".join(parts)


def page_text(esc: Escalation, users: Sequence[str], step: int) -> str:
    """Return the in-channel page mentioning whom it pages."""
    who = " ".join(f"<@{u}>" for u in users)
    return (
        f":pager: {who} — you are paged for *{esc.ref}* [{esc.severity}] "
        f"(step {step}). Press *Acknowledge* on the pinned card."
    )


def _options(values: Sequence[str]) -> list[dict[str, Any]]:
    return [{"text": {"type": "plain_text", "text": v}, "value": v} for v in values]


def _select(
    block_id: str,
    label: str,
    values: Sequence[str],
    initial: str | None = None,
    *,
    multi: bool = False,
    optional: bool = False,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "multi_static_select" if multi else "static_select",
        "action_id": block_id,
        "options": _options(values),
    }
    if initial and not multi:
        element["initial_option"] = _options([initial])[0]
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
        "optional": optional,
    }


def _text_input(
    block_id: str,
    label: str,
    *,
    multiline: bool = False,
    optional: bool = False,
    max_length: int = 3000,
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "plain_text_input",
            "action_id": block_id,
            "multiline": multiline,
            "max_length": max_length,
        },
    }


def escalate_modal(config: TeamConfig, channel_id: str = "") -> dict[str, Any]:
    """Return the /escalate form."""
    return {
        "type": "modal",
        "callback_id": Callback.ESCALATE.value,
        "private_metadata": channel_id,
        "title": {"type": "plain_text", "text": "Raise an escalation"},
        "submit": {"type": "plain_text", "text": "Escalate"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _text_input("title", "Title", max_length=250),
            _text_input("description", "What is happening", multiline=True, optional=True),
            _select("category", "Category", config.categories, config.default_category),
            _select(
                "policy_area",
                "Policy area",
                config.policy_areas,
                "other" if "other" in config.policy_areas else config.policy_areas[0],
            ),
            _select("severity", "Severity", config.severity_ids, config.default_severity),
            _select("region", "Region / market", config.regions, config.regions[0]),
            *(
                [
                    _select(
                        "surfaces", "Surfaces affected", config.surfaces, multi=True, optional=True
                    )
                ]
                if config.surfaces
                else []
            ),
            _text_input("links", "Links (one per line)", multiline=True, optional=True),
            {
                "type": "input",
                "block_id": "flags",
                "optional": True,
                "label": {"type": "plain_text", "text": "Handling"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "flags",
                    "options": [
                        {
                            "text": {"type": "plain_text", "text": "Restricted (need to know)"},
                            "value": "restricted",
                        },
                        {
                            "text": {"type": "plain_text", "text": "Graphic content"},
                            "value": "graphic",
                        },
                    ],
                },
            },
        ],
    }
