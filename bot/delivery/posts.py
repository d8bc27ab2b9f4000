"""Outbox handlers that write an escalation's messages in Slack: the live card, channel
posts, decision entries, sign-off requests and batched invites.

Each item renders from the database when it runs, so a retry or a late run always shows the
newest state; `post_once` tags every message with its outbox key so a retry finds the
message an earlier attempt sent instead of posting it twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bot import blocks, policy, results
from bot.delivery.jobs import Job, NotReady
from bot.kinds import CARD_EVENT
from bot.services import Services
from bot.slack import InviteResult
from bot.usecases.review import collect as collect_review
from storage.db import UnitOfWork
from storage.models import Escalation, Participant

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def _serial(name: str) -> Iterator[None]:
    """Run one render-and-send per message at a time, so the last state always lands last."""
    with _locks_guard:
        lock = _locks.setdefault(name, threading.Lock())
    with lock:
        yield


# -- doing (outbox handlers) -------------------------------------------------------------------


def post_in_channel(
    svc: Services,
    esc: Escalation,
    key: str,
    text: str,
    blocks_: list[dict[str, Any]] | None = None,
    *,
    retrying: bool = False,
) -> str:
    """Post to the escalation's channel, with the content warning when it is graphic."""
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    text, blocks_ = blocks.content_warning(esc, text, blocks_)
    return post_once(svc, esc.channel_id, key, text, blocks_, retrying=retrying)


def update_in_channel(
    svc: Services, esc: Escalation, ts: str, text: str, blocks_: list[dict[str, Any]]
) -> None:
    """Replace a bot message in the escalation's channel, keeping the content warning."""
    assert esc.channel_id
    text, warned = blocks.content_warning(esc, text, blocks_)
    svc.slack.update(esc.channel_id, ts, text, blocks=warned or [])


def _escalation(uow: UnitOfWork, number: int | None) -> Escalation:
    esc = uow.repos.escalations.get(int(number or 0))
    if esc is None:
        raise LookupError(f"ESC-{number} does not exist")
    return esc


def card_facts(uow: UnitOfWork, esc: Escalation) -> results.CardFacts:
    """Collect what the live card shows beyond the escalation row."""
    signoffs = uow.repos.escalations.signoffs(esc.id)
    return results.CardFacts(
        decisions=uow.repos.decisions.count(esc.id),
        open_followups=len(uow.repos.escalations.followups(esc.id, status="open")),
        pending_signoffs=[s.group for s in signoffs if s.status == "pending"],
        paging=blocks.paging(esc),
        checklist=uow.repos.escalations.checklist(esc.id),
        deadlines=uow.repos.escalations.deadlines(esc.id),
        roles={r: h.user_id for r, h in uow.repos.escalations.roles(esc.id).items()},
    )


def deliver_card(svc: Services, job: Job) -> None:
    with _serial(f"card:{job.escalation_id}"):
        with svc.db.uow() as uow:
            esc = _escalation(uow, job.escalation_id)
            facts = card_facts(uow, esc)
        if esc.channel_id is None or esc.card_ts is None:
            raise NotReady(f"{esc.ref} has no card yet")
        text, card = blocks.live_card(esc, svc.config, facts)
        svc.slack.update(esc.channel_id, esc.card_ts, text, blocks=card)


def deliver_post(svc: Services, job: Job) -> None:
    with svc.db.uow() as uow:
        esc = _escalation(uow, job.escalation_id)
    text = str(job.payload["text"])
    post_in_channel(svc, esc, job.key, text, [blocks.section(text)], retrying=job.retrying)


def deliver_review(svc: Services, job: Job) -> None:
    at = datetime.fromisoformat(str(job.payload["at"]))
    with svc.db.uow() as uow:
        esc = _escalation(uow, job.escalation_id)
        review = collect_review(uow, svc.config, esc, at)
    text, blocks_ = blocks.review_message(review, svc.config)
    post_in_channel(svc, esc, job.key, text, blocks_, retrying=job.retrying)


def deliver_decision(svc: Services, job: Job) -> None:
    with svc.db.uow() as uow:
        esc = _escalation(uow, job.escalation_id)
        decision = uow.repos.decisions.get(int(job.payload["id"]))
    if decision is None or decision.message_ts:
        return
    text, entry = blocks.decision_entry(esc, decision)
    ts = post_in_channel(svc, esc, job.key, text, entry, retrying=job.retrying)
    with svc.db.uow() as uow:
        row = uow.repos.decisions.get(decision.id)
        assert row is not None
        row.message_ts = ts
        uow.commit()


