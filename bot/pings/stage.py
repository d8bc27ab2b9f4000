"""Claiming due pings in the sent-notifications ledger and staging their outbox items.

A claim and the items it stages commit in one transaction: the ledger's unique key makes a
second process, a reconcile pass or a restart unable to stage the same ping again, and the
outbox retries the staged items until Slack has them.

Over 500 lines: one stager per ping kind, each re-checking in the claiming transaction what
its finder saw; they share the batch's bulk writes and the claim loop that calls them.
"""

from __future__ import annotations

import functools
import logging
import statistics
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert

from bot.errors import database_unreachable
from bot.kinds import (
    CARD,
    DEADLINE_BREACH,
    DEADLINE_REMINDER,
    DIGEST,
    EMPTY,
    GAPS,
    HANDOFF,
    OPEN,
    OUT_DEADLINE_BREACH,
    OUT_DEADLINE_DM,
    OUT_DEADLINE_REMINDER,
    OUT_DIGEST,
    OUT_GAPS,
    OUT_HANDOFF,
    OUT_HANDOFF_BRIEF,
    OUT_PAGE,
    OUT_PAGE_DM,
    OUT_ROLE_REMINDER,
    OUT_SHIFT_START,
    OUT_SIGNOFF_REMINDER,
    OUT_UPDATE_REMINDER,
    PAGE,
    PAGEABLE,
    ROLE_REMINDER,
    SENT,
    SHIFT_START,
    SIGNOFF_REMINDER,
    SKIPPED,
    UPDATE_REMINDER,
)
from bot.pings.plan import GAP_WINDOW, Due, instant, seconds
from bot.routing import Target
from bot.services import Services
from schedules import rotation as engine
from storage.db import UnitOfWork
from storage.models import Deadline, Escalation, Participant, Signoff, TimelineEvent
from storage.repositories import NewItem
from storage.repositories.base import unnest_insert

log = logging.getLogger(__name__)


# -- claiming ---------------------------------------------------------------------------------

# Stages the outbox items of one claimed ping; None when it turned out moot, [] when empty.
Stager = Callable[[Services, UnitOfWork, Due, datetime], list[NewItem] | None]


@dataclass
class Claimed:
    """What a claim did: keys sent, skipped or empty by this call, keys others had taken."""

    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    outbox: list[str] = field(default_factory=list)

    @property
    def known(self) -> set[str]:
        """Return every key now known to be in the ledger."""
        return {*self.sent, *self.skipped, *self.empty, *self.taken}

    def extend(self, other: Claimed) -> None:
        """Add another claim's results."""
        for name in ("sent", "skipped", "empty", "taken", "outbox"):
            getattr(self, name).extend(getattr(other, name))


def claim(svc: Services, dues: Sequence[Due], now: datetime, batch: int = 500) -> Claimed:
    """Claim due pings in the ledger and stage their outbox items, a batch per transaction.

    A batch that fails is retried one ping per transaction, so one bad ping cannot hold the
    others back; the failing one stays unclaimed and is tried again on the next pass.
    """
    out = Claimed()
    for start in range(0, len(dues), batch):
        chunk = dues[start : start + batch]
        try:
            out.extend(_claim(svc, chunk, now))
        except Exception as exc:
            if database_unreachable(exc):  # not one bad ping: the pass fails, and is retried
                raise
            log.exception("claiming %d pings failed; trying them one by one", len(chunk))
            for due in chunk:
                try:
                    out.extend(_claim(svc, [due], now))
                except Exception:
                    log.exception("could not claim %s; retrying next pass", due.key)
    for outcome in ("sent", "skipped", "empty", "taken"):
        svc.telemetry.pinged(getattr(out, outcome), outcome)
    return out


def _item(key: str, kind: str, escalation_id: int | None = None, **payload: Any) -> NewItem:
    return NewItem(key, kind, escalation_id, payload)


