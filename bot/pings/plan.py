"""Pings: what is due when, claimed once in the ledger, sent through the outbox.

Every ping has a natural key (kind, subject, due moment). A pass of the scheduler finds
what is due from the database and the config, claims each key in the sent-notifications
ledger in the same transaction that stages the outbox items doing the Slack side, then
hands the items to the outbox. The unique key makes a second process, a reconcile pass or
a restart unable to send the same ping again; the outbox retries until the send is done.

A series (an escalation's update reminders, a rotation's handoffs…) only ever sends its
latest due ping: when the bot was down across several due moments, the earlier ones are
recorded as skipped and the latest one, if still relevant, is sent once. Pages are the
exception: steps add up, so each step that fell due is sent once (see `due_pages`).

Over 500 lines: one finder per family of pings over the one snapshot and ledger cache they
share; the cache's pruning must know every family's keys.

Planning works in whole epoch seconds: a pass reads one small row per open escalation, and
integers are cheap to fetch and to do arithmetic on.
"""

from __future__ import annotations

import itertools
import logging
import time as clock_time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.kinds import (
    DEADLINE_BREACH,
    DEADLINE_REMINDER,
    DIGEST,
    GAPS,
    HANDOFF,
    KINDS,
    OPEN,
    PAGE,
    PAGEABLE,
    RECURRING,
    ROLE_REMINDER,
    SHIFT_START,
    SIGNOFF_REMINDER,
    UPDATE_REMINDER,
)
from bot.services import Services
from schedules import rotation as engine
from storage.models import Escalation

log = logging.getLogger(__name__)
LOOKBACK = timedelta(hours=24)  # how far back a pass looks for pings missed while down
HORIZON = timedelta(days=1)  # how far ahead rotation handoffs are looked for
STAFF_GRACE = timedelta(seconds=60)  # a page in the channel waits this long for the card
GAP_WINDOW = timedelta(days=14)
DAILY_AT = time(9, 0)  # coverage-gap warnings daily and the digest on Mondays, team time
MAX_SKIPS = 100  # stale moments recorded per series and pass
_LOOKBACK_S = int(LOOKBACK.total_seconds())
# Reminders due this far ahead are read too, so their moments get date jobs; the periodic
# reconcile (every 30 s) must come sooner than this.
_AHEAD_S = 120


# -- what is due ------------------------------------------------------------------------------


