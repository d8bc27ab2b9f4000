"""The escalation's pinned card and the messages posted in its channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.config import TeamConfig
from bot.text import escape, truncate
from storage.models import ChecklistStep, Deadline, Decision, Escalation, Signoff

if TYPE_CHECKING:
    pass
from bot.blocks.checklist import checklist_note, step_line
from bot.blocks.common import GRAPHIC_WARNING, Action, _mention, _when, button, context, section
from bot.blocks.pings import _who
from bot.blocks.roles import roles_note
from bot.results import CardFacts


def escalation_card(
    esc: Escalation,
    config: TeamConfig,
    paged: Sequence[str] = (),
    checklist: Sequence[ChecklistStep] = (),
    deadlines: Sequence[Deadline] = (),
    roles: Mapping[str, str] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Return the pinned summary card of an escalation: fallback text and blocks.

    `paged` (see `paging`) are mentioned: the card carries the first page into the channel;
    `checklist` is the playbook steps and `deadlines` the clocks it got at creation; `roles`
    who holds which role (the required ones nobody holds are shown as needed).
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
    if deadlines:
        blocks.append(section("\n".join(deadline_line(esc, d) for d in deadlines)))
    if checklist:
        groups = {gid: group.name for gid, group in config.stakeholders.items()}
        lines = [f"*{checklist_note(checklist)}*", *(step_line(s, groups) for s in checklist)]
        blocks.append(section(truncate("\n".join(lines), 2900)))
    required = config.required_roles(esc.severity) if esc.status != "resolved" else []
    held = roles_note(config, roles or {}, required)
    if held:
        blocks.append(section(held))
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


def deadline_line(esc: Escalation, deadline: Deadline) -> str:
    """Return one deadline as the card shows it: due, met or passed unresolved."""
    name = escape(deadline.name)
    if esc.resolved_at is not None and esc.resolved_at <= deadline.due_at:
        return f":white_check_mark: *{name}* met (due {_when(deadline.due_at)})"
    if esc.resolved_at is not None or deadline.breached_at is not None:
        return f":rotating_light: *{name}* passed {_when(deadline.due_at)} unresolved"
    return f":alarm_clock: *{name}* due {_when(deadline.due_at)}"


def live_card(
    esc: Escalation, config: TeamConfig, facts: CardFacts
) -> tuple[str, list[dict[str, Any]]]:
    """Return the pinned card with what has happened since: ack, last update, log, sign-offs."""
    text, card = escalation_card(
        esc, config, facts.paging, facts.checklist, facts.deadlines, roles=facts.roles
    )
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
