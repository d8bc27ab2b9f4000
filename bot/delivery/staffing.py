"""Staffing a raised escalation in Slack: create its channel, invite the routed
stakeholders and the person on call, post and pin the card (outbox handlers).

Each step records what it did, so a retry after a crash or a Slack error resumes where the
last attempt stopped instead of creating a second channel or posting a second card.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import blocks
from bot.delivery.jobs import Job
from bot.delivery.posts import post_once, record_invites
from bot.parsing.escalate import EscalationDraft
from bot.services import Services
from bot.slack import InviteResult, SlackError
from bot.text import slugify
from bot.usecases.escalations import raise_escalation
from storage.models import Escalation, Participant

log = logging.getLogger(__name__)
NAME_LIMIT = 80


def channel_name(number: int, title: str, restricted: bool, attempt: int = 0) -> str:
    """Return `esc-<n>-<slug>` (or `esc-<n>-restricted`), with `-<k>` after a name clash."""
    base = f"esc-{number}"
    suffix = f"-{attempt + 1}" if attempt else ""
    slug = "restricted" if restricted else slugify(title, NAME_LIMIT)
    room = NAME_LIMIT - len(base) - len(suffix) - 1
    slug = slug[:room].rstrip("-_")
    return f"{base}-{slug}{suffix}" if slug else f"{base}{suffix}"


def raise_accepted(svc: Services, job: Job) -> None:
    """Record the accepted escalation, then staff it in the same worker."""
    payload = job.payload
    raised = raise_escalation(
        svc,
        EscalationDraft(**payload["draft"]),
        payload["reporter"],
        request_key=job.key,
        response_url=payload.get("response_url"),
        origin_channel=payload.get("origin_channel"),
        origin_ts=payload.get("origin_ts"),
    )
    svc.outbox.run_key(raised.outbox_key)
    for key in raised.then:
        svc.outbox.run_key(key)


def _load(svc: Services, number: int) -> Escalation:
    with svc.db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        if esc is None:
            raise LookupError(f"ESC-{number} does not exist")
        _ = list(esc.participants)  # load before the session closes
        return esc


def _create_channel(svc: Services, esc: Escalation, job: Job) -> None:
    bot = svc.slack.bot_user_id()
    channel: dict[str, Any] | None = None
    for attempt in range(20):
        name = channel_name(esc.id, esc.title, esc.restricted, attempt)
        try:
            channel = svc.slack.create_channel(name, private=esc.restricted)
            break
        except SlackError as exc:
            if exc.error != "name_taken":
                raise
            # An earlier attempt may have created it and died before saving the ID.
            found = svc.slack.find_channel(name, private=esc.restricted) if job.retrying else None
            if found and found.get("creator") == bot and not found.get("is_archived"):
                channel = found
                break
    if channel is None:
        raise SlackError("conversations.create", "name_taken")
    now = svc.clock()
    with svc.db.uow() as uow:
        row = uow.repos.escalations.get(esc.id)
        assert row is not None
        row.channel_id, row.channel_name = channel["id"], channel["name"]
        uow.repos.escalations.add_event(
            esc.id, now, "channel_created", None, channel=channel["id"], name=channel["name"]
        )
        uow.commit()
    esc.channel_id, esc.channel_name = channel["id"], channel["name"]


def _expand_usergroups(svc: Services, esc: Escalation, usergroups: dict[str, str]) -> None:
    known = {p.user_id for p in esc.participants}
    added: list[Participant] = []
    now = svc.clock()
    for usergroup, group in usergroups.items():
        for user in svc.slack.usergroup_members(usergroup):
            if user not in known:
                known.add(user)
                added.append(
                    Participant(
                        escalation_id=esc.id,
                        user_id=user,
                        role="oncall" if group == "oncall" else "stakeholder",
                        group=None if group == "oncall" else group,
                        added_at=now,
                    )
                )
    if added:
        with svc.db.uow() as uow:
            for participant in added:
                uow.repos.escalations.add_participant(participant)
            uow.commit()
        esc.participants.extend(added)


def _invite(svc: Services, esc: Escalation, retrying: bool) -> dict[str, str]:
    assert esc.channel_id
    waiting = [p.user_id for p in esc.participants if p.invited_at is None and not p.invite_error]
    if not waiting:
        return {p.user_id: p.invite_error for p in esc.participants if p.invite_error}
    if retrying:  # an earlier attempt may have invited them and died before saving it
        present = svc.slack.members(esc.channel_id)
        result = InviteResult(invited=[u for u in waiting if u in present])
        missing = [u for u in waiting if u not in present]
        if missing:
            more = svc.slack.invite(esc.channel_id, missing)
            result.invited += more.invited
            result.failed.update(more.failed)
    else:
        result = svc.slack.invite(esc.channel_id, waiting)
    with svc.db.uow() as uow:
        row = record_invites(uow, esc.id, waiting, result, svc.clock())
        uow.commit()
        return {p.user_id: p.invite_error for p in row.participants if p.invite_error}


def _save(svc: Services, number: int, **values: Any) -> None:
    with svc.db.uow() as uow:
        row = uow.repos.escalations.get(number)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        uow.commit()


def _set_up(svc: Services, esc: Escalation, job: Job) -> dict[str, str]:
    """Create, invite, post, pin and announce what is not done yet; return who was skipped."""
    if esc.channel_id is None:
        _create_channel(svc, esc, job)
    assert esc.channel_id
    _expand_usergroups(svc, esc, job.payload.get("usergroups") or {})
    skipped = _invite(svc, esc, job.retrying)
    if esc.card_ts is None:
        with svc.db.uow() as uow:
            steps = uow.repos.escalations.checklist(esc.id)
        text, card = blocks.escalation_card(esc, svc.config, blocks.paging(esc), steps)
        esc.card_ts = post_once(
            svc, esc.channel_id, f"card:{esc.id}", text, card, retrying=job.retrying
        )
        _save(svc, esc.id, card_ts=esc.card_ts)
    if not esc.card_pinned:
        svc.slack.pin(esc.channel_id, esc.card_ts)
        _save(svc, esc.id, card_pinned=True)
    if not esc.restricted and esc.announce_ts is None:
        link = f"https://slack.com/app_redirect?channel={esc.channel_id}"
        text, announce = blocks.announcement(esc, link)
        ts = post_once(
            svc,
            svc.config.team.feed_channel,
            f"announce:{esc.id}",
            text,
            announce,
            retrying=job.retrying,
        )
        _save(svc, esc.id, announce_ts=ts)
    return skipped


def pending_steps(esc: Escalation) -> list[str]:
    """Return, in words, what a new escalation still lacks in Slack."""
    pending = []
    if esc.channel_id is None:
        pending.append("its channel")
    if any(p.invited_at is None and not p.invite_error for p in esc.participants):
        pending.append("the invitations")
    if esc.card_ts is None:
        pending.append("the summary card")
    elif not esc.card_pinned:
        pending.append("pinning the card")
    if not esc.restricted and esc.announce_ts is None:
        pending.append("the feed announcement")
    return pending


def _tell(svc: Services, esc: Escalation, job: Job, text: str, *, in_channel: bool) -> None:
    """Answer the reporter: through the command's response_url, else in the channel or a DM."""
    response_url = job.payload.get("response_url")
    if response_url:
        svc.slack.respond(response_url, text)
    elif in_channel and esc.channel_id:
        svc.slack.ephemeral(esc.channel_id, esc.reporter, text)
    else:
        svc.slack.dm(esc.reporter, text)


