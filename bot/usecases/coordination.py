"""Coordinating escalations: messages added to the timeline, flags set after raising,
related escalations and duplicates.

A restricted escalation is named to anyone outside its channel by its ID alone: the notes
posted in the other channel of a link or duplicate say "ESC-n (restricted)", nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.errors import UserError
from bot.kinds import STATUS_RESOLVED
from bot.policy import Act, insiders
from bot.results import Outcome, Where
from bot.services import Services
from bot.text import escape, truncate
from bot.usecases import staging as effects
from bot.usecases.lifecycle import add_participant, finish, locate, record_event
from storage.db import UnitOfWork
from storage.models import Escalation


def flag_graphic(svc: Services, actor: str, where: Where) -> Outcome:
    """Mark the escalation graphic: its card and every message after carry the warning."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.FLAG, lock=True)
        if esc.graphic:
            return Outcome(esc, False, f"{esc.ref} is already flagged graphic.")
        esc.graphic = True
        event = record_event(uow, esc, now, "flagged_graphic", actor)
        note = f":warning: <@{actor}> flagged {esc.ref} as graphic."
        finish(svc, uow, esc, event, note)
        return Outcome(esc, True, f"Flagged {esc.ref} graphic: a content warning from now on.")


CAPTURE_TEXT_LIMIT = 3000


def message_time(ts: str) -> datetime | None:
    """Return the instant of a Slack message ts (`1712345678.000100`), or None if it is none."""
    try:
        seconds = float(ts)
    except ValueError:
        return None
    if not (0 < seconds < 2**33) or not ts.replace(".", "").isdigit():
        return None
    return datetime.fromtimestamp(seconds, UTC)


def add_to_timeline(
    svc: Services,
    actor: str,
    channel_id: str,
    ts: str,
    *,
    author: str | None,
    text: str | None,
    via: str,
) -> Outcome:
    """Make a message of an escalation's channel a timeline event, once per message however
    often it is pinned; its text (when not given) and permalink are looked up after."""
    at = message_time(ts)
    if at is None:
        raise UserError("That message cannot be added: Slack sent no time for it.")
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, Where(None, channel_id), actor, Act.CAPTURE, lock=True)
        key = f"capture:{esc.id}:{ts}"  # the message, not the request: once however pinned
        if not uow.repos.requests.claim(key, "capture", now, escalation=esc.id):
            return Outcome(esc, False, f"That message is already on the timeline of {esc.ref}.")
        event = record_event(
            uow,
            esc,
            at,  # the message's own time: the timeline shows it where it happened
            "message_added",
            actor,
            ts=ts,
            author=author,
            text=truncate(text, CAPTURE_TEXT_LIMIT) if text is not None else None,
            permalink=None,
            via=via,
            recorded_at=now.isoformat(),
        )
        staged = effects.queue_capture(uow, esc, event, now)
        uow.commit()
        effects.submit(svc, [staged])
        return Outcome(esc, True, f"Added the message to the timeline of {esc.ref}.")


def restricted_channel(svc: Services, channel_id: str) -> bool:
    """Return True when the channel is a restricted escalation's: what is raised from a
    message there stays need-to-know."""
    with svc.db.uow() as uow:
        esc = uow.repos.escalations.by_channel(channel_id)
        return bool(esc is not None and esc.restricted)


def named(esc: Escalation) -> str:
    """Return how an escalation is named in another escalation's channel."""
    if esc.restricted:
        return f"*{esc.ref}* (restricted)"
    where = f" <#{esc.channel_id}>" if esc.channel_id else ""
    return f"*{esc.ref}* {escape(truncate(esc.title, 120))}{where}"


def _pair(
    svc: Services, uow: UnitOfWork, where: Where, actor: str, other: int, act: Act
) -> tuple[Escalation, Escalation]:
    """Return (this, the other) locked in ID order, if the actor may `act` on this one and
    see the other."""
    esc = locate(svc, uow, where, actor, act)
    if other == esc.id:
        raise UserError(f"{esc.ref} cannot be related to itself.")
    target = locate(svc, uow, Where(other, where.channel_id), actor, Act.LINK)
    for number in sorted((esc.id, target.id)):  # one order, so two links at once cannot deadlock
        uow.repos.escalations.lock(number)  # reloads both rows in place
    return esc, target