def _claim(svc: Services, dues: Sequence[Due], now: datetime) -> Claimed:
    out = Claimed()
    with svc.db.uow() as uow:
        rows = [(d.key, d.kind, d.due_at, SENT if d.send else SKIPPED) for d in dues]
        won = uow.repos.ledger.claim_many(rows, now)
        # What the won pings stage from, read in bulk: one query a batch instead of one (and a
        # flush) a ping, and each page step's targets resolved once (bench_scheduler: the
        # first pass after start over a backlog of missed pages at 10k open escalations).
        # Pages read plain rows (status, roles): no ORM object is loaded for them.
        staging = [d for d in dues if d.send and d.key in won and d.escalation_id]
        held = uow.repos.escalations.load_many(  # the session keeps only what is referenced
            {d.escalation_id for d in staging if d.kind != PAGE and d.escalation_id}
        )
        bulk = _Bulk(
            states=uow.repos.escalations.paging_states(
                {d.escalation_id for d in staging if d.kind == PAGE and d.escalation_id}
            )
        )
        # The escalations each outgoing person owns, read once for the batch's shift-start
        # reminders and handoff briefs rather than once each.
        outgoing = {
            d.data["outgoing"]
            for d in dues
            if d.send and d.key in won and d.kind in (SHIFT_START, HANDOFF) and d.data["outgoing"]
        }
        owned = uow.repos.pings.owned_many(outgoing, OPEN) if outgoing else {}
        stagers: dict[str, Stager] = {
            **STAGERS,
            PAGE: functools.partial(_stage_page, targets={}, bulk=bulk),
            SHIFT_START: functools.partial(_stage_shift_start, owned=owned),
            HANDOFF: functools.partial(_stage_handoff, owned=owned),
        }
        items: list[NewItem] = []
        for due in dues:
            if due.key not in won:
                out.taken.append(due.key)
            elif not due.send:
                out.skipped.append(due.key)
            else:
                staged = stagers[due.kind](svc, uow, due, now)
                if staged is None:
                    uow.repos.ledger.set_status(due.key, SKIPPED)
                    out.skipped.append(due.key)
                elif not staged:
                    uow.repos.ledger.set_status(due.key, EMPTY)
                    out.empty.append(due.key)
                else:
                    out.sent.append(due.key)
                    items.extend(staged)
        bulk.insert(uow)
        uow.repos.outbox.add_many(items, now)
        uow.commit()
    del held
    out.outbox = [item.key for item in items]
    return out


@dataclass
class _Bulk:
    """Participants and timeline events staged over one batch, written in one INSERT each
    (executemany) instead of one ORM object each (bench_scheduler: the first pass after
    start over a backlog of missed pages)."""

    participants: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    added: set[tuple[int, str]] = field(default_factory=set)
    # escalation: (status, acknowledged_at, role by user), read for the batch's pages
    states: dict[int, tuple[str, datetime | None, dict[str, str]]] = field(default_factory=dict)
    oncall: set[tuple[int, str]] = field(default_factory=set)  # participants paged now

    def insert(self, uow: UnitOfWork) -> None:
        if self.oncall:
            uow.repos.escalations.make_oncall(self.oncall)
        connection = uow.session.connection()
        for model, rows in ((Participant, self.participants), (TimelineEvent, self.events)):
            if not rows:
                continue
            if connection.dialect.name == "postgresql":  # one short statement over arrays
                unnest_insert(connection, cast(Table, model.__table__), rows)
            else:
                uow.session.execute(insert(model), rows)
        self.participants, self.events, self.added, self.oncall = [], [], set(), set()


