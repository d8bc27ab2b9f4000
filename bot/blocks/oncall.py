"""Replies to `/oncall`: who is on call, schedules, my shifts, overrides, gaps."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.text import escape, truncate

if TYPE_CHECKING:
    from bot.results import (
        GapsReport,
        MyShifts,
        NowReport,
        OverrideMade,
        OverridesReport,
        ScheduleReport,
    )
from bot.blocks.common import context, section
from bot.blocks.pings import span
from bot.blocks.replies import _reply, _sections
from bot.text import local_when

# -- /oncall ----------------------------------------------------------------------------------

ONCALL_LINES = 400  # schedule lines in one reply (90 days of a daily rotation fit)


def _both_zones(instant: datetime, tz: str, user: str | None, user_tz: str | None) -> str:
    """Return `Tue 24 Dec 18:00 PST (Wed 25 Dec 02:00 GMT for @ana)`; one zone when alike."""
    here = local_when(instant, tz)
    if not user or not user_tz:
        return here
    there = local_when(instant, user_tz)
    return here if there == here else f"{here} ({there} for <@{user}>)"


def _who_covers(user: str | None, layer: int | None) -> str:
    if user is None:
        return ":warning: _nobody (gap)_"
    return f"<@{user}>" + (" _(override)_" if layer is None else "")


def oncall_now_reply(report: NowReport) -> tuple[str, list[dict[str, Any]]]:
    """Return `/oncall`: who covers each rotation, until when and who is next, in both zones."""
    lines = []
    for c in report.rotations:
        shift = c.shift
        until = _both_zones(shift.end, report.asker_tz, shift.user, c.user_tz)
        if shift.user is None:
            line = f"*{escape(c.rotation)}*: :warning: nobody is on call (gap) until {until}"
        else:
            line = f"*{escape(c.rotation)}*: {_who_covers(shift.user, shift.layer)} until {until}"
        if c.next is not None:
            when = _both_zones(c.next.start, report.asker_tz, c.next.user, c.next_tz)
            line += f"\n      next: {_who_covers(c.next.user, c.next.layer)} from {when}"
        else:
            line += "\n      next: _no handoff within a year_"
        lines.append(line)
    lines = lines or ["No rotations are configured."]
    head = "*On call now*"
    out = [section(head), *_sections(lines)]
    out.append(context(f"Times in your zone, {escape(report.asker_tz)}. `/oncall help` for more."))
    return truncate(head + "\n" + "\n".join(lines), 3000), out


def oncall_schedule_reply(report: ScheduleReport) -> tuple[str, list[dict[str, Any]]]:
    """Return `/oncall schedule`: each rotation's shifts and gaps, in the asker's zone."""
    tz = report.asker_tz
    lines: list[str] = []
    for rid, parts in report.schedules.items():
        lines.append(f"*{escape(rid)}*")
        lines.extend(
            f"• {local_when(p.start, tz)} → {local_when(p.end, tz)}  {_who_covers(p.user, p.layer)}"
            for p in parts
        )
    if len(lines) > ONCALL_LINES:
        lines = [*lines[:ONCALL_LINES], f"…and {len(lines) - ONCALL_LINES} more lines."]
    head = f"*On-call schedule, next {report.days} days* (your zone, {escape(tz)})"
    return _reply(None, head, lines or ["No rotations are configured."])


def my_shifts_reply(report: MyShifts) -> tuple[str, list[dict[str, Any]]]:
    """Return `/oncall me`: my shifts over the coming days, in my zone."""
    tz = report.tz
    lines = [
        f"• *{escape(s.rotation)}*: {local_when(s.start, tz)} → {local_when(s.end, tz)}"
        + (" _(now)_" if s.start <= report.now < s.end else "")
        + (" _(override)_" if s.layer is None else "")
        for s in report.shifts
    ]
    head = f"*Your on-call shifts, next {report.days} days* ({escape(tz)})"
    return _reply(None, head, lines or [f"No shifts in the next {report.days} days."])


def override_made_reply(made: OverrideMade) -> tuple[str, list[dict[str, Any]]]:
    """Return the confirmation of a new override: who covers what, when, instead of whom."""
    row = made.row
    start = _both_zones(row.start, made.asker_tz, row.user_id, made.user_tz)
    end = _both_zones(row.end, made.asker_tz, row.user_id, made.user_tz)
    text = (
        f":white_check_mark: Override #{row.id}: <@{row.user_id}> covers "
        f"*{escape(row.rotation)}* from {start} to {end}."
    )
    if not made.created:
        text = f"Already recorded — override #{row.id}: <@{row.user_id}> covers " + (
            f"*{escape(row.rotation)}* from {start} to {end}."
        )
    elif made.replaces:
        text += " Instead of " + ", ".join(f"<@{u}>" for u in made.replaces) + "."
    note = f"Cancel with `/oncall override remove {row.id}`."
    return text, [section(text), context(note)]


def overrides_reply(report: OverridesReport) -> tuple[str, list[dict[str, Any]]]:
    """Return `/oncall overrides`: current and upcoming overrides with their IDs."""
    tz = report.asker_tz
    lines = [
        f"• *#{o.id}* *{escape(o.rotation)}*: <@{o.user_id}> {local_when(o.start, tz)} → "
        f"{local_when(o.end, tz)}"
        + (" _(now)_" if o.start <= report.now else "")
        + f" — by <@{o.created_by}>"
        for o in report.rows
    ]
    head = f"*Current and upcoming overrides* (your zone, {escape(tz)})"
    lines = lines or ["None. Add one with `/oncall override <@user> <start> <end> [rotation]`."]
    return _reply(None, head, lines)


def override_removed_text(override_id: int, rotation: str, user: str) -> str:
    """Return the confirmation that an override is cancelled."""
    return (
        f":wastebasket: Override #{override_id} removed: <@{user}> no longer covers "
        f"*{escape(rotation)}* then."
    )


def oncall_gaps_reply(report: GapsReport) -> tuple[str, list[dict[str, Any]]]:
    """Return `/oncall gaps`: windows where a rotation has nobody on call."""
    tz = report.asker_tz
    lines = [
        f"• *{escape(g.rotation)}*: {local_when(g.start, tz)} → {local_when(g.end, tz)} "
        f"({span((g.end - g.start).total_seconds())})"
        for g in report.gaps
    ]
    if lines:
        head = f":warning: *Coverage gaps in the next {report.days} days* (your zone, {escape(tz)})"
    else:
        head = f":white_check_mark: No coverage gaps in the next {report.days} days."
    return _reply(None, head, lines)
