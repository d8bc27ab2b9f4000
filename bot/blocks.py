"""Pure Block Kit builders: data in, dicts out. User text is escaped here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.config import TeamConfig
from bot.text import escape, truncate
from storage.models import Decision, Escalation, Signoff

if TYPE_CHECKING:
    from bot.home import Home
    from bot.lifecycle import Listing, Status, Timeline
    from bot.oncall import (
        GapsReport,
        MyShifts,
        NowReport,
        OverrideMade,
        OverridesReport,
        ScheduleReport,
    )
    from bot.reports import Stats

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


def escalation_card(
    esc: Escalation, config: TeamConfig, paged: Sequence[str] = ()
) -> tuple[str, list[dict[str, Any]]]:
    """Return the pinned summary card of an escalation: fallback text and blocks.

    `paged` (see `paging`) are mentioned: the card carries the first page into the channel.
    """
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
    if paged:  # the first page's mention rides on the card: no message of its own
        blocks.append(
            section(f":pager: Paging {_who(paged)} — press *Acknowledge* to stop the paging.")
        )
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


def paging(esc: Escalation) -> list[str]:
    """Return who the escalation pages on call while nobody has acknowledged it (its
    participants must be loaded)."""
    if esc.acknowledged_at is not None or esc.status not in ("open", "reopened"):
        return []
    return [p.user_id for p in esc.participants if p.role == "oncall"]


def announcement(esc: Escalation, link: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the one-line feed announcement of a new (unrestricted) escalation."""
    warn = " :warning: graphic" if esc.graphic else ""
    text = (
        f":rotating_light: *{esc.ref}* [{esc.severity}] {escape(esc.title)} "
        f"— {esc.category}, {esc.region}{warn} — <{link}|join <#{esc.channel_id}>>"
    )
    return text, [section(text)]


def staffed_summary(esc: Escalation, skipped: dict[str, str]) -> str:
    """Return what the reporter is told once the channel is set up."""
    opened = f"*{esc.ref}* is open in <#{esc.channel_id}>."
    return f"{opened} {could_not_add(skipped)}" if skipped else opened


def could_not_add(failed: dict[str, str]) -> str:
    """Return the note naming the users an invite could not add, with Slack's reasons."""
    return "Could not add: " + ", ".join(f"<@{u}> ({e})" for u, e in failed.items()) + "."


def staffing_delayed(esc: Escalation, pending: Sequence[str], error: str) -> str:
    """Return what the reporter is told when Slack fails before the channel is ready."""
    what = ", ".join(pending[:-1]) + (" and " if len(pending) > 1 else "") + pending[-1]
    return (
        f":hourglass_flowing_sand: *{esc.ref}* is saved, but Slack is failing right now "
        f"(`{escape(error)}`), so {what} {'are' if len(pending) > 1 else 'is'} not done yet. "
        "Nothing is lost: I keep retrying and will tell you when the channel is ready."
    )


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


# -- working an escalation ------------------------------------------------------------------


@dataclass
class CardFacts:
    """What the live card shows beyond the escalation row."""

    decisions: int = 0
    open_followups: int = 0
    pending_signoffs: list[str] = field(default_factory=list)
    paging: list[str] = field(default_factory=list)  # see `paging`


def content_warning(
    esc: Escalation, text: str, blocks: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]] | None]:
    """Prefix a channel message of a graphic escalation with the content warning."""
    if not esc.graphic:
        return text, blocks
    if text.startswith(GRAPHIC_WARNING):
        return text, blocks
    warned = [section(GRAPHIC_WARNING), *blocks] if blocks else None
    return f"{GRAPHIC_WARNING}\n{text}", warned


def live_card(
    esc: Escalation, config: TeamConfig, facts: CardFacts
) -> tuple[str, list[dict[str, Any]]]:
    """Return the pinned card with what has happened since: ack, last update, log, sign-offs."""
    text, card = escalation_card(esc, config, facts.paging)
    notes = []
    if esc.acknowledged_at is not None:
        notes.append(
            f"Acknowledged by {_mention(esc.acknowledged_by)} {_when(esc.acknowledged_at)}"
        )
    if esc.last_update_at is not None:
        notes.append(f"Last update {_when(esc.last_update_at)}")
    notes.append(f"Decisions: {facts.decisions}")
    if facts.open_followups:
        notes.append(f"Open follow-ups: {facts.open_followups}")
    if facts.pending_signoffs:
        notes.append("Awaiting sign-off: " + ", ".join(escape(g) for g in facts.pending_signoffs))
    if esc.status == "resolved" and esc.resolved_at is not None:
        notes.append(f"Resolved {_when(esc.resolved_at)}")
    at = next((i for i, b in enumerate(card) if b.get("type") == "actions"), len(card))
    card.insert(at, context(" · ".join(notes)))
    return text, card


