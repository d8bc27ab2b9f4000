"""Staging Slack side effects: the outbox items a use case adds in its own transaction.

A use case records its change, a timeline event and the items below in one transaction,
commits, then submits the keys (`submit`). Nothing here calls Slack: the delivery
handlers (`bot.delivery`) do, rendering from the database when they run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.kinds import CAPTURE, CARD, DECISION, INVITE, POST, SIGNOFF, UPDATE_BRIEF
from bot.services import Services
from storage.db import UnitOfWork
from storage.models import Decision, Escalation, Signoff, TimelineEvent

# -- recording (inside the caller's unit of work) ---------------------------------------------


def queue_card(uow: UnitOfWork, esc: Escalation, event: TimelineEvent, now: datetime) -> str:
    """Stage a re-render of the pinned card after `event`; return the outbox key."""
    uow.flush()
    key = f"card:{esc.id}:{event.id}"
    uow.repos.outbox.add(key, CARD, now, escalation_id=esc.id)
    return key


def queue_post(uow: UnitOfWork, esc: Escalation, key: str, now: datetime, text: str) -> str:
    """Stage a message (already escaped) for the escalation's channel; return the key."""
    uow.repos.outbox.add(key, POST, now, escalation_id=esc.id, text=text)
    return key


def queue_update_brief(uow: UnitOfWork, esc: Escalation, event: TimelineEvent) -> str:
    """Stage the brief of a status update for the stakeholder updates channel; return the key."""
    key = f"brief:{esc.id}:{event.id}"
    uow.repos.outbox.add(key, UPDATE_BRIEF, event.at, escalation_id=esc.id, event=event.id)
    return key


def queue_capture(uow: UnitOfWork, esc: Escalation, event: TimelineEvent, now: datetime) -> str:
    """Stage looking up a message added to the timeline (its text, its permalink)."""
    key = f"capture:{event.id}"
    uow.repos.outbox.add(key, CAPTURE, now, escalation_id=esc.id, event=event.id)
    return key


def queue_decision(uow: UnitOfWork, decision: Decision, now: datetime) -> str:
    """Stage posting a decision entry to the channel; return the key."""
    key = f"decision:{decision.id}"
    uow.repos.outbox.add(key, DECISION, now, escalation_id=decision.escalation_id, id=decision.id)
    return key


def queue_signoff(uow: UnitOfWork, signoff: Signoff, now: datetime, stage: str) -> str:
    """Stage posting (or refreshing) a sign-off request message; return the key."""
    uow.flush()
    key = f"signoff:{signoff.id}:{stage}"
    uow.repos.outbox.add(key, SIGNOFF, now, escalation_id=signoff.escalation_id, id=signoff.id)
    return key


def queue_invite(
    uow: UnitOfWork,
    esc: Escalation,
    key: str,
    now: datetime,
    users: Sequence[str],
    usergroups: dict[str, str | None],
    *,
    actor: str | None = None,
    named: Sequence[str] = (),
) -> str:
    """Stage one batched invite of users and user groups (ID → stakeholder group); `named`
    are the users the actor asked for by name (told if they were in already)."""
    uow.repos.outbox.add(
        key,
        INVITE,
        now,
        escalation_id=esc.id,
        users=list(users),
        usergroups=usergroups,
        actor=actor,
        named=list(named),
    )
    return key


def submit(svc: Services, keys: Sequence[str]) -> None:
    """Run committed outbox items soon, in order."""
    for key in keys:
        svc.outbox.submit(key)