def link(svc: Services, actor: str, where: Where, other: int, request_key: str) -> Outcome:
    """Record ESC-`other` as related to this escalation, on both; both channels are told."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc, target = _pair(svc, uow, where, actor, other, Act.LINK)
        if not uow.repos.requests.claim(request_key, "link", now, escalation=esc.id):
            return Outcome(esc, False, f"{esc.ref} and {target.ref} are linked.")
        here = uow.repos.escalations.link(esc.id, target.id, "related", actor, now)
        there = uow.repos.escalations.link(target.id, esc.id, "related", actor, now)
        if not (here or there):
            return Outcome(esc, False, f"{esc.ref} and {target.ref} are already linked.")
        event = record_event(uow, esc, now, "linked", actor, related=target.id)
        back = record_event(uow, target, now, "linked", actor, related=esc.id)
        keys = [
            effects.queue_post(
                uow,
                target,
                f"post:{target.id}:{back.id}",
                now,
                f":link: <@{actor}> linked {named(esc)} as related to {target.ref}.",
            )
        ]
        note = f":link: <@{actor}> linked {named(target)} as related to {esc.ref}."
        finish(svc, uow, esc, event, note, extra=keys)
        return Outcome(esc, True, f"Linked {esc.ref} and {target.ref}.")


def duplicate(svc: Services, actor: str, where: Where, original: int, request_key: str) -> Outcome:
    """Resolve this escalation as a duplicate of ESC-`original` and invite its people there."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc, target = _pair(svc, uow, where, actor, original, Act.DUPLICATE)
        if esc.duplicate_of == target.id:
            return Outcome(esc, False, f"{esc.ref} is already a duplicate of {target.ref}.")
        if esc.status == STATUS_RESOLVED:
            return Outcome(esc, False, f"{esc.ref} is resolved; `/esc reopen` it first.")
        if target.duplicate_of == esc.id:
            raise UserError(f"{target.ref} is a duplicate of {esc.ref}: it cannot be the original.")
        if not uow.repos.requests.claim(request_key, "duplicate", now, escalation=esc.id):
            return Outcome(esc, False, f"{esc.ref} is a duplicate of {target.ref}.")
        esc.duplicate_of = target.id
        esc.status, esc.resolved_at = STATUS_RESOLVED, now
        esc.resolution = f"Duplicate of {target.ref}"
        uow.reschedules()
        uow.repos.escalations.link(esc.id, target.id, "duplicate", actor, now)
        uow.repos.escalations.link(target.id, esc.id, "duplicated_by", actor, now)
        event = record_event(uow, esc, now, "marked_duplicate", actor, original=target.id)
        back = record_event(uow, target, now, "duplicate_added", actor, duplicate=esc.id)
        people = sorted(p for p in insiders(esc) if add_participant(uow, target, p, "invitee", now))
        keys = [effects.queue_card(uow, target, back, now)]
        if people:
            keys.append(
                effects.queue_invite(
                    uow, target, f"invite:{target.id}:dup:{esc.id}", now, people, {}
                )
            )
        keys.append(
            effects.queue_post(
                uow,
                target,
                f"post:{target.id}:{back.id}",
                now,
                f":card_index_dividers: <@{actor}> marked {named(esc)} a duplicate of "
                f"{target.ref}; its people are invited here.",
            )
        )
        note = (
            f":card_index_dividers: <@{actor}> marked {esc.ref} a duplicate of {named(target)} "
            "and resolved it. Work continues there; everyone here is invited."
        )
        finish(svc, uow, esc, event, note, extra=keys)
        return Outcome(esc, True, f"{esc.ref} is resolved as a duplicate of {target.ref}.")