def seconds(instant: datetime) -> int:
    """Return an aware instant as whole epoch seconds (floor), as the database computes them."""
    return int(instant.timestamp() // 1)


def instant(epoch_s: int) -> datetime:
    """Return epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch_s, UTC)


def stamp(moment: datetime | int) -> str:
    """Return a moment as a compact ISO 8601 UTC stamp for keys: 20260308T170000Z."""
    epoch_s = moment if isinstance(moment, int) else seconds(moment)
    return clock_time.strftime("%Y%m%dT%H%M%SZ", clock_time.gmtime(epoch_s))


@dataclass(slots=True)
class Due:
    """One ping whose moment has come: send it, or record it as skipped (stale)."""

    key: str
    kind: str
    due_s: int
    send: bool
    subject: int | str | None = None  # the escalation, sign-off or rotation of the series
    escalation_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def due_at(self) -> datetime:
        """Return the due moment as a datetime."""
        return instant(self.due_s)


@dataclass
class Found:
    """What one kind of ping has due now, and the next moment something of it falls due."""

    dues: list[Due] = field(default_factory=list)
    next_s: int | None = None

    def later(self, at_s: int) -> None:
        """Note a future due moment."""
        if self.next_s is None or at_s < self.next_s:
            self.next_s = at_s

    @property
    def next_at(self) -> datetime | None:
        """Return the next due moment, if any."""
        return None if self.next_s is None else instant(self.next_s)


@dataclass
class Boundaries:
    """A rotation's handoffs over a window, computed once and reused while it lasts."""

    signature: tuple[Any, ...]
    until_s: int
    # (instant, end of the incoming stretch, incoming, outgoing, reminder key, handoff key)
    items: list[tuple[int, int, str, str | None, str, str]]


@dataclass
class Known:
    """What this process knows is in the ledger: a cache of it, which only ever grows.

    Whatever is here is certainly claimed; whatever is not is tried against the ledger's
    unique key, so a stale or empty cache costs time, never a second ping. Recurring
    reminders are known by their newest claimed moment alone.
    """

    claimed: dict[str, int] = field(default_factory=dict)  # key -> due moment
    last: dict[tuple[str, int], int] = field(default_factory=dict)  # series -> newest moment
    boundaries: dict[str, Boundaries] = field(default_factory=dict)
    # Since when pings run on this database: nothing due before it was missed (a fresh
    # install posts no handoff for a shift that began before it first ran).
    started_s: int = 0

    def load(self, svc: Services, now: datetime, started: datetime | None = None) -> None:
        """Learn the recently claimed pings from the ledger (as on start); `started` is when
        this process started, the moment pings run from on a fresh database."""
        since = now - LOOKBACK
        with svc.db.uow() as uow:
            rows = uow.repos.ledger.recent(KINDS, since)
            first = min(now, started) if started is not None else now
            self.started_s = seconds(uow.repos.ledger.first_start(first))
            uow.commit()
        for key, due_at in rows:
            self.add(key, seconds(due_at))

    def copy(self) -> Known:
        """Return a copy to plan a pass beside this one's (each mapping copied whole, at
        once: the thread changing the original cannot be seen half-way)."""
        return Known(dict(self.claimed), dict(self.last), dict(self.boundaries), self.started_s)

    def add(self, key: str, due_s: int) -> None:
        """Note one key as claimed."""
        kind, _, rest = key.partition(":")
        if kind not in RECURRING:
            self.claimed[key] = due_s
            return
        subject = rest.partition(":")[0]
        if subject.isdigit():
            series = (kind, int(subject))
            if due_s > self.last.get(series, -1):
                self.last[series] = due_s

    def unclaimed(self, svc: Services, dues: Sequence[Due]) -> list[Due]:
        """Return the dues neither cached nor in the ledger, learning those that are.

        An unacknowledged escalation's pages never go stale, so the first pass after start
        finds every page of every escalation still paging, most of them due before the
        lookback `load` reads; reading their keys is several times cheaper than trying to
        insert them (bench_scheduler: restart recovery at 10k open escalations). A key read
        here is certainly claimed; one missed is still tried against the unique key.
        """
        fresh = [d for d in dues if d.key not in self.claimed]
        if not fresh:
            return fresh
        with svc.db.uow() as uow:
            present = uow.repos.ledger.present([d.key for d in fresh])
        self.remember(fresh, present)
        return [d for d in fresh if d.key not in present]

    def remember(self, dues: Iterable[Due], claimed: set[str]) -> None:
        """Add the dues now in the ledger (claimed by this pass or found taken)."""
        for due in dues:
            if due.key in claimed:
                self.add(due.key, due.due_s)

    def prune(self, snap: Snapshot, keep_s: int) -> None:
        """Forget keys due before `keep_s`; after a full pass, also the series of what has
        no reminder due any more."""
        paging = {row[0] for row in snap.unacknowledged}
        self.claimed = {k: s for k, s in self.claimed.items() if s >= keep_s or _paging(k, paging)}
        if not snap.full:
            return
        live = {
            UPDATE_REMINDER: {row[0] for row in snap.escalations},
            SIGNOFF_REMINDER: {row[0] for row in snap.signoffs},
            ROLE_REMINDER: {row[0] for row in snap.role_gaps},
        }
        self.last = {
            series: s for series, s in self.last.items() if series[1] in live.get(series[0], ())
        }


def _paging(key: str, paging: set[int]) -> bool:
    """Return True for a page key of an escalation still paging (its pages never go stale)."""
    kind, _, rest = key.partition(":")
    number = rest.partition(":")[0]
    return kind == PAGE and number.isdigit() and int(number) in paging


@dataclass
class Snapshot:
    """The rows a pass plans from, read in one unit of work; instants in epoch seconds."""

    now: datetime
    escalations: Sequence[Any]  # (id, severity, last update or creation) of reminder-due ones
    unacknowledged: Sequence[Any]  # (id, severity, created, ack deadline) of paging ones
    signoffs: Sequence[Any]  # (id, escalation id, requested) of pending ones
    overrides: dict[str, list[engine.Override]]
    full: bool = True  # reminders due over the whole lookback, not since the previous pass
    deadlines: Sequence[Any] = ()  # (id, escalation id, due, reminder or None) not yet paged
    # (id, severity, created, roles held) of open escalations missing a required role
    role_gaps: Sequence[Any] = ()


def load_snapshot(svc: Services, now: datetime, since: datetime | None = None) -> Snapshot:
    """Read what may be due in one unit of work: escalations with an update reminder due
    since `since` (default: the whole lookback), those paging, pending sign-offs, overrides.
    """
    full = since is None or since <= now - LOOKBACK
    now_s = seconds(now)
    since_s = now_s - _LOOKBACK_S if full or since is None else seconds(since)
    everies = _every(svc, "update_every")
    with svc.db.uow() as uow:
        repo = uow.repos.pings
        # Also those due a little ahead: their moments become date jobs.
        escalations = repo.reminders_due(OPEN, everies, since_s, now_s + _AHEAD_S)
        unacknowledged = repo.unacknowledged(PAGEABLE)
        signoffs = repo.pending_signoffs(OPEN)
        deadlines = repo.pending_deadlines(OPEN)
        role_gaps = repo.role_gaps(OPEN, _required_roles(svc))
        overrides = svc.oncall.overrides_by_rotation(
            uow.repos.overrides, now - LOOKBACK, now + HORIZON + timedelta(days=2)
        )
    return Snapshot(
        now,
        escalations,
        unacknowledged,
        signoffs,
        overrides,
        full,
        deadlines,
        role_gaps,
    )


def _required_roles(svc: Services) -> dict[str, list[str]]:
    """Return severity → the role IDs its escalations must have filled (where any)."""
    out = {sid: svc.config.required_roles(sid) for sid in svc.config.severity_ids}
    return {sid: roles for sid, roles in out.items() if roles}


def _every(svc: Services, attribute: str) -> dict[str, int]:
    return {s.id: int(getattr(s, attribute).total_seconds()) for s in svc.config.severities}


def due_pages(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find pages due: step 0 at creation, then one step per `ack_within` until acknowledged.

    Page i (round i // steps, step i % steps) is due at creation for i = 0, else at the
    escalation's ack deadline plus (i - 1) × ack_within; `repeat` more rounds follow the
    first. Steps add up: every step that has fallen due is sent once, so a pass after an
    outage sends each step of the current round it missed; only the same step of a later
    round supersedes an unsent one. An unacknowledged escalation's pages never go stale.
    """
    found = Found()
    policy = svc.config.escalation_policy
    steps = len(policy.steps)
    total = steps * (policy.repeat + 1)
    acks = _every(svc, "ack_within")
    now_s = seconds(now)
    claimed = known.claimed
    for number, severity, created, deadline in snap.unacknowledged:
        every = acks.get(severity)
        if every is None:
            continue
        if now_s < created:
            found.later(created)
            continue
        last = 0 if now_s < deadline else min(total - 1, 1 + (now_s - deadline) // every)
        if last + 1 < total:
            found.later(deadline + every * last)
        for i in range(last, -1, -1):
            key = f"{PAGE}:{number}:{i // steps}:{i % steps}"
            if key in claimed:
                continue
            found.dues.append(
                Due(
                    key,
                    PAGE,
                    created if i == 0 else deadline + every * (i - 1),
                    i > last - steps,  # the newest of its step; older ones are superseded
                    number,
                    number,
                    {"round": i // steps, "step": i % steps},
                )
            )
    return found


def _recurring(
    found: Found,
    known: Known,
    kind: str,
    subject: int,
    base: int,
    every: int,
    now_s: int,
    escalation_id: int,
) -> None:
    """Add the latest due moment of `base + k × every` (k ≥ 1) and the stale ones before it."""
    age = now_s - base
    if age < every:
        found.later(base + every)
        return
    latest = now_s - age % every
    found.later(latest + every)
    seen = known.last.get((kind, subject))
    if seen is not None and seen >= latest:
        return
    data = {"since": base}
    found.dues.append(
        Due(f"{kind}:{subject}:{stamp(latest)}", kind, latest, True, subject, escalation_id, data)
    )
    floor = max(seen if seen is not None else base, now_s - _LOOKBACK_S)
    at = latest - every
    for _ in range(MAX_SKIPS):
        if at <= floor or at < base + every:
            break
        found.dues.append(
            Due(f"{kind}:{subject}:{stamp(at)}", kind, at, False, subject, escalation_id)
        )
        at -= every


def due_update_reminders(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find update reminders due: each `update_every` without a status update, to the owner."""
    found = Found()
    everies = _every(svc, "update_every")
    now_s = seconds(now)
    for number, severity, base in snap.escalations:
        every = everies.get(severity)
        if every is not None:
            _recurring(found, known, UPDATE_REMINDER, number, base, every, now_s, number)
    return found


def due_role_reminders(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find role reminders due: every `update_every` of its severity from creation while a
    role the severity requires is empty, to the owner in the channel."""
    found = Found()
    everies = _every(svc, "update_every")
    now_s = seconds(now)
    for number, severity, created, _held in snap.role_gaps:
        every = everies.get(severity)
        if every is not None:
            _recurring(found, known, ROLE_REMINDER, number, created, every, now_s, number)
    return found


def due_signoff_reminders(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find sign-off reminders due: every `signoff_remind_every` while the request is pending."""
    found = Found()
    every = int(svc.config.team.signoff_remind_every.total_seconds())
    now_s = seconds(now)
    for signoff, escalation_id, requested in snap.signoffs:
        _recurring(found, known, SIGNOFF_REMINDER, signoff, requested, every, now_s, escalation_id)
    return found


def due_deadlines(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find deadline reminders and breaches due, once per deadline of an open escalation.

    The reminder is relevant until the deadline itself: one found after it (the bot was
    down) is recorded as skipped. The breach pages whenever it is found while the escalation
    is unresolved, acknowledged or not: a deadline is about resolution.
    """
    found = Found()
    now_s = seconds(now)
    claimed = known.claimed
    for deadline, number, due_s, remind_s in snap.deadlines:
        if remind_s is not None:
            key = f"{DEADLINE_REMINDER}:{deadline}"
            if now_s < remind_s:
                found.later(remind_s)
            elif key not in claimed:
                found.dues.append(
                    Due(key, DEADLINE_REMINDER, remind_s, now_s < due_s, deadline, number)
                )
        key = f"{DEADLINE_BREACH}:{deadline}"
        if now_s < due_s:
            found.later(due_s)
        elif key not in claimed:
            found.dues.append(Due(key, DEADLINE_BREACH, due_s, True, deadline, number))
    return found


def _boundaries(
    rid: str, rot: engine.Rotation, overrides: Sequence[engine.Override], now: datetime
) -> Boundaries:
    """Compute the rotation's handoffs from a day back to two days ahead."""
    start, end = now - LOOKBACK, now + 2 * HORIZON
    items = []
    for prev, seg in itertools.pairwise(engine.timeline(rot, start, end, overrides)):
        if seg.user is None:
            continue
        at = seconds(seg.start)
        items.append(
            (
                at,
                seconds(seg.end),
                seg.user,
                prev.user,
                f"{SHIFT_START}:{rid}:{seg.user}:{stamp(at)}",
                f"{HANDOFF}:{rid}:{stamp(at)}",
            )
        )
    return Boundaries(tuple(overrides), seconds(end), items)


def due_rotation_pings(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find shift-start reminders (`remind_before` ahead) and handoffs due, per rotation.

    A handoff is a change of who is on call in the final schedule (overrides included) to
    someone; it is relevant while the incoming shift lasts, as is its reminder.
    """
    found = Found()
    remind = int(svc.config.team.remind_before.total_seconds())
    now_s = seconds(now)
    floor = max(now_s - _LOOKBACK_S, known.started_s)
    claimed = known.claimed
    for rid, rot in svc.oncall.rotations.items():
        overrides = snap.overrides.get(rid, [])
        cached = known.boundaries.get(rid)
        if (
            cached is None
            or cached.signature != tuple(overrides)
            or now_s + int(HORIZON.total_seconds()) + remind > cached.until_s
        ):
            cached = known.boundaries[rid] = _boundaries(rid, rot, overrides, now)
        for at, until, incoming, outgoing, reminder_key, handoff_key in cached.items:
            if at < floor:
                continue
            running = now_s < until
            if at - remind > now_s:
                found.later(at - remind)
                continue
            data = {
                "rotation": rid,
                "incoming": incoming,
                "outgoing": outgoing,
                "at": at,
                "until": until,
            }
            if reminder_key not in claimed:
                found.dues.append(
                    Due(reminder_key, SHIFT_START, at - remind, running, rid, data=data)
                )
            if at > now_s:
                found.later(at)
            elif handoff_key not in claimed:
                found.dues.append(Due(handoff_key, HANDOFF, at, running, rid, data=data))
    return found


def _team_moment(day: date, tz: ZoneInfo) -> int:
    return seconds(engine.resolve(datetime.combine(day, DAILY_AT), tz))


def due_gap_warning(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find the daily coverage-gap check due at 09:00 team time (relevant the same day)."""
    found = Found()
    tz = ZoneInfo(svc.config.team.timezone)
    today = now.astimezone(tz).date()
    now_s = seconds(now)
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        at = _team_moment(day, tz)
        key = f"{GAPS}:{day.isoformat()}"
        if at > now_s:
            found.later(at)
        elif key not in known.claimed and at >= max(now_s - _LOOKBACK_S, known.started_s):
            found.dues.append(Due(key, GAPS, at, day == today, GAPS))
    return found


def due_digest(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find the weekly digest due Monday 09:00 team time (relevant until that day ends)."""
    found = Found()
    tz = ZoneInfo(svc.config.team.timezone)
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    now_s = seconds(now)
    for week in (monday - timedelta(weeks=1), monday, monday + timedelta(weeks=1)):
        at = _team_moment(week, tz)
        year, number, _ = week.isocalendar()
        key = f"{DIGEST}:{year}-W{number:02d}"
        if at > now_s:
            found.later(at)
        elif key not in known.claimed and at >= max(now_s - _LOOKBACK_S, known.started_s):
            found.dues.append(Due(key, DIGEST, at, week == today, DIGEST))
    return found


def _still_paging(esc: Escalation | None) -> bool:
    return esc is not None and esc.status in PAGEABLE and esc.acknowledged_at is None


def _last_page(svc: Services, round_: int, step: int) -> bool:
    policy = svc.config.escalation_policy
    return round_ * len(policy.steps) + step + 1 >= len(policy.steps) * (policy.repeat + 1)


def _step_label(step: int, round_: int) -> str:
    return f"step {step + 1}" + (f" (round {round_ + 1})" if round_ else "")