def _tell_delayed(svc: Services, number: int, job: Job, failure: Exception) -> None:
    """Tell the reporter once, plainly, what is still pending while Slack fails."""
    key = f"delayed:{number}"
    try:
        with svc.db.uow() as uow:
            if uow.repos.requests.get(key) is not None:
                return
        esc = _load(svc, number)
        pending = pending_steps(esc)
        if not pending:
            return
        error = failure.error if isinstance(failure, SlackError) else type(failure).__name__
        _tell(svc, esc, job, blocks.staffing_delayed(esc, pending, error), in_channel=False)
        with svc.db.uow() as uow:
            uow.repos.requests.claim(key, "staffing_delayed", svc.clock(), escalation=number)
            uow.commit()
    except Exception as exc:  # Slack may fail this too; the next failed attempt tries again
        log.warning("could not tell the reporter of ESC-%d what is pending: %s", number, exc)


def staff(svc: Services, job: Job) -> None:
    """Do what a new escalation still needs in Slack; each step is saved as it is done."""
    esc = _load(svc, int(job.escalation_id or 0))
    try:
        skipped = _set_up(svc, esc, job)
    except (SlackError, OSError) as exc:  # Slack refused or did not answer: retried later
        _tell_delayed(svc, esc.id, job, exc)
        raise
    assert esc.channel_id
    now = svc.clock()
    with svc.db.uow() as uow:
        row = uow.repos.escalations.get(esc.id)
        assert row is not None
        if row.staffed_at is None:
            row.staffed_at = now
            uow.reschedules()
            uow.repos.escalations.add_event(esc.id, now, "staffed", None, skipped=skipped)
        uow.commit()
    svc.outbox.wake(esc.id)  # pages and updates that waited for the channel and its card
    if skipped:
        note = blocks.could_not_add(skipped)
        post_once(svc, esc.channel_id, f"skipped:{esc.id}", note, None, retrying=job.retrying)
    try:
        _tell(svc, esc, job, blocks.staffed_summary(esc, skipped), in_channel=True)
    except (SlackError, OSError) as exc:  # staffed; a lost confirmation is not worth a retry
        log.warning("could not confirm %s to its reporter: %s", esc.ref, exc)
