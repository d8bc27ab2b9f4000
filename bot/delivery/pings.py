"""Outbox handlers that send pings: pages in the channel and by DM, shift-start
reminders, handoffs and their briefs, update and sign-off reminders, coverage gaps, the
weekly digest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot import blocks
from bot.blocks.pings import PAGES_PER_DM
from bot.delivery.jobs import Job, Later, NotReady, Permanent
from bot.delivery.posts import post_once, record_invites
from bot.kinds import (
    CARD_EVENT,
    OPEN,
    OUT_PAGE_DM,
    PAGE,
)
from bot.pings.plan import STAFF_GRACE, _last_page, _still_paging, instant, seconds
from bot.pings.stage import _item, missing_roles
from bot.services import Services
from bot.slack import SlackError
from storage.models import Deadline, Escalation, Signoff

log = logging.getLogger(__name__)
# A page DM waits this long for the channel it links to; then it goes without the link (the
# page is what matters: in a burst, Slack lets 20 channels a minute be created).
PAGE_DM_GRACE = timedelta(seconds=2)
# Slack's answers to a direct message that no retry can change.
UNREACHABLE = frozenset(
    {"user_not_found", "channel_not_found", "user_disabled", "cannot_dm_bot", "account_inactive"}
)


# -- sending (outbox handlers) ----------------------------------------------------------------


def _escalation(svc: Services, number: int) -> Escalation | None:
    with svc.db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        if esc is not None:
            _ = list(esc.participants)
        return esc


def _dm(
    svc: Services,
    user: str,
    key: str,
    text: str,
    dm_blocks: list[dict[str, Any]] | None,
    *,
    retrying: bool = False,
) -> None:
    """DM `user` once: tagged like post_once's messages, so every ping in Slack names its
    ledger key, and a retry first looks for the DM an earlier attempt may have sent."""
    try:
        if retrying:
            channel = svc.slack.open_dm(user)
            if svc.slack.find_message(channel, CARD_EVENT, key):
                return  # sent before the process could record it
        svc.slack.post(
            user,
            text,
            blocks=dm_blocks,
            metadata={"event_type": CARD_EVENT, "event_payload": {"key": key}},
        )
    except SlackError as exc:
        if exc.error in UNREACHABLE:
            raise Permanent(f"cannot message {user}: {exc.error}") from None
        raise


def send_page(svc: Services, job: Job) -> None:
    """Invite the paged people missing from the channel and mention them there once."""
    esc = _escalation(svc, int(job.escalation_id or 0))
    if esc is None or not _still_paging(esc):
        return  # acknowledged before the page went out
    if esc.channel_id is None or (
        esc.staffed_at is None and svc.clock() < esc.created_at + STAFF_GRACE
    ):
        raise NotReady(f"{esc.ref} is not staffed yet")  # the card goes first
    users = list(job.payload.get("users") or [])
    usergroups = list(job.payload.get("usergroups") or [])
    if job.payload["round"] == 0 and job.payload["step"] == 0:
        return  # staffing invites them, and the pinned card carries the first page's mention
    invited = {p.user_id for p in esc.participants if p.invited_at is not None}
    missing = [u for u in users if u not in invited]
    if missing:
        result = svc.slack.invite(esc.channel_id, missing)
        with svc.db.uow() as uow:
            record_invites(uow, esc.id, missing, result, svc.clock())
            uow.commit()
    text, page_blocks = blocks.page_message(
        esc, users, usergroups, job.payload["step"], job.payload["round"]
    )
    post_once(svc, esc.channel_id, job.key, text, page_blocks, retrying=job.retrying)


def _page_ready(svc: Services, esc: Escalation | None) -> bool | None:
    """Return None when the page is moot, False while its DM waits for the channel."""
    if esc is None or not _still_paging(esc):
        return None
    return not (esc.channel_id is None and svc.clock() < esc.created_at + PAGE_DM_GRACE)


def send_page_dm(svc: Services, job: Job) -> None:
    """DM a paged person (or every member of a paged user group).

    A person paged many times at once (a burst of escalations) gets their pages in a few DMs
    rather than one each: Slack lets about one message a second into a DM. When the DM it
    sends leaves none to spare, the sender takes the person's other pending page DMs with its
    own (up to PAGES_PER_DM) and records them done with it; when the person's DMs are at
    Slack's limit it puts itself off instead of waiting on a thread, and the next attempt
    carries whatever fell due meanwhile.
    """
    esc = _escalation(svc, int(job.escalation_id or 0))
    ready = _page_ready(svc, esc)
    if ready is None or esc is None:
        return
    if not ready:
        # The DM links to the channel if it can; at the grace's end it goes without.
        grace = (esc.created_at + PAGE_DM_GRACE - svc.clock()).total_seconds()
        raise NotReady(f"{esc.ref} has no channel yet", within=grace)
    step, round_ = job.payload["step"], job.payload["round"]
    user = job.payload.get("user")
    if user:
        _page_person(svc, job, esc, user)
        return
    # A user group fans out to one item per member, so a retry never DMs anyone twice.
    members = svc.slack.usergroup_members(job.payload["usergroup"])
    common = {"round": round_, "step": step}
    with svc.db.uow() as uow:
        uow.repos.outbox.add_many(  # a member's item staged before stays as it is
            [_item(f"{job.key}:{u}", OUT_PAGE_DM, esc.id, user=u, **common) for u in members],
            svc.clock(),
        )
        uow.commit()
    for member in members:
        svc.outbox.submit(f"{job.key}:{member}")


def _page_person(svc: Services, job: Job, esc: Escalation, user: str) -> None:
    now = svc.clock().timestamp()
    wait = svc.slack.pacer.reserve(user, now)
    if wait > 0:
        # One put-off page comes back when the next DM may go and takes the others along;
        # the others come back a send later, in case it could not take them all.
        booked = svc.slack.pacer.book(user, now + wait)
        if booked > now + wait - 1e-6:
            raise Later(wait, f"DMs to {user} are at Slack's limit")
        raise Later(booked - now + 1.0 / svc.slack.pacer.rate, f"behind {user}'s next DM")
    taken: list[Job] = []
    try:
        if not svc.slack.pacer.spare(user):  # the next one would wait: take them along
            taken = svc.outbox.take_more(f"{PAGE}:%:dm:{user}", PAGES_PER_DM - 1, exclude=[job.id])
        pages, moot, waiting = [(job, esc)], [], []
        for other in taken:
            other_esc = _escalation(svc, int(other.escalation_id or 0))
            ready = _page_ready(svc, other_esc)
            if ready is None or other_esc is None:
                moot.append(other)
            elif not ready:
                waiting.append(other)
            else:
                pages.append((other, other_esc))
        svc.outbox.settle(waiting, done=False, spent=False)  # each goes on its own later
        taken = [j for j in taken if j not in waiting]
        if any(j.retrying for j, _ in pages):  # first look for what an earlier try sent
            channel = svc.slack.open_dm(user)
            sent = svc.slack.found_keys(channel, CARD_EVENT, [j.key for j, _ in pages])
            pages = [(j, e) for j, e in pages if j.key not in sent]
        if not pages:
            svc.slack.pacer.refund(user)
        else:
            text, dm_blocks = blocks.page_dms(
                [
                    (
                        e,
                        j.payload["step"],
                        j.payload["round"],
                        _last_page(svc, j.payload["round"], j.payload["step"]),
                    )
                    for j, e in pages
                ]
            )
            tag: dict[str, Any] = {"key": pages[0][0].key}
            if len(pages) > 1:
                tag["keys"] = [j.key for j, _ in pages]
            svc.slack.post(
                user,
                text,
                blocks=dm_blocks,
                metadata={"event_type": CARD_EVENT, "event_payload": tag},
            )
    except BaseException as exc:
        svc.outbox.settle(taken, done=False)  # each is retried, and looks before sending
        if isinstance(exc, SlackError) and exc.error in UNREACHABLE:
            raise Permanent(f"cannot message {user}: {exc.error}") from None
        raise
    svc.outbox.settle(taken, done=True)


def _open_escalations(
    svc: Services, numbers: Sequence[int], owner: str | None, viewer: str
) -> list[Any]:
    """Return those the owner still has open that the viewer may see (the policy's say)."""
    if not numbers or owner is None:
        return []
    with svc.db.uow() as uow:
        return svc.policy.visible(uow.repos.pings.still_owned(numbers, owner, OPEN), viewer)


def send_shift_start(svc: Services, job: Job) -> None:
    """DM the incoming person: rotation, shift window in their time zone, what they inherit."""
    p = job.payload
    rotation_tz = svc.config.rotations[p["rotation"]].timezone
    tz = svc.slack.user_timezone(p["user"], default=rotation_tz)
    inherit = _open_escalations(svc, p.get("escalations") or [], p.get("outgoing"), p["user"])
    text, dm_blocks = blocks.shift_start_reminder(
        p["rotation"],
        datetime.fromisoformat(p["start"]),
        datetime.fromisoformat(p["end"]),
        tz,
        inherit,
        p.get("outgoing"),
    )
    _dm(svc, p["user"], job.key, text, dm_blocks, retrying=job.retrying)


def send_handoff(svc: Services, job: Job) -> None:
    """Post `<rotation>: @outgoing → @incoming` to the team channel."""
    p = job.payload
    text = blocks.handoff_notice(p["rotation"], p.get("outgoing"), p["incoming"])
    post_once(svc, svc.config.team.channel, job.key, text, None, retrying=job.retrying)


def send_handoff_brief(svc: Services, job: Job) -> None:
    """DM the incoming person the outgoing one's open escalations, each with Take ownership."""
    p = job.payload
    escalations = _open_escalations(
        svc, p.get("escalations") or [], p.get("outgoing"), p["incoming"]
    )
    text, dm_blocks = blocks.handoff_brief(p["rotation"], p.get("outgoing"), escalations)
    _dm(svc, p["incoming"], job.key, text, dm_blocks, retrying=job.retrying)


def send_update_reminder(svc: Services, job: Job) -> None:
    """Remind the owner in the channel to post a status update."""
    esc = _escalation(svc, int(job.escalation_id or 0))
    if esc is None or esc.status not in OPEN:
        return
    if seconds(esc.last_update_at or esc.created_at) != job.payload["since"]:
        return  # updated after the reminder was claimed
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    since = instant(job.payload["since"])
    text = blocks.update_reminder(esc, since, svc.clock())
    post_once(svc, esc.channel_id, job.key, text, None, retrying=job.retrying)


def send_role_reminder(svc: Services, job: Job) -> None:
    """Remind the owner in the channel that a required role is still empty."""
    with svc.db.uow() as uow:
        esc = uow.repos.escalations.get(int(job.escalation_id or 0))
        if esc is None or esc.status not in OPEN:
            return
        missing = missing_roles(svc, uow, esc)
    if not missing:
        return  # filled after the reminder was claimed
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    since = instant(job.payload["since"])
    text = blocks.role_reminder(esc, svc.config, missing, since, svc.clock())
    post_once(svc, esc.channel_id, job.key, text, None, retrying=job.retrying)


def send_signoff_reminder(svc: Services, job: Job) -> None:
    """Re-ping the group whose sign-off is still pending, in the escalation's channel."""
    with svc.db.uow() as uow:
        signoff = uow.session.get(Signoff, job.payload["signoff"])
        esc = uow.repos.escalations.get(int(job.escalation_id or 0))
        if signoff is None or esc is None or signoff.status != "pending":
            return
        target = None
        if signoff.group in svc.config.stakeholders:
            target = svc.oncall.target(uow.repos.overrides, f"group:{signoff.group}", svc.clock())
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    group = svc.config.stakeholders.get(signoff.group)
    text = blocks.signoff_reminder(
        esc,
        signoff,
        group.name if group else signoff.group,
        target.users if target else (),
        target.usergroups if target else (),
    )
    post_once(svc, esc.channel_id, job.key, text, None, retrying=job.retrying)


def _deadline(svc: Services, job: Job) -> tuple[Escalation, Deadline] | None:
    """Return the escalation and deadline of a deadline ping, or None once resolved."""
    with svc.db.uow() as uow:
        deadline = uow.session.get(Deadline, job.payload["deadline"])
        esc = uow.repos.escalations.get(int(job.escalation_id or 0))
        if deadline is None or esc is None or esc.status not in OPEN:
            return None
        return esc, deadline


def send_deadline_reminder(svc: Services, job: Job) -> None:
    """Remind the owner in the channel that a deadline is coming."""
    found = _deadline(svc, job)
    if found is None:
        return
    esc, deadline = found
    now = svc.clock()
    if now >= deadline.due_at:
        return  # too late to remind: the breach page says it
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    text = blocks.deadline_reminder(esc, deadline.name, deadline.due_at, now)
    post_once(svc, esc.channel_id, job.key, text, None, retrying=job.retrying)


def send_deadline_breach(svc: Services, job: Job) -> None:
    """Invite the paged people missing from the channel and page them there once."""
    found = _deadline(svc, job)
    if found is None:
        return  # resolved before the page went out
    esc, deadline = found
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    users = list(job.payload.get("users") or [])
    usergroups = list(job.payload.get("usergroups") or [])
    with svc.db.uow() as uow:
        held = uow.repos.escalations.get(esc.id)
        invited = {p.user_id for p in held.participants if p.invited_at} if held else set()
    missing = [u for u in users if u not in invited]
    if missing:
        result = svc.slack.invite(esc.channel_id, missing)
        with svc.db.uow() as uow:
            record_invites(uow, esc.id, missing, result, svc.clock())
            uow.commit()
    text = blocks.deadline_breach(esc, deadline.name, deadline.due_at, users, usergroups)
    post_once(svc, esc.channel_id, job.key, text, None, retrying=job.retrying)


def send_deadline_dm(svc: Services, job: Job) -> None:
    """DM someone paged because a deadline passed unresolved."""
    found = _deadline(svc, job)
    if found is None:
        return
    esc, deadline = found
    text = blocks.deadline_dm(esc, deadline.name, deadline.due_at)
    _dm(svc, job.payload["user"], job.key, text, None, retrying=job.retrying)


def send_gaps(svc: Services, job: Job) -> None:
    """Warn the team channel of the coverage gaps found."""
    gaps = [
        (g["rotation"], datetime.fromisoformat(g["start"]), datetime.fromisoformat(g["end"]))
        for g in job.payload["gaps"]
    ]
    text = blocks.coverage_gaps(gaps, svc.config.team.timezone, job.payload["days"])
    post_once(svc, svc.config.team.channel, job.key, text, None, retrying=job.retrying)


def send_digest(svc: Services, job: Job) -> None:
    """Post the weekly digest to the team channel."""
    text, digest_blocks = blocks.weekly_digest(
        job.payload["week"], job.payload["stats"], svc.config.team.timezone
    )
    post_once(svc, svc.config.team.channel, job.key, text, digest_blocks, retrying=job.retrying)