def _stage_page(
    svc: Services,
    uow: UnitOfWork,
    due: Due,
    now: datetime,
    targets: dict[str, Target] | None = None,
    bulk: _Bulk | None = None,
) -> list[NewItem] | None:
    """Stage a page; `targets` memoizes whom each spec pages at `now` over one batch, and
    `bulk` collects the rows it adds to write them at the batch's end."""
    number = int(due.escalation_id or 0)
    roles: dict[str, str] = {}
    present: dict[str, Participant] = {}
    if bulk is not None:  # plain rows read for the batch
        state = bulk.states.get(number)
        if state is None or state[0] not in PAGEABLE or state[1] is not None:
            return None  # acknowledged since the pass read it: paging has stopped
        roles = state[2]
    else:
        esc = uow.repos.escalations.get(number)
        if esc is None or esc.status not in PAGEABLE or esc.acknowledged_at is not None:
            return None  # acknowledged since the pass read it: paging has stopped
        present = {p.user_id: p for p in esc.participants}
        roles = {user: p.role for user, p in present.items()}
    round_, step = due.data["round"], due.data["step"]
    users: dict[str, None] = {}
    usergroups: dict[str, None] = {}
    memo: dict[str, Target] = {} if targets is None else targets
    for spec in svc.config.escalation_policy.steps[step].notify:
        target = memo.get(spec)
        if target is None:
            target = memo[spec] = svc.oncall.target(uow.repos.overrides, spec, now)
        users.update(dict.fromkeys(target.users))
        usergroups.update(dict.fromkeys(target.usergroups))
    detail = {
        "round": round_,
        "step": step,
        "users": list(users),
        "usergroups": list(usergroups),
        "due_at": due.due_at.isoformat(),
    }
    for user in users:  # paged: a responder of this escalation from now on
        if user in present:
            present[user].role = "oncall"
        elif user in roles:
            if roles[user] != "oncall" and bulk is not None:
                bulk.oncall.add((number, user))
        elif bulk is None:
            uow.repos.escalations.add_participant(
                Participant(escalation_id=number, user_id=user, role="oncall", added_at=now)
            )
        elif (number, user) not in bulk.added:  # another page of the batch may add them too
            bulk.added.add((number, user))
            bulk.participants.append(
                {"escalation_id": number, "user_id": user, "role": "oncall", "added_at": now}
            )
    if bulk is None:
        uow.repos.escalations.add_event(number, now, "paged", None, **detail)
    else:
        bulk.events.append(
            {"escalation_id": number, "at": now, "kind": "paged", "actor": None, "detail": detail}
        )
    common = {"round": round_, "step": step}
    items = [
        _item(
            due.key,
            OUT_PAGE,
            number,
            users=list(users),
            usergroups=list(usergroups),
            **common,
        )
    ]
    items += [_item(f"{due.key}:dm:{u}", OUT_PAGE_DM, number, user=u, **common) for u in users]
    items += [
        _item(f"{due.key}:dm:{g}", OUT_PAGE_DM, number, usergroup=g, **common) for g in usergroups
    ]
    return items


def _owned_open(
    uow: UnitOfWork, owner: str | None, owned: dict[str, list[int]] | None = None
) -> list[int]:
    if not owner:
        return []
    if owned is not None and owner in owned:
        return list(owned[owner])
    return uow.repos.pings.owned(owner, OPEN)


def _stage_shift_start(
    svc: Services,
    uow: UnitOfWork,
    due: Due,
    now: datetime,
    owned: dict[str, list[int]] | None = None,
) -> list[NewItem] | None:
    data = due.data
    at, end = instant(data["at"]), instant(data["until"])  # the incoming stretch, as planned
    rotation = data["rotation"]
    return [
        _item(
            due.key,
            OUT_SHIFT_START,
            rotation=rotation,
            user=data["incoming"],
            start=at.isoformat(),
            end=end.isoformat(),
            outgoing=data["outgoing"],
            escalations=_owned_open(uow, data["outgoing"], owned),
        )
    ]


def _stage_handoff(
    svc: Services,
    uow: UnitOfWork,
    due: Due,
    now: datetime,
    owned: dict[str, list[int]] | None = None,
) -> list[NewItem] | None:
    data = due.data
    common = {
        "rotation": data["rotation"],
        "outgoing": data["outgoing"],
        "incoming": data["incoming"],
        "at": instant(data["at"]).isoformat(),
    }
    return [
        _item(due.key, OUT_HANDOFF, **common),
        _item(
            f"{due.key}:brief",
            OUT_HANDOFF_BRIEF,
            escalations=_owned_open(uow, data["outgoing"], owned),
            **common,
        ),
    ]


def _stage_update_reminder(
    svc: Services, uow: UnitOfWork, due: Due, now: datetime
) -> list[NewItem] | None:
    esc = uow.repos.escalations.get(int(due.escalation_id or 0))
    if esc is None or esc.status not in OPEN:
        return None
    if seconds(esc.last_update_at or esc.created_at) != due.data["since"]:
        return None  # a status update arrived since the pass read it
    uow.repos.escalations.add_event(
        esc.id, now, "update_reminder", None, owner=esc.owner, due_at=due.due_at.isoformat()
    )
    return [_item(due.key, OUT_UPDATE_REMINDER, esc.id, since=due.data["since"])]


