"""Replies to `/esc`: status, timeline, decisions, list, stats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.text import escape, truncate
from storage.models import Decision, Escalation

if TYPE_CHECKING:
    from bot.results import (
        Listing,
        Related,
        Stats,
        Status,
        Timeline,
    )
from bot.blocks.card import _decision_lines
from bot.blocks.common import GRAPHIC_WARNING, _mention, _when, context, section
from bot.blocks.pings import span


def _sections(lines: Sequence[str], limit: int = 45) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    chunk = ""
    for line in lines:
        line = truncate(line, 2900)
        if chunk and len(chunk) + len(line) + 1 > 2900:
            out.append(section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        out.append(section(chunk))
    if len(out) > limit:
        out = [*out[: limit - 1], context(f"… {len(out) - limit + 1} more sections not shown")]
    return out


def _reply(
    esc: Escalation | None, head: str, lines: Sequence[str]
) -> tuple[str, list[dict[str, Any]]]:
    out = []
    if esc is not None and esc.graphic:
        out.append(section(GRAPHIC_WARNING))
    out.append(section(head))
    out.extend(_sections(lines))
    return head, out


def _span(seconds: int | None) -> str:
    return "—" if seconds is None else span(seconds)


_RELATION = {"duplicate": "this duplicates it", "duplicated_by": "duplicates this"}


def _related(related: Related) -> str:
    if related.title is None:
        return f"{related.ref} (restricted)"
    where = f" <#{related.channel_id}>" if related.channel_id else ""
    how = f" ({_RELATION[related.kind]})" if related.kind in _RELATION else ""
    return f"{related.ref} {escape(truncate(related.title, 80))}{where}{how}"


def status_reply(status: Status) -> tuple[str, list[dict[str, Any]]]:
    """Return `/esc status`: state, people, SLA, sign-offs, follow-ups."""
    esc = status.esc
    head = f"*{esc.ref}* [{esc.severity}] {escape(esc.title)} — *{esc.status}*"
    breached = esc.acknowledged_at is None and status.now > esc.ack_deadline
    late = " :red_circle: breached" if breached else ""
    lines = [
        f"*Owner:* {_mention(esc.owner)} · *Reporter:* {_mention(esc.reporter)}",
        f"*Created:* {_when(esc.created_at)} · *Ack SLA:* {_when(esc.ack_deadline)}{late}",
    ]
    if esc.acknowledged_at:
        lines.append(
            f"*Acknowledged:* {_when(esc.acknowledged_at)} by {_mention(esc.acknowledged_by)}"
        )
    if esc.last_update_at:
        lines.append(f"*Last update:* {_when(esc.last_update_at)}")
    if esc.resolved_at:
        lines.append(f"*Resolved:* {_when(esc.resolved_at)} — {escape(esc.resolution or '')}")
    if esc.restricted:
        lines.append(":lock: Restricted — need to know.")
    lines.append(f"*Decisions:* {status.decisions} (`/esc decisions`)")
    if status.related:
        lines.append("*Related:* " + ", ".join(_related(r) for r in status.related))
    people = [p for p in status.participants if not p.invite_error]
    if people:
        lines.append("*People:* " + ", ".join(f"<@{p.user_id}> ({p.role})" for p in people))
    if status.signoffs:
        lines.append("*Sign-offs:*")
        for s in status.signoffs:
            by = f" by {_mention(s.answered_by)}" if s.answered_by else ""
            question = f" — {escape(truncate(s.question, 200))}" if s.question else ""
            lines.append(f"• {escape(s.group)}: {s.status}{by}{question}")
    if status.followups:
        lines.append("*Follow-ups:*")
        for f in status.followups:
            mark = ":white_check_mark:" if f.status == "done" else ":black_square_button:"
            lines.append(
                f"{mark} #{f.id} {f.kind}: {escape(truncate(f.text, 300))} — {_mention(f.owner)}"
            )
    else:
        lines.append("*Follow-ups:* none")
    return _reply(esc, head, lines)


def event_line(kind: str, detail: dict[str, Any]) -> str:
    if kind == "update":
        return "update: " + escape(truncate(str(detail.get("text", "")), 300))
    if kind == "severity_changed":
        return f"severity {detail.get('before')} → {detail.get('after')}"
    if kind == "owner_changed":
        return f"owner {_mention(detail.get('before'))} → {_mention(detail.get('after'))}"
    if kind == "decision":
        extra = f", supersedes #{detail['supersedes']}" if detail.get("supersedes") else ""
        return f"decision #{detail.get('seq')} `{detail.get('hash')}`{extra}"
    if kind == "resolved":
        return "resolved: " + escape(truncate(str(detail.get("summary", "")), 300))
    if kind == "invited":
        users = detail.get("users") or []
        failed = detail.get("failed") or {}
        text = "invited " + (", ".join(_mention(u) for u in users) or "nobody new")
        return text + (f" (could not add {len(failed)})" if failed else "")
    if kind in ("signoff_requested", "signoff_answered"):
        outcome = detail.get("outcome")
        return f"sign-off {escape(str(detail.get('group')))}" + (
            f" {outcome}" if outcome else " requested"
        )
    if kind == "step_done":
        how = " (signed off)" if detail.get("signoff") else ""
        return f"checklist step `{escape(str(detail.get('step')))}` done{how}"
    if kind == "message_added":
        link = f" (<{detail['permalink']}|message>)" if detail.get("permalink") else ""
        body = detail.get("text")
        said = "_looking it up…_" if body is None else escape(truncate(str(body), 300))
        return f"message from {_mention(detail.get('author'))}: {said}{link}"
    if kind == "role_assigned":
        return f"role `{escape(str(detail.get('role')))}` → {_mention(detail.get('user'))}"
    if kind == "role_reminder":
        missing = ", ".join(f"`{escape(str(r))}`" for r in detail.get("missing") or [])
        return f"reminded the owner to fill {missing}"
    if kind == "linked":
        return f"linked ESC-{detail.get('related')}"
    if kind == "marked_duplicate":
        return f"marked a duplicate of ESC-{detail.get('original')}, resolved"
    if kind == "duplicate_added":
        return f"ESC-{detail.get('duplicate')} marked a duplicate of this one"
    if kind in ("followup_added", "followup_done"):
        what = "done" if kind == "followup_done" else f"added ({detail.get('followup_kind')})"
        return f"follow-up #{detail.get('followup')} {what}"
    if kind in ("deadline_reminder", "deadline_breached"):
        what = "reminder sent" if kind == "deadline_reminder" else "passed unresolved"
        return f"deadline {escape(str(detail.get('deadline')))} {what}"
    return kind.replace("_", " ")


def timeline_reply(timeline: Timeline) -> tuple[str, list[dict[str, Any]]]:
    """Return `/esc timeline`: every event with its time and actor."""
    esc = timeline.esc
    lines = [
        f"{_when(e.at)} · {_mention(e.actor) if e.actor else 'bot'} · "
        + event_line(e.kind, e.detail)
        for e in timeline.events
    ]
    return _reply(esc, f"*Timeline of {esc.ref}* ({len(lines)} events)", lines)


def decisions_reply(
    esc: Escalation, decisions: Sequence[Decision]
) -> tuple[str, list[dict[str, Any]]]:
    """Return `/esc decisions`: the log in order, corrections marked."""
    superseded = {d.supersedes: d.seq for d in decisions if d.supersedes}
    lines = []
    for d in decisions:
        note = f" _(superseded by #{superseded[d.seq]})_" if d.seq in superseded else ""
        lines.append(
            f"*#{d.seq}* `{d.hash[:10]}` {_when(d.created_at)}{note}\n"
            + "\n".join(_decision_lines(d))
        )
    if not lines:
        lines = ["No decisions yet. Log one with `/decision <text>`."]
    return _reply(esc, f"*Decision log of {esc.ref}* ({len(decisions)} entries)", lines)


def _esc_line(esc: Escalation) -> str:
    flags = (" :lock:" if esc.restricted else "") + (" :warning:" if esc.graphic else "")
    where = f" <#{esc.channel_id}>" if esc.channel_id else ""
    return (
        f"*{esc.ref}* [{esc.severity}] {escape(truncate(esc.title, 120))} — {esc.status}, "
        f"owner {_mention(esc.owner)}{flags}{where}"
    )


def listing_reply(listing: Listing) -> tuple[str, list[dict[str, Any]]]:
    """Return `/esc list`."""
    lines = [_esc_line(e) for e in listing.escalations] or ["Nothing here."]
    return _reply(None, f"*Escalations ({listing.scope})*: {len(listing.escalations)}", lines)


def stats_reply(stats: Stats) -> tuple[str, list[dict[str, Any]]]:
    """Return `/esc stats`."""

    def counts(values: dict[str, int]) -> str:
        return ", ".join(f"{escape(k)} {v}" for k, v in values.items()) or "—"

    lines = [
        f"*Raised:* {stats.total} · *open:* {stats.open} · *resolved:* {stats.resolved}",
        f"*By severity:* {counts(stats.by_severity)}",
        f"*By category:* {counts(stats.by_category)}",
        f"*Median time to ack:* {_span(stats.median_ack_s)} · "
        f"*to resolve:* {_span(stats.median_resolve_s)}",
        f"*Ack SLA breached:* {stats.sla_breached}",
        f"*Deadlines breached:* {stats.deadlines_breached} of {stats.deadlines}"
        + (
            f" · by category: {counts(stats.deadline_breaches_by_category)}"
            f" · by region: {counts(stats.deadline_breaches_by_region)}"
            if stats.deadlines_breached
            else ""
        ),
        f"*Decisions logged:* {stats.decisions}",
        f"*Follow-ups:* {counts(stats.followups)}",
    ]
    return _reply(None, f"*Escalation trends, last {stats.days} days*", lines)
