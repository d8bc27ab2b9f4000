"""Roles on an escalation: the card's line, `/esc roles`, the owner's reminder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.blocks.common import GRAPHIC_WARNING, _mention, context, section
from bot.blocks.pings import span
from bot.config import TeamConfig
from bot.results import Roles
from bot.text import escape
from storage.models import Escalation


def role_name(config: TeamConfig, role: str) -> str:
    """Return the configured name of a role (its ID when the config no longer has it)."""
    found = config.roles.get(role)
    return escape(found.name if found else role)


def roles_note(
    config: TeamConfig, holders: Mapping[str, str], required: Sequence[str]
) -> str | None:
    """Return the card's roles line: who holds what, and the required roles nobody holds."""
    parts = [f"{role_name(config, r)} {_mention(u)}" for r, u in holders.items()]
    parts += [f"{role_name(config, r)} :warning: needed" for r in required if r not in holders]
    return "Roles: " + " · ".join(parts) if parts else None


def role_lines(
    config: TeamConfig, holders: Mapping[str, str], required: Sequence[str]
) -> list[str]:
    """Return one line per configured role (and any held role the config dropped)."""
    lines = []
    for rid in [*config.roles, *(r for r in holders if r not in config.roles)]:
        need = " _(required)_" if rid in required else ""
        holder = _mention(holders[rid]) if rid in holders else "nobody"
        lines.append(f"*{role_name(config, rid)}* (`{escape(rid)}`){need}: {holder}")
    return lines


def roles_reply(roles: Roles, config: TeamConfig) -> tuple[str, list[dict[str, Any]]]:
    """Return `/esc roles`: every configured role and who holds it."""
    esc = roles.esc
    out: list[dict[str, Any]] = [section(GRAPHIC_WARNING)] if esc.graphic else []
    if not config.roles and not roles.holders:
        text = f"*{esc.ref}*: no roles are configured (`roles:` in the team config)."
        return text, [*out, section(text)]
    head = f"*{esc.ref}* roles"
    out += [section(head), section("\n".join(role_lines(config, roles.holders, roles.required)))]
    out.append(context("Give one with `/esc role <role> <@user>`."))
    return head, out


def role_reminder(
    esc: Escalation, config: TeamConfig, missing: Sequence[str], since: datetime, now: datetime
) -> str:
    """Return the in-channel nudge to the owner to fill the required roles nobody holds."""
    owner = f"<@{esc.owner}>" if esc.owner else "Owner"
    names = ", ".join(f"*{role_name(config, r)}* (`{escape(r)}`)" for r in missing)
    return (
        f":busts_in_silhouette: {owner} — *{esc.ref}* ({esc.severity}) has had no {names} "
        f"for {span((now - since).total_seconds())}. Assign with `/esc role <role> <@user>`."
    )