def missing_roles(svc: Services, uow: UnitOfWork, esc: Escalation) -> list[str]:
    """Return the roles the escalation's severity requires that nobody holds, in order."""
    held = uow.repos.escalations.roles(esc.id)
    return [r for r in svc.config.required_roles(esc.severity) if r not in held]


def _stage_role_reminder(
    svc: Services, uow: UnitOfWork, due: Due, now: datetime
) -> list[NewItem] | None:
    esc = uow.repos.escalations.get(int(due.escalation_id or 0))
    if esc is None or esc.status not in OPEN:
        return None
    missing = missing_roles(svc, uow, esc)
    if not missing:
        return None  # filled since the pass read it
    uow.repos.escalations.add_event(
        esc.id,
        now,
        "role_reminder",
        None,
        owner=esc.owner,
        missing=missing,
        due_at=due.due_at.isoformat(),
    )
    return [_item(due.key, OUT_ROLE_REMINDER, esc.id, since=due.data["since"], missing=missing)]


def _stage_signoff_reminder(
    svc: Services, uow: UnitOfWork, due: Due, now: datetime
) -> list[NewItem] | None:
    signoff = uow.session.get(Signoff, due.subject)
    if signoff is None or signoff.status != "pending":
        return None
    uow.repos.escalations.add_event(
        signoff.escalation_id,
        now,
        "signoff_reminder",
        None,
        signoff=signoff.id,
        group=signoff.group,
        due_at=due.due_at.isoformat(),
    )
    return [_item(due.key, OUT_SIGNOFF_REMINDER, signoff.escalation_id, signoff=signoff.id)]


def _open_deadline(uow: UnitOfWork, due: Due) -> tuple[Deadline, Escalation] | None:
    """Return the due ping's deadline and its escalation while that is still open."""
    deadline = uow.session.get(Deadline, due.subject)
    esc = uow.repos.escalations.get(int(due.escalation_id or 0))
    if deadline is None or esc is None or esc.status not in OPEN:
        return None
    return deadline, esc


def _stage_deadline_reminder(
    svc: Services, uow: UnitOfWork, due: Due, now: datetime
) -> list[NewItem] | None:
    found = _open_deadline(uow, due)
    if found is None or now >= found[0].due_at:
        return None  # resolved since, or the deadline itself has come: the breach says it
    deadline, esc = found
    uow.repos.escalations.add_event(
        esc.id, now, "deadline_reminder", None, deadline=deadline.name, owner=esc.owner
    )
    return [_item(due.key, OUT_DEADLINE_REMINDER, esc.id, deadline=deadline.id)]


def _stage_deadline_breach(
    svc: Services, uow: UnitOfWork, due: Due, now: datetime
) -> list[NewItem] | None:
    """Page the escalation policy's first step for a deadline that passed unresolved."""
    found = _open_deadline(uow, due)
    if found is None:
        return None  # resolved since the pass read it
    deadline, esc = found
    if deadline.breached_at is not None:
        return None
    deadline.breached_at = now
    users: dict[str, None] = {}
    usergroups: dict[str, None] = {}
    for spec in svc.config.escalation_policy.steps[0].notify:
        target = svc.oncall.target(uow.repos.overrides, spec, now)
        users.update(dict.fromkeys(target.users))
        usergroups.update(dict.fromkeys(target.usergroups))
    present = {p.user_id: p for p in esc.participants}
    for user in users:
        if user in present:
            present[user].role = "oncall"
        else:
            uow.repos.escalations.add_participant(
                Participant(escalation_id=esc.id, user_id=user, role="oncall", added_at=now)
            )
    event = uow.repos.escalations.add_event(
        esc.id,
        now,
        "deadline_breached",
        None,
        deadline=deadline.name,
        due_at=deadline.due_at.isoformat(),
        users=list(users),
        usergroups=list(usergroups),
    )
    uow.flush()
    common = {"deadline": deadline.id}
    items = [
        _item(
            due.key,
            OUT_DEADLINE_BREACH,
            esc.id,
            users=list(users),
            usergroups=list(usergroups),
            **common,
        ),
        _item(f"card:{esc.id}:{event.id}", CARD, esc.id),
    ]
    items += [_item(f"{due.key}:dm:{u}", OUT_DEADLINE_DM, esc.id, user=u, **common) for u in users]
    return items