def _decision_lines(decision: Decision) -> list[str]:
    lines = [f"> {escape(decision.text)}".replace("\n", "\n> ")]
    if decision.rationale:
        lines.append(f"*Rationale:* {escape(decision.rationale)}")
    if decision.policy:
        lines.append(f"*Policy:* {escape(decision.policy)}")
    who = f"*Decided by* {_mention(decision.decided_by)}"
    if decision.consulted:
        who += " · *Consulted:* " + ", ".join(_mention(u) for u in decision.consulted)
    lines.append(who)
    if decision.supersedes:
        lines.append(f"_Supersedes #{decision.supersedes}_")
    return lines


def decision_entry(esc: Escalation, decision: Decision) -> tuple[str, list[dict[str, Any]]]:
    """Return the channel message of a decision log entry: number and hash prefix."""
    tag = f"`{decision.hash[:10]}`"
    head = f":scroll: *Decision #{decision.seq}* in {esc.ref} · {tag}"
    text = f"Decision #{decision.seq} ({decision.hash[:10]}): {escape(decision.text)}"
    body = "\n".join(_decision_lines(decision))
    return truncate(text, 3000), [section(head), section(body)]


def signoff_message(
    esc: Escalation, signoff: Signoff, group_name: str, audience: str
) -> tuple[str, list[dict[str, Any]]]:
    """Return a sign-off request: Approve / Reject while pending, the outcome after."""
    name = escape(group_name)
    question = f": {escape(signoff.question)}" if signoff.question else ""
    if signoff.status == "pending":
        text = f":ballot_box_with_check: Sign-off requested from *{name}*{question}"
        out = [
            section(f"{text}\n{audience}".rstrip()),
            context(f"Asked by {_mention(signoff.requested_by)} {_when(signoff.requested_at)}"),
            {
                "type": "actions",
                "block_id": f"signoff-{signoff.id}",
                "elements": [
                    button("Approve", Action.SIGNOFF_APPROVE, str(signoff.id), "primary"),
                    button("Reject", Action.SIGNOFF_REJECT, str(signoff.id), "danger"),
                ],
            },
        ]
        return text, out
    mark = ":white_check_mark:" if signoff.status == "approved" else ":x:"
    text = f"{mark} *{name}* {signoff.status}{question}"
    out = [
        section(text),
        context(
            f"Asked by {_mention(signoff.requested_by)} {_when(signoff.requested_at)} · "
            f"answered by {_mention(signoff.answered_by)} {_when(signoff.answered_at)}"
        ),
    ]
    return text, out


def invite_note(
    actor: str | None,
    invited: Sequence[str],
    failed: dict[str, str],
    already: Sequence[str] = (),
) -> str:
    """Return the channel note after an invite: who was really added, who was already in
    (of those named), who could not be added ('' when there is nothing to say)."""
    parts = []
    if invited:
        by = f" by {_mention(actor)}" if actor else ""
        parts.append(f":wave: Added{by}: " + ", ".join(_mention(u) for u in invited) + ".")
    if already:
        parts.append("Already in the channel: " + ", ".join(_mention(u) for u in already) + ".")
    if failed:
        parts.append(could_not_add(failed))
    return " ".join(parts)


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


def _event_line(kind: str, detail: dict[str, Any]) -> str:
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
    if kind in ("followup_added", "followup_done"):
        what = "done" if kind == "followup_done" else f"added ({detail.get('followup_kind')})"
        return f"follow-up #{detail.get('followup')} {what}"
    return kind.replace("_", " ")


def timeline_reply(timeline: Timeline) -> tuple[str, list[dict[str, Any]]]:
    """Return `/esc timeline`: every event with its time and actor."""
    esc = timeline.esc
    lines = [
        f"{_when(e.at)} · {_mention(e.actor) if e.actor else 'bot'} · "
        + _event_line(e.kind, e.detail)
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
        f"*Decisions logged:* {stats.decisions}",
        f"*Follow-ups:* {counts(stats.followups)}",
    ]
    return _reply(None, f"*Escalation trends, last {stats.days} days*", lines)


def home_view(home: Home) -> dict[str, Any]:
    """Return the App Home: on call now, my next shifts, my open escalations."""
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "On call now"}}
    ]
    oncall = [
        f"*{escape(o.rotation)}*: {_mention(o.user)} until {_when(o.until)}"
        if o.user
        else f"*{escape(o.rotation)}*: :warning: nobody (gap)"
        for o in home.oncall
    ]
    out.extend(_sections(oncall or ["No rotations configured."], limit=10))
    out.append({"type": "header", "text": {"type": "plain_text", "text": "My next shifts"}})
    shifts = [f"*{escape(s.rotation)}*: {_when(s.start)} → {_when(s.end)}" for s in home.shifts]
    out.extend(_sections(shifts or ["No shifts in the next 14 days."], limit=10))
    out.append({"type": "header", "text": {"type": "plain_text", "text": "My open escalations"}})
    mine = [_esc_line(e) for e in home.escalations]
    out.extend(_sections(mine or ["None."], limit=40))
    out.append(context(f"Updated {_when(home.now)}"))
    return {"type": "home", "blocks": out}


