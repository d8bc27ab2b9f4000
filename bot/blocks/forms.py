"""The modals: raise an escalation, log a decision, add stakeholders, change severity,
resolve.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.config import TeamConfig
from bot.text import escape, truncate
from storage.models import Escalation

if TYPE_CHECKING:
    pass
from bot.blocks.common import Callback, context


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


QUOTE_LIMIT = 2800  # the description field holds 3000


def quoted_message(author: str, text: str) -> str:
    """Return the description of an escalation raised from a message: the message quoted,
    with its author."""
    body = truncate(text.strip() or "(no text)", QUOTE_LIMIT)
    return f"Message from {author}:\n" + "\n".join(f"> {line}" for line in body.splitlines())


def escalate_modal(
    config: TeamConfig,
    channel_id: str = "",
    *,
    description: str = "",
    links: Sequence[str] = (),
    origin_ts: str | None = None,
    response_url: str | None = None,
    restricted: bool = False,
) -> dict[str, Any]:
    """Return the /escalate form; raised from a message (`origin_ts`), prefilled from it,
    keeping the shortcut's `response_url` to tell the reporter where it is worked."""
    origin = {"channel": channel_id, "ts": origin_ts, "response_url": response_url}
    form: dict[str, Any] = {
        "type": "modal",
        "callback_id": Callback.ESCALATE.value,
        "private_metadata": json.dumps(origin) if origin_ts else channel_id,
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
    blocks = {b["block_id"]: b for b in form["blocks"]}
    if description:
        blocks["description"]["element"]["initial_value"] = truncate(description, 3000)
    if links:
        blocks["links"]["element"]["initial_value"] = "\n".join(links)
    if restricted:  # raised from a restricted escalation's channel: it stays need-to-know
        flags = blocks["flags"]["element"]
        flags["initial_options"] = [flags["options"][0]]
    return form


def form_origin(metadata: str) -> tuple[str | None, str | None, str | None]:
    """Return (channel, message ts, response_url) the /escalate form was opened from; ts and
    response_url only when it was opened from a message."""
    if not metadata.startswith("{"):
        return metadata or None, None, None
    try:
        origin = json.loads(metadata)
    except ValueError:
        return None, None, None
    if not isinstance(origin, dict):
        return None, None, None
    found = [origin.get(k) for k in ("channel", "ts", "response_url")]
    channel, ts, url = (v if isinstance(v, str) and v else None for v in found)
    return channel, ts, url


def _modal(
    callback: Callback, title: str, submit: str, metadata: str, blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback.value,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": truncate(title, 24, "…")},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _users_input(block_id: str, label: str, *, optional: bool = True) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": {"type": "multi_users_select", "action_id": block_id},
    }


def decision_modal(esc: Escalation) -> dict[str, Any]:
    """Return the Log decision form of an escalation."""
    return _modal(
        Callback.DECISION,
        f"Decision · {esc.ref}",
        "Log decision",
        str(esc.id),
        [
            context(f"*{esc.ref}* {escape(truncate(esc.title, 200))} — entries are permanent."),
            _text_input("decision", "Decision", multiline=True),
            _text_input("rationale", "Rationale", multiline=True, optional=True),
            _text_input("policy", "Policy cited", optional=True, max_length=1000),
            _users_input("consulted", "Consulted / approved by"),
            _text_input("supersedes", "Corrects entry # (optional)", optional=True, max_length=6),
        ],
    )


def stakeholders_modal(esc: Escalation, config: TeamConfig) -> dict[str, Any]:
    """Return the Add stakeholders form: people and stakeholder groups."""
    fields = [_users_input("users", "People")]
    if config.stakeholders:
        fields.append(
            {
                "type": "input",
                "block_id": "groups",
                "optional": True,
                "label": {"type": "plain_text", "text": "Stakeholder groups"},
                "element": {
                    "type": "multi_static_select",
                    "action_id": "groups",
                    "options": [
                        {"text": {"type": "plain_text", "text": truncate(g.name, 75)}, "value": gid}
                        for gid, g in config.stakeholders.items()
                    ],
                },
            }
        )
    return _modal(Callback.STAKEHOLDERS, f"Add people · {esc.ref}", "Invite", str(esc.id), fields)


def severity_modal(esc: Escalation, config: TeamConfig) -> dict[str, Any]:
    """Return the Change severity form."""
    return _modal(
        Callback.SEVERITY,
        f"Severity · {esc.ref}",
        "Change",
        str(esc.id),
        [_select("severity", "Severity", config.severity_ids, esc.severity)],
    )


def resolve_modal(esc: Escalation) -> dict[str, Any]:
    """Return the Resolve form asking for a summary."""
    return _modal(
        Callback.RESOLVE,
        f"Resolve · {esc.ref}",
        "Resolve",
        str(esc.id),
        [_text_input("summary", "How was it resolved?", multiline=True)],
    )