def coverage_gaps(
    svc: Services, uow: UnitOfWork, start: datetime, end: datetime
) -> list[engine.Shift]:
    """Return every window of [start, end) where a rotation has nobody on call."""
    # Every rotation's overrides in one query, not one a rotation (100 rotations: 0.2 s).
    overrides = svc.oncall.overrides_by_rotation(uow.repos.overrides, start, end)
    out: list[engine.Shift] = []
    for rid, rot in svc.oncall.rotations.items():
        out.extend(engine.gaps(rot, start, end, overrides.get(rid, [])))
    return out


def _stage_gaps(svc: Services, uow: UnitOfWork, due: Due, now: datetime) -> list[NewItem] | None:
    start = max(now, due.due_at)
    found = coverage_gaps(svc, uow, start, start + GAP_WINDOW)
    if not found:
        return []
    gaps = [
        {"rotation": g.rotation, "start": g.start.isoformat(), "end": g.end.isoformat()}
        for g in found
    ]
    return [_item(due.key, OUT_GAPS, gaps=gaps, days=GAP_WINDOW.days)]


def _median_seconds(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def weekly_stats(uow: UnitOfWork, start: datetime, end: datetime, now: datetime) -> dict[str, Any]:
    """Return the trends of escalations raised in [start, end), as plain JSON-ready data.

    Restricted escalations count in every number but are never named.
    """
    repo = uow.repos.pings
    raised = repo.raised_between(start, end)
    to_ack = [
        (e.acknowledged_at - e.created_at).total_seconds() for e in raised if e.acknowledged_at
    ]
    to_resolve = [(e.resolved_at - e.created_at).total_seconds() for e in raised if e.resolved_at]
    breaches = [
        e
        for e in raised
        if (e.acknowledged_at and e.acknowledged_at > e.ack_deadline)
        or (e.acknowledged_at is None and e.ack_deadline < now)
    ]
    clocks = uow.repos.escalations.deadlines_of([e.id for e in raised])
    late = [e for e in raised if any(d.breached(e.resolved_at, now) for d in clocks.get(e.id, []))]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "total": len(raised),
        "restricted": sum(1 for e in raised if e.restricted),
        "by_category": dict(sorted(Tally(e.category for e in raised).items())),
        "by_severity": dict(sorted(Tally(e.severity for e in raised).items())),
        "resolved": len(to_resolve),
        "still_open": sum(1 for e in raised if e.status in OPEN),
        "median_ack_s": _median_seconds(to_ack),
        "median_resolve_s": _median_seconds(to_resolve),
        "breaches": [
            {"id": e.id, "severity": e.severity, "title": e.title}
            for e in breaches
            if not e.restricted
        ],
        "restricted_breaches": sum(1 for e in breaches if e.restricted),
        "deadlines": len(clocks),
        "deadline_breaches": len(late),
        "deadline_breaches_by_category": dict(sorted(Tally(e.category for e in late).items())),
        "deadline_breaches_by_region": dict(sorted(Tally(e.region for e in late).items())),
        "open_followups": dict(
            sorted(Tally(f.kind for f in uow.repos.escalations.followups(status="open")).items())
        ),
    }


def _stage_digest(svc: Services, uow: UnitOfWork, due: Due, now: datetime) -> list[NewItem] | None:
    stats = weekly_stats(uow, due.due_at - timedelta(days=7), due.due_at, now)
    week = due.key.split(":", 1)[1]
    return [_item(due.key, OUT_DIGEST, week=week, stats=stats)]


STAGERS: dict[str, Stager] = {
    PAGE: _stage_page,
    SHIFT_START: _stage_shift_start,
    HANDOFF: _stage_handoff,
    UPDATE_REMINDER: _stage_update_reminder,
    SIGNOFF_REMINDER: _stage_signoff_reminder,
    ROLE_REMINDER: _stage_role_reminder,
    GAPS: _stage_gaps,
    DIGEST: _stage_digest,
    DEADLINE_REMINDER: _stage_deadline_reminder,
    DEADLINE_BREACH: _stage_deadline_breach,
}
