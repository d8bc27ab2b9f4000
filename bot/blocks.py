"""Pure Block Kit builders: data in, dicts out. User text is escaped here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import TeamConfig
from bot.text import escape, truncate
from storage.models import Escalation, Signoff

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


# -- pings ------------------------------------------------------------------------------------

DIGEST_LIST_LIMIT = 20
BRIEF_LIMIT = 40  # escalations listed in a handoff brief (a message holds 50 blocks)


def local_when(instant: datetime, tz: str) -> str:
    """Return an instant as `Mon 9 Mar 09:00 PDT` in the IANA time zone `tz`."""
    local = instant.astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


def span(seconds: float) -> str:
    """Return a duration as `2d 3h`, `1h 5m` or `4m 30s`."""
    seconds = int(seconds)
    parts = []
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


def page_dm(esc: Escalation, step: int, round_: int) -> tuple[str, list[dict[str, Any]]]:
    """Return the direct message to someone paged, with an Acknowledge button."""
    where = f" in <#{esc.channel_id}>" if esc.channel_id else ""
    text = f":pager: You are paged for {_label(esc)}{where} ({_step(step, round_)})."
    return text, [
        section(text),
        {
            "type": "actions",
            "elements": [button("Acknowledge", Action.ACK, str(esc.id), "primary")],
        },
    ]


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
