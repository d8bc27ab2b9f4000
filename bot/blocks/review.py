"""The review document: one set of facts, rendered as JSON, Markdown or a Slack message."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

from bot.blocks.checklist import step_line
from bot.blocks.common import _mention, _when, context, section
from bot.blocks.pings import span
from bot.blocks.replies import event_line
from bot.blocks.roles import role_lines
from bot.config import TeamConfig
from bot.results import Review
from bot.text import escape, truncate
from storage.models import Deadline, Escalation

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")
_DATE = re.compile(r"<!date\^\d+\^[^|]*\|([^>]*)>")
TIMELINE_LIMIT = 200


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _after(review: Review, at: datetime | None) -> int | None:
    return None if at is None else int((at - review.esc.created_at).total_seconds())


def _sla(review: Review) -> str:
    esc = review.esc
    if esc.acknowledged_at is not None:
        return "met" if esc.acknowledged_at <= esc.ack_deadline else "missed"
    return "missed" if review.now > esc.ack_deadline else "pending"


def _deadline(review: Review, deadline: Deadline) -> str:
    if deadline.breached(review.esc.resolved_at, review.now):
        return "missed"
    return "met" if review.esc.resolved_at is not None else "pending"


def review_data(review: Review, config: TeamConfig) -> dict[str, Any]:
    """Return the review as plain data (the JSON format)."""
    esc = review.esc
    groups = {gid: g.name for gid, g in config.stakeholders.items()}
    return {
        "ref": esc.ref,
        "title": esc.title,
        "summary": {
            "severity": esc.severity,
            "category": esc.category,
            "policy_area": esc.policy_area,
            "region": esc.region,
            "status": esc.status,
            "restricted": esc.restricted,
            "graphic": esc.graphic,
            "reporter": esc.reporter,
            "owner": esc.owner,
            "created_at": _iso(esc.created_at),
            "resolved_at": _iso(esc.resolved_at),
            "resolution": esc.resolution,
            "description": esc.description,
        },
        "times": {
            "to_acknowledge_s": _after(review, esc.acknowledged_at),
            "to_first_stakeholder_response_s": _after(review, esc.first_response_at),
            "to_resolve_s": _after(review, esc.resolved_at),
        },
        "sla": {
            "acknowledge_within_s": review.ack_within_s,
            "ack_deadline": _iso(esc.ack_deadline),
            "outcome": _sla(review),
        },
        "deadlines": [
            {
                "name": d.name,
                "due_at": _iso(d.due_at),
                "remind_at": _iso(d.remind_at),
                "outcome": _deadline(review, d),
            }
            for d in review.deadlines
        ],
        "roles": [
            {
                "role": rid,
                "name": config.roles[rid].name if rid in config.roles else rid,
                "holder": user,
            }
            for rid, user in review.roles.items()
        ],
        "checklist": [
            {
                "id": s.step_id,
                "text": s.text,
                "required": s.required,
                "signoff": groups.get(s.signoff, s.signoff) if s.signoff else None,
                "done_at": _iso(s.done_at),
                "done_by": s.done_by,
            }
            for s in review.checklist
        ],
        "timeline": [
            {
                "at": _iso(e.at),
                "actor": e.actor,
                "kind": e.kind,
                "what": _plain(event_line(e.kind, e.detail)),
            }
            for e in review.timeline
        ],
        "decisions": [
            {
                "seq": d.seq,
                "hash": d.hash[:10],
                "text": d.text,
                "rationale": d.rationale,
                "policy": d.policy,
                "decided_by": d.decided_by,
                "supersedes": d.supersedes,
                "created_at": _iso(d.created_at),
            }
            for d in review.decisions
        ],
        "signoffs": [
            {
                "group": groups.get(s.group, s.group),
                "question": s.question,
                "status": s.status,
                "requested_by": s.requested_by,
                "answered_by": s.answered_by,
                "requested_at": _iso(s.requested_at),
                "answered_at": _iso(s.answered_at),
            }
            for s in review.signoffs
        ],
        "followups": [
            {"id": f.id, "kind": f.kind, "text": f.text, "owner": f.owner, "status": f.status}
            for f in review.followups
        ],
        "linked": [
            {
                "id": other.ref,
                "how": how,
                "restricted": other.restricted,
                "title": None if other.restricted else other.title,
            }
            for how, other in review.linked
        ],
    }


def _plain(mrkdwn: str) -> str:
    """Return Slack mrkdwn as plain text: mentions as @U…, dates as their fallback."""
    text = _MENTION.sub(r"@\1", mrkdwn)
    return html.unescape(_DATE.sub(r"\1", text))


def _markdown(mrkdwn: str) -> str:
    text = _plain(mrkdwn)
    return text.replace(":white_check_mark:", "[x]").replace(":white_large_square:", "[ ]")


def _took(seconds: int | None) -> str:
    return "—" if seconds is None else span(seconds)


def _lines(review: Review, config: TeamConfig) -> list[tuple[str, list[str]]]:
    """Return the sections of the review as (heading, mrkdwn lines)."""
    esc, data = review.esc, review_data(review, config)
    times, sla = data["times"], data["sla"]
    within = f" (acknowledge within {span(review.ack_within_s)})" if review.ack_within_s else ""
    summary = [
        f"[{esc.severity}] {escape(esc.category)} · {escape(esc.policy_area)} · "
        f"{escape(esc.region)} — {esc.status}"
        + (" · restricted" if esc.restricted else "")
        + (" · graphic" if esc.graphic else ""),
        f"Reporter {_mention(esc.reporter)} · owner {_mention(esc.owner)} · "
        f"raised {_when(esc.created_at)}",
    ]
    if esc.resolution:
        summary.append("Resolution: " + escape(esc.resolution))
    out = [
        ("Summary", summary),
        (
            "Times",
            [
                f"To acknowledge: {_took(times['to_acknowledge_s'])}",
                f"To first stakeholder response: {_took(times['to_first_stakeholder_response_s'])}",
                f"To resolve: {_took(times['to_resolve_s'])}",
            ],
        ),
        (
            "SLA and deadline outcome",
            [f"Acknowledgement SLA {sla['outcome']}{within}"]
            + [
                f"Deadline {escape(row.name)} {d['outcome']} (due {_when(row.due_at)})"
                for row, d in zip(review.deadlines, data["deadlines"], strict=True)
            ],
        ),
    ]
    groups = {gid: g.name for gid, g in config.stakeholders.items()}
    if review.roles:
        out.append(("Roles", role_lines(config, review.roles, [])))
    out.append(("Checklist", [step_line(s, groups) for s in review.checklist] or ["None."]))
    shown = review.timeline[-TIMELINE_LIMIT:]
    timeline = [
        f"{_when(e.at)} · {_mention(e.actor) if e.actor else 'bot'} · "
        + event_line(e.kind, e.detail)
        for e in shown
    ]
    if len(review.timeline) > len(shown):
        timeline.insert(0, f"… {len(review.timeline) - len(shown)} earlier events")
    out.append(("Timeline", timeline))
    out.append(
        (
            "Decisions",
            [
                f"#{d.seq} `{d.hash[:10]}` {_when(d.created_at)} {_mention(d.decided_by)}: "
                + escape(truncate(d.text, 500))
                + (f" (rationale: {escape(truncate(d.rationale, 300))})" if d.rationale else "")
                + (f" (supersedes #{d.supersedes})" if d.supersedes else "")
                for d in review.decisions
            ]
            or ["None."],
        )
    )
    out.append(
        (
            "Sign-offs",
            [
                f"{escape(groups.get(s.group, s.group))}: {s.status}"
                + (f" by {_mention(s.answered_by)}" if s.answered_by else "")
                + (f" — {escape(truncate(s.question, 300))}" if s.question else "")
                for s in review.signoffs
            ]
            or ["None."],
        )
    )
    out.append(
        (
            "Follow-ups",
            [
                f"#{f.id} [{f.kind}] {escape(truncate(f.text, 300))} — {f.status}"
                + (f", owner {_mention(f.owner)}" if f.owner else "")
                for f in review.followups
            ]
            or ["None."],
        )
    )
    out.append(
        ("Linked escalations", [_linked(how, other) for how, other in review.linked] or ["None."])
    )
    return out


_HOW = {"related": "related", "duplicate": "this duplicates", "duplicated_by": "duplicated by"}


def _linked(how: str, other: Escalation) -> str:
    """Name a linked escalation: a restricted one by its ID alone, as everywhere outside it."""
    name = (
        f"{other.ref} (restricted)"
        if other.restricted
        else f"{other.ref} {escape(truncate(other.title, 120))}"
    )
    return f"{_HOW.get(how, how)}: {name}"


def review_markdown(review: Review, config: TeamConfig) -> str:
    """Return the review as a Markdown document."""
    esc = review.esc
    parts = [f"# Review of {esc.ref}: {esc.title}", ""]
    for heading, lines in _lines(review, config):
        parts += [f"## {heading}", ""]
        parts += [f"- {_markdown(line)}" for line in lines]
        parts.append("")
    return "\n".join(parts)


def review_message(review: Review, config: TeamConfig) -> tuple[str, list[dict[str, Any]]]:
    """Return the review as a channel message."""
    esc = review.esc
    head = f":clipboard: *Review of {esc.ref}*: {escape(truncate(esc.title, 150))}"
    out: list[dict[str, Any]] = [section(head)]  # the channel post adds the content warning
    for heading, lines in _lines(review, config):
        chunk = f"*{heading}*"
        for line in lines:
            line = truncate(line, 2800)
            if len(chunk) + len(line) + 1 > 2900:
                out.append(section(chunk))
                chunk = ""
            chunk = f"{chunk}\n{line}" if chunk else line
        out.append(section(chunk))
    if len(out) > 49:
        out = [*out[:48], context("… the rest is in `escbot review`")]
    return f"Review of {esc.ref}", out
