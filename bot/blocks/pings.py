"""Pages, shift-start reminders, handoffs and briefs, reminders, gaps, the weekly digest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.text import escape, truncate
from storage.models import Escalation, Signoff

if TYPE_CHECKING:
    pass
from bot.blocks.common import Action, button, context, section
from bot.text import local_when

# -- pings ------------------------------------------------------------------------------------

DIGEST_LIST_LIMIT = 20
BRIEF_LIMIT = 40  # escalations listed in a handoff brief (a message holds 50 blocks)


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


PAGES_PER_DM = 24  # pages in one direct message: two blocks each and a heading, of 50


def page_dms(
    pages: Sequence[tuple[Escalation, int, int, bool]],
) -> tuple[str, list[dict[str, Any]]]:
    """Return one direct message for several pages of one person, each (escalation, step,
    round, last) with its own Acknowledge and Escalate now; one page reads as `page_dm`."""
    if len(pages) == 1:
        esc, step, round_, last = pages[0]
        return page_dm(esc, step, round_, last=last)
    texts: list[str] = []
    out: list[dict[str, Any]] = []
    for esc, step, round_, last in pages[:PAGES_PER_DM]:
        text, page_blocks = page_dm(esc, step, round_, last=last)
        texts.append(text)
        out.extend(page_blocks)
    head = f":pager: You are paged for {len(texts)} escalations."
    return "\n".join([head, *texts]), [section(head), *out]


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
