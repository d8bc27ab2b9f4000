"""Messages of coordination: stakeholder update briefs, links between escalations."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import GRAPHIC_WARNING, section
from bot.text import escape, truncate
from storage.models import Escalation

BRIEF_TEXT_LIMIT = 280


def channel_link(esc: Escalation) -> str:
    """Return a link that opens the escalation's channel."""
    return f"https://slack.com/app_redirect?channel={esc.channel_id}"


def update_brief(esc: Escalation, actor: str | None, text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the one-line brief of a status update for the stakeholder updates channel.

    A restricted escalation is named by its ID alone: its details stay in its channel.
    """
    if esc.restricted:
        line = f":lock: *{esc.ref}* (restricted): update posted in its channel"
        return line, [section(line)]
    warn = f"{GRAPHIC_WARNING} " if esc.graphic else ""
    who = f" from <@{actor}>" if actor else ""
    line = (
        f"{warn}:memo: *{esc.ref}* [{esc.severity}] {escape(truncate(esc.title, 100))} "
        f"— update{who}: {escape(truncate(text, BRIEF_TEXT_LIMIT))} "
        f"— <{channel_link(esc)}|open <#{esc.channel_id}>>"
    )
    return line, [section(line)]


def message_pointer(esc: Escalation) -> tuple[str, list[dict[str, Any]]]:
    """Return the threaded reply under a message that was escalated: where it is worked."""
    line = (
        f":rotating_light: Escalated as *{esc.ref}* [{esc.severity}] "
        f"{escape(truncate(esc.title, 100))} "
        f"— <{channel_link(esc)}|follow it in <#{esc.channel_id}>>"
    )
    return line, [section(line)]