def deliver_signoff(svc: Services, job: Job) -> None:
    signoff_id = int(job.payload["id"])
    with _serial(f"signoff:{signoff_id}"):
        with svc.db.uow() as uow:
            esc = _escalation(uow, job.escalation_id)
            signoff = uow.repos.escalations.signoff(signoff_id)
        if signoff is None:
            return
        group = svc.config.stakeholders.get(signoff.group)
        text, message = blocks.signoff_message(
            esc, signoff, group.name if group else signoff.group, _audience(group)
        )
        if signoff.message_ts:
            update_in_channel(svc, esc, signoff.message_ts, text, message)
            return
        ts = post_in_channel(
            svc, esc, f"signoff:{signoff.id}", text, message, retrying=job.retrying
        )
        with svc.db.uow() as uow:
            row = uow.repos.escalations.signoff(signoff.id)
            assert row is not None
            row.message_ts = ts
            uow.commit()


def _audience(group: Any) -> str:
    if group is None:
        return ""
    if group.members is not None:
        return " ".join(f"<@{u}>" for u in group.members)
    if group.usergroup is not None:
        return f"<!subteam^{group.usergroup}>"
    return ""


def deliver_invite(svc: Services, job: Job) -> None:
    with svc.db.uow() as uow:
        esc = _escalation(uow, job.escalation_id)
        known = {p.user_id for p in esc.participants}
        inside = policy.insiders(esc) & {
            p.user_id for p in esc.participants if p.invited_at or p.user_id == esc.reporter
        }
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    asked = list(dict.fromkeys(job.payload.get("users") or []))
    expanded: dict[str, str | None] = {}
    for usergroup, group in (job.payload.get("usergroups") or {}).items():
        for user in svc.slack.usergroup_members(usergroup):
            if user not in asked:
                asked.append(user)
                expanded.setdefault(user, group)
    # Only who is not in the channel yet is invited: no already_in_channel round trip.
    wanted = [u for u in asked if u not in inside]
    now = svc.clock()
    result = svc.slack.invite(esc.channel_id, wanted) if wanted else InviteResult()
    result.already[:0] = [u for u in asked if u in inside]
    with svc.db.uow() as uow:
        for user, group in expanded.items():
            if user not in known:
                uow.repos.escalations.add_participant(
                    Participant(
                        escalation_id=esc.id,
                        user_id=user,
                        role="stakeholder" if group else "invitee",
                        group=group,
                        added_at=now,
                    )
                )
        uow.flush()
        record_invites(uow, esc.id, wanted, result, now, job.payload.get("actor"))
        uow.commit()
    named = set(job.payload.get("named") or [])  # asked for by name, not by group
    text = blocks.invite_note(
        job.payload.get("actor"),
        result.invited,
        result.failed,
        [u for u in result.already if u in named],
    )
    if text:
        post_in_channel(svc, esc, f"{job.key}:note", text, retrying=job.retrying)


def record_invites(
    uow: UnitOfWork,
    escalation_id: int,
    wanted: list[str],
    result: InviteResult,
    now: datetime,
    actor: str | None = None,
) -> Escalation:
    """Save what one batched invite did: who got in, who could not and why, as one event."""
    row = uow.repos.escalations.get(escalation_id)
    assert row is not None
    for participant in row.participants:
        if participant.user_id in result.failed:
            participant.invite_error = result.failed[participant.user_id]
        elif participant.user_id in wanted:
            participant.invited_at, participant.invite_error = now, None
    uow.repos.escalations.add_event(
        escalation_id, now, "invited", actor, users=result.invited, failed=result.failed
    )
    return row


def post_once(
    svc: Services,
    channel: str,
    key: str,
    text: str,
    blocks_: list[dict[str, Any]] | None,
    *,
    retrying: bool,
) -> str:
    """Post a message tagged with `key`; on a retry, first look for the earlier post."""
    if retrying:
        found = svc.slack.find_message(channel, CARD_EVENT, key)
        if found:
            return found
    return svc.slack.post(
        channel,
        text,
        blocks=blocks_,
        metadata={"event_type": CARD_EVENT, "event_payload": {"key": key}},
    )