# -- pings ------------------------------------------------------------------------------------

DIGEST_LIST_LIMIT = 20
BRIEF_LIMIT = 40  # escalations listed in a handoff brief (a message holds 50 blocks)


def local_when(instant: datetime, tz: str, *, year: bool = False) -> str:
    """Return an instant as `Mon 9 Mar 09:00 PDT` (with `year`, `Mon 9 Mar 2026 09:00 PDT`)
    in the IANA time zone `tz`."""
    local = instant.astimezone(ZoneInfo(tz))
    month = f"{local:%b %Y}" if year else f"{local:%b}"
    return f"{local:%a} {local.day} {month} {local:%H:%M} {local.tzname()}"


def span(seconds: float) -> str:
    """Return a duration as `2d 3h`, `1h 5m` or `4m 30s`."""
    seconds = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def _label(esc: Escalation) -> str:
    """Return `*ESC-n* [SEVx] title`, without the title when the escalation is restricted."""
    title = ":lock: _restricted_" if esc.restricted else escape(truncate(esc.title, 150))
    return f"*{esc.ref}* [{esc.severity}] {title}"


def _who(users: Sequence[str], usergroups: Sequence[str] = ()) -> str:
    return " ".join([f"<@{u}>" for u in users] + [f"<!subteam^{g}>" for g in usergroups])


def _step(step: int, round_: int) -> str:
    return f"step {step + 1}" + (f", round {round_ + 1}" if round_ else "")


def page_message(
    esc: Escalation, users: Sequence[str], usergroups: Sequence[str], step: int, round_: int
) -> tuple[str, list[dict[str, Any]]]:
    """Return the in-channel page mentioning everyone it pages, with an Acknowledge button."""
    who = _who(users, usergroups) or "_Nobody is on call for this step._"
    text = (
        f":pager: {who} — you are paged for *{esc.ref}* [{esc.severity}] "
        f"({_step(step, round_)}). Press *Acknowledge* to stop the paging."
    )
    return text, [
        section(text),
        {
            "type": "actions",
            "elements": [button("Acknowledge", Action.ACK, str(esc.id), "primary")],
        },
    ]


def page_dm(
    esc: Escalation, step: int, round_: int, last: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """Return the direct message to someone paged: Acknowledge, and Escalate now (page the
    next step at once) unless this is the policy's last page."""
    where = f" in <#{esc.channel_id}>" if esc.channel_id else ""
    text = f":pager: You are paged for {_label(esc)}{where} ({_step(step, round_)})."
    elements = [button("Acknowledge", Action.ACK, str(esc.id), "primary")]
    if not last:
        elements.append(
            button("Escalate now", Action.ESCALATE_NOW, f"{esc.id}:{round_}:{step}", "danger")
        )
    return text, [section(text), {"type": "actions", "elements": elements}]


def shift_start_reminder(
    rotation: str,
    start: datetime,
    end: datetime,
    tz: str,
    inherit: Sequence[Escalation],
    outgoing: str | None,
) -> tuple[str, list[dict[str, Any]]]:
    """Return the DM before a shift: the window in the person's time zone, what they inherit."""
    text = (
        f":alarm_clock: Your `{rotation}` on-call shift: *{local_when(start, tz)}* → "
        f"*{local_when(end, tz)}* ({tz})."
    )
    if inherit:
        lines = "\n".join(f"• {_label(e)}" for e in inherit[:BRIEF_LIMIT])
        more = f"\n…and {len(inherit) - BRIEF_LIMIT} more." if len(inherit) > BRIEF_LIMIT else ""
        body = f"You will inherit {len(inherit)} open from <@{outgoing}>:\n{lines}{more}"
    else:
        body = "No open escalations to inherit."
    return f"{text} {body}", [section(text), section(body)]


def handoff_notice(rotation: str, outgoing: str | None, incoming: str) -> str:
    """Return the team-channel line `<rotation>: @outgoing → @incoming`."""
    before = f"<@{outgoing}>" if outgoing else "_nobody_"
    return f":arrows_counterclockwise: `{rotation}`: {before} → <@{incoming}>"


def handoff_brief(
    rotation: str, outgoing: str | None, escalations: Sequence[Escalation]
) -> tuple[str, list[dict[str, Any]]]:
    """Return the DM to whoever comes on call: the outgoing one's open escalations to take."""
    before = f"<@{outgoing}>" if outgoing else "nobody"
    if not escalations:
        text = f":handshake: You are on call for `{rotation}` now. Nothing open from {before}."
        return text, [section(text)]
    text = (
        f":handshake: You are on call for `{rotation}` now. {len(escalations)} open "
        f"escalation(s) owned by {before}:"
    )
    out: list[dict[str, Any]] = [section(text)]
    for esc in escalations[:BRIEF_LIMIT]:
        block = section(f"{_label(esc)} — {esc.status}")
        block["accessory"] = button("Take ownership", Action.TAKE_OWNERSHIP, str(esc.id))
        out.append(block)
    if len(escalations) > BRIEF_LIMIT:
        out.append(context(f"…and {len(escalations) - BRIEF_LIMIT} more: `/esc list open`."))
    return text, out


def update_reminder(esc: Escalation, since: datetime, now: datetime) -> str:
    """Return the in-channel nudge to the owner to post a status update."""
    owner = f"<@{esc.owner}>" if esc.owner else "Owner"
    return (
        f":memo: {owner} — no status update on *{esc.ref}* for "
        f"{span((now - since).total_seconds())}. Post one with `/esc update <text>`."
    )


def signoff_reminder(
    esc: Escalation,
    signoff: Signoff,
    group: str,
    users: Sequence[str],
    usergroups: Sequence[str],
) -> str:
    """Return the in-channel re-ping of a group whose sign-off is still pending."""
    who = _who(users, usergroups) or f"*{escape(group)}*"
    question = f" — “{escape(truncate(signoff.question, 500))}”" if signoff.question else ""
    return (
        f":hourglass_flowing_sand: {who} — your sign-off ({escape(group)}) on *{esc.ref}*, "
        f"asked by <@{signoff.requested_by}>, is still pending{question}. "
        "Approve or Reject on the request above."
    )


def coverage_gaps(gaps: Sequence[tuple[str, datetime, datetime]], tz: str, days: int) -> str:
    """Return the team-channel warning listing windows where a rotation has nobody on call."""
    lines = [
        f"• `{rotation}`: {local_when(start, tz)} → {local_when(end, tz)} "
        f"({span((end - start).total_seconds())})"
        for rotation, start, end in gaps[:30]
    ]
    if len(gaps) > 30:
        lines.append(f"…and {len(gaps) - 30} more: `/oncall gaps {days}`.")
    return f":warning: *Coverage gaps* in the next {days} days — nobody is on call:\n" + "\n".join(
        lines
    )


def _tally(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "none"


def weekly_digest(week: str, stats: dict[str, Any], tz: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the weekly digest: counts, medians, SLA breaches and open follow-ups.

    Restricted escalations appear only in the numbers, never by name.
    """
    start = datetime.fromisoformat(stats["start"])
    end = datetime.fromisoformat(stats["end"])
    ack = stats.get("median_ack_s")
    resolve = stats.get("median_resolve_s")
    restricted = f" ({stats['restricted']} restricted)" if stats.get("restricted") else ""
    text = f":bar_chart: Weekly digest {week}: {stats['total']} escalation(s) raised{restricted}."
    breaches = stats.get("breaches") or []
    hidden = stats.get("restricted_breaches") or 0
    breach_lines = [
        f"• *ESC-{b['id']}* [{b['severity']}] {escape(truncate(b['title'], 120))}"
        for b in breaches[:DIGEST_LIST_LIMIT]
    ]
    if len(breaches) > DIGEST_LIST_LIMIT:
        breach_lines.append(f"…and {len(breaches) - DIGEST_LIST_LIMIT} more.")
    if hidden:
        breach_lines.append(f"• {hidden} restricted escalation(s)")
    total_breaches = len(breaches) + hidden
    body = [
        f"*By severity:* {_tally(stats.get('by_severity') or {})}",
        f"*By category:* {_tally(stats.get('by_category') or {})}",
        f"*Resolved:* {stats.get('resolved', 0)} · *still open:* {stats.get('still_open', 0)}",
        f"*Median time to acknowledge:* {span(ack) if ack is not None else '—'} · "
        f"*to resolve:* {span(resolve) if resolve is not None else '—'}",
        f"*SLA breaches:* {total_breaches}"
        + ("\n" + "\n".join(breach_lines) if breaches or hidden else ""),
        f"*Open follow-ups:* {_tally(stats.get('open_followups') or {})}",
    ]
    return text, [
        {"type": "header", "text": {"type": "plain_text", "text": f"Weekly digest {week}"}},
        context(f"{local_when(start, tz)} → {local_when(end, tz)}"),
        section(text),
        section("\n".join(body)),
    ]


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
