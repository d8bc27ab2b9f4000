"""Pings: what is due when, claimed once in the ledger, sent through the outbox.

Every ping has a natural key (kind, subject, due moment). A pass of the scheduler finds
what is due from the database and the config, claims each key in the sent-notifications
ledger in the same transaction that stages the outbox items doing the Slack side, then
hands the items to the outbox. The unique key makes a second process, a reconcile pass or
a restart unable to send the same ping again; the outbox retries until the send is done.

A series (an escalation's pages, its update reminders, a rotation's handoffs…) only ever
sends its latest due ping: when the bot was down across several due moments, the earlier
ones are recorded as skipped and the latest one, if still relevant, is sent once.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot import blocks
from bot.config import Severity
from bot.escalations import CARD_EVENT, post_once
from bot.oncall import to_overrides
from bot.outbox import Job
from bot.services import Services
from schedules import rotation as engine
from storage.db import UnitOfWork
from storage.models import Escalation, Followup, Participant, Signoff

log = logging.getLogger(__name__)

# Ping kinds: the first part of every ledger key.
PAGE = "page"
SHIFT_START = "shift_start"
HANDOFF = "handoff"
UPDATE_REMINDER = "update_reminder"
SIGNOFF_REMINDER = "signoff_reminder"
GAPS = "gaps"
DIGEST = "digest"
KINDS = (PAGE, SHIFT_START, HANDOFF, UPDATE_REMINDER, SIGNOFF_REMINDER, GAPS, DIGEST)
RECURRING = (UPDATE_REMINDER, SIGNOFF_REMINDER)

# Outbox kinds: each item does one Slack write.
OUT_PAGE = "ping.page"
OUT_PAGE_DM = "ping.page_dm"
OUT_SHIFT_START = "ping.shift_start"
OUT_HANDOFF = "ping.handoff"
OUT_HANDOFF_BRIEF = "ping.handoff_brief"
OUT_UPDATE_REMINDER = "ping.update_reminder"
OUT_SIGNOFF_REMINDER = "ping.signoff_reminder"
OUT_GAPS = "ping.gaps"
OUT_DIGEST = "ping.digest"

# Ledger statuses.
SENT = "sent"
SKIPPED = "skipped"  # stale when found, or moot when claimed
EMPTY = "empty"  # due, but there was nothing to say (no coverage gaps)

OPEN = ("open", "acknowledged", "reopened")
PAGEABLE = ("open", "reopened")
LOOKBACK = timedelta(hours=24)  # how far back a pass looks for pings missed while down
HORIZON = timedelta(days=1)  # how far ahead rotation handoffs are looked for
STAFF_GRACE = timedelta(seconds=60)  # a page in the channel waits this long for the card
GAP_WINDOW = timedelta(days=14)
DAILY_AT = time(9, 0)  # coverage-gap warnings daily and the digest on Mondays, team time
MAX_SKIPS = 100  # stale moments recorded per series and pass


class NotReady(Exception):
    """The escalation's channel is not there yet; the outbox tries again later."""


# -- what is due ------------------------------------------------------------------------------


@dataclass(slots=True)
class Due:
    """One ping whose moment has come: send it, or record it as skipped (stale)."""

    key: str
    kind: str
    due_at: datetime
    send: bool
    series: str = ""
    escalation_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Found:
    """What one kind of ping has due now, and the next moment something of it falls due."""

    dues: list[Due] = field(default_factory=list)
    next_at: datetime | None = None

    def later(self, at: datetime) -> None:
        """Note a future due moment."""
        if self.next_at is None or at < self.next_at:
            self.next_at = at


@dataclass
class Known:
    """Keys this process knows are claimed: a cache of the ledger, which only ever grows."""

    claimed: set[str] = field(default_factory=set)
    last: dict[str, datetime] = field(default_factory=dict)  # series -> newest claimed moment

    def load(self, svc: Services, now: datetime) -> None:
        """Learn the newest claimed moment of each recurring series from the ledger."""
        with svc.db.uow() as uow:
            rows = uow.repos.ledger.recent(RECURRING, now - LOOKBACK)
        for key, due_at in rows:
            self.claimed.add(key)
            series = key.rsplit(":", 1)[0]
            if series not in self.last or due_at > self.last[series]:
                self.last[series] = due_at

    def remember(self, dues: Iterable[Due], claimed: set[str]) -> None:
        """Keep what this pass saw claimed; forget series and keys no longer produced."""
        keep: set[str] = set()
        last: dict[str, datetime] = {}
        for due in dues:
            if due.key in claimed or due.key in self.claimed:
                keep.add(due.key)
                if due.kind in RECURRING and (
                    due.series not in last or due.due_at > last[due.series]
                ):
                    last[due.series] = due.due_at
            elif due.kind in RECURRING and due.series in self.last:
                last.setdefault(due.series, self.last[due.series])
        self.claimed = keep
        self.last = last


@dataclass
class Snapshot:
    """The rows a pass plans from, read in one unit of work."""

    now: datetime
    escalations: list[Any]
    signoffs: list[Any]
    overrides: dict[str, list[engine.Override]]


def stamp(instant: datetime) -> str:
    """Return the instant as a compact ISO 8601 UTC stamp for keys: 20260308T170000Z."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def load_snapshot(svc: Services, now: datetime) -> Snapshot:
    """Read open escalations, pending sign-offs and nearby overrides in one unit of work."""
    with svc.db.uow() as uow:
        escalations = list(
            uow.session.execute(
                select(
                    Escalation.id,
                    Escalation.severity,
                    Escalation.status,
                    Escalation.owner,
                    Escalation.created_at,
                    Escalation.ack_deadline,
                    Escalation.acknowledged_at,
                    Escalation.last_update_at,
                ).where(Escalation.status.in_(OPEN))
            )
        )
        signoffs = list(
            uow.session.execute(
                select(Signoff.id, Signoff.escalation_id, Signoff.requested_at)
                .join(Escalation, Escalation.id == Signoff.escalation_id)
                .where(Signoff.status == "pending", Escalation.status.in_(OPEN))
            )
        )
        rows = uow.repos.overrides.active(
            ending_after=now - LOOKBACK, starting_before=now + HORIZON + timedelta(days=1)
        )
    overrides: dict[str, list[Any]] = {}
    for row in rows:
        overrides.setdefault(row.rotation, []).append(row)
    return Snapshot(
        now, escalations, signoffs, {rid: to_overrides(rs) for rid, rs in overrides.items()}
    )


def _severities(svc: Services) -> dict[str, Severity]:
    return {s.id: s for s in svc.config.severities}


def due_pages(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find pages due: step 0 at creation, then one step per `ack_within` until acknowledged.

    Page i (round i // steps, step i % steps) is due at creation for i = 0, else at the
    escalation's ack deadline plus (i - 1) × ack_within; `repeat` more rounds follow the
    first. Only the latest due page of an escalation is sent; earlier unsent ones are stale.
    """
    found = Found()
    policy = svc.config.escalation_policy
    steps = len(policy.steps)
    total = steps * (policy.repeat + 1)
    severities = _severities(svc)
    for esc in snap.escalations:
        if esc.status not in PAGEABLE or esc.acknowledged_at is not None:
            continue
        severity = severities.get(esc.severity)
        if severity is None:
            continue
        every = severity.ack_within

        def due(i: int, esc: Any = esc, every: timedelta = every) -> datetime:
            return esc.created_at if i == 0 else esc.ack_deadline + every * (i - 1)

        if now < esc.created_at:
            found.later(esc.created_at)
            continue
        last = (
            0 if now < esc.ack_deadline else min(total - 1, 1 + (now - esc.ack_deadline) // every)
        )
        if last + 1 < total:
            found.later(due(last + 1))
        series = f"{PAGE}:{esc.id}"
        for i in range(last, -1, -1):
            key = f"{series}:{i // steps}:{i % steps}"
            found.dues.append(
                Due(
                    key,
                    PAGE,
                    due(i),
                    i == last,
                    series,
                    esc.id,
                    {"round": i // steps, "step": i % steps},
                )
            )
            if i < last and key in known.claimed:
                break  # everything before a claimed page was settled when it was claimed
    return found


def _recurring(
    found: Found,
    known: Known,
    kind: str,
    series: str,
    base: datetime,
    every: timedelta,
    now: datetime,
    escalation_id: int | None,
    data: dict[str, Any],
) -> None:
    """Add the latest due moment of `base + k × every` (k ≥ 1) and the stale ones before it."""
    first = base + every
    if now < first:
        found.later(first)
        return
    latest = base + every * ((now - base) // every)
    found.later(latest + every)
    found.dues.append(
        Due(f"{series}:{stamp(latest)}", kind, latest, True, series, escalation_id, data)
    )
    floor = max(known.last.get(series, base), now - LOOKBACK)
    at = latest - every
    for _ in range(MAX_SKIPS):
        if at <= floor or at < first:
            break
        found.dues.append(Due(f"{series}:{stamp(at)}", kind, at, False, series, escalation_id))
        at -= every


def due_update_reminders(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find update reminders due: each `update_every` without a status update, to the owner."""
    found = Found()
    severities = _severities(svc)
    for esc in snap.escalations:
        severity = severities.get(esc.severity)
        if severity is None:
            continue
        base = esc.last_update_at or esc.created_at
        _recurring(
            found,
            known,
            UPDATE_REMINDER,
            f"{UPDATE_REMINDER}:{esc.id}",
            base,
            severity.update_every,
            now,
            esc.id,
            {"since": base.isoformat()},
        )
    return found


def due_signoff_reminders(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find sign-off reminders due: every `signoff_remind_every` while the request is pending."""
    found = Found()
    every = svc.config.team.signoff_remind_every
    for signoff in snap.signoffs:
        _recurring(
            found,
            known,
            SIGNOFF_REMINDER,
            f"{SIGNOFF_REMINDER}:{signoff.id}",
            signoff.requested_at,
            every,
            now,
            signoff.escalation_id,
            {"signoff": signoff.id},
        )
    return found


def due_rotation_pings(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find shift-start reminders (`remind_before` ahead) and handoffs due, per rotation.

    A handoff is a change of who is on call in the final schedule (overrides included) to
    someone; it is relevant while the incoming shift lasts, as is its reminder.
    """
    found = Found()
    remind = svc.config.team.remind_before
    for rid, rot in svc.oncall.rotations.items():
        segments = engine.timeline(
            rot, now - LOOKBACK, now + HORIZON + remind, snap.overrides.get(rid, ())
        )
        for prev, seg in itertools.pairwise(segments):
            if seg.user is None:
                continue
            running = now < seg.end
            at = seg.start
            data = {
                "rotation": rid,
                "incoming": seg.user,
                "outgoing": prev.user,
                "at": at.isoformat(),
            }
            reminder_at = at - remind
            if reminder_at <= now:
                found.dues.append(
                    Due(
                        f"{SHIFT_START}:{rid}:{seg.user}:{stamp(at)}",
                        SHIFT_START,
                        reminder_at,
                        running,
                        f"{SHIFT_START}:{rid}",
                        data=data,
                    )
                )
            else:
                found.later(reminder_at)
            if at <= now:
                found.dues.append(
                    Due(
                        f"{HANDOFF}:{rid}:{stamp(at)}",
                        HANDOFF,
                        at,
                        running,
                        f"{HANDOFF}:{rid}",
                        data=data,
                    )
                )
            else:
                found.later(at)
    return found


def _team_moment(day: date, tz: ZoneInfo) -> datetime:
    return engine.resolve(datetime.combine(day, DAILY_AT), tz)


def due_gap_warning(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find the daily coverage-gap check due at 09:00 team time (relevant the same day)."""
    found = Found()
    tz = ZoneInfo(svc.config.team.timezone)
    today = now.astimezone(tz).date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        at = _team_moment(day, tz)
        if at > now:
            found.later(at)
            continue
        found.dues.append(
            Due(f"{GAPS}:{day.isoformat()}", GAPS, at, day == today, GAPS, data={"day": str(day)})
        )
    return found


def due_digest(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find the weekly digest due Monday 09:00 team time (relevant until that day ends)."""
    found = Found()
    tz = ZoneInfo(svc.config.team.timezone)
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    for week in (monday - timedelta(weeks=1), monday, monday + timedelta(weeks=1)):
        at = _team_moment(week, tz)
        if at > now:
            found.later(at)
            continue
        year, number, _ = week.isocalendar()
        found.dues.append(Due(f"{DIGEST}:{year}-W{number:02d}", DIGEST, at, week == today, DIGEST))
    return found


# -- claiming ---------------------------------------------------------------------------------


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
        except Exception:
            log.exception("claiming %d pings failed; trying them one by one", len(chunk))
            for due in chunk:
                try:
                    out.extend(_claim(svc, [due], now))
                except Exception:
                    log.exception("could not claim %s; retrying next pass", due.key)
    return out


def _claim(svc: Services, dues: Sequence[Due], now: datetime) -> Claimed:
    out = Claimed()
    with svc.db.uow() as uow:
        rows = [(d.key, d.kind, d.due_at, SENT if d.send else SKIPPED) for d in dues]
        won = uow.repos.ledger.claim_many(rows, now)
        for due in dues:
            if due.key not in won:
                out.taken.append(due.key)
            elif not due.send:
                out.skipped.append(due.key)
            else:
                keys = STAGERS[due.kind](svc, uow, due, now)
                if keys is None:
                    uow.repos.ledger.set_status(due.key, SKIPPED)
                    out.skipped.append(due.key)
                elif not keys:
                    uow.repos.ledger.set_status(due.key, EMPTY)
                    out.empty.append(due.key)
                else:
                    out.sent.append(due.key)
                    out.outbox.extend(keys)
        uow.commit()
    return out


def _add(uow: UnitOfWork, key: str, kind: str, now: datetime, **payload: Any) -> str:
    uow.repos.outbox.add(key, kind, now, **payload)
    return key


def _stage_page(svc: Services, uow: UnitOfWork, due: Due, now: datetime) -> list[str] | None:
    esc = uow.repos.escalations.get(int(due.escalation_id or 0))
    if esc is None or esc.status not in PAGEABLE or esc.acknowledged_at is not None:
        return None  # acknowledged since the pass read it: paging has stopped
    round_, step = due.data["round"], due.data["step"]
    users: dict[str, None] = {}
    usergroups: dict[str, None] = {}
    for spec in svc.config.escalation_policy.steps[step].notify:
        target = svc.oncall.target(uow.repos.overrides, spec, now)
        users.update(dict.fromkeys(target.users))
        usergroups.update(dict.fromkeys(target.usergroups))
    present = {p.user_id for p in esc.participants}
    for user in users:
        if user not in present:
            uow.repos.escalations.add_participant(
                Participant(escalation_id=esc.id, user_id=user, role="oncall", added_at=now)
            )
    uow.repos.escalations.add_event(
        esc.id,
        now,
        "paged",
        None,
        round=round_,
        step=step,
        users=list(users),
        usergroups=list(usergroups),
        due_at=due.due_at.isoformat(),
    )
    common = {"escalation_id": esc.id, "round": round_, "step": step}
    keys = [
        _add(
            uow,
            due.key,
            OUT_PAGE,
            now,
            users=list(users),
            usergroups=list(usergroups),
            **common,
        )
    ]
    for user in users:
        keys.append(_add(uow, f"{due.key}:dm:{user}", OUT_PAGE_DM, now, user=user, **common))
    for usergroup in usergroups:
        keys.append(
            _add(uow, f"{due.key}:dm:{usergroup}", OUT_PAGE_DM, now, usergroup=usergroup, **common)
        )
    return keys


def _owned_open(uow: UnitOfWork, owner: str | None) -> list[int]:
    if owner is None:
        return []
    return list(
        uow.session.scalars(
            select(Escalation.id)
            .where(Escalation.owner == owner, Escalation.status.in_(OPEN))
            .order_by(Escalation.id)
        )
    )


def _shift_bounds(svc: Services, uow: UnitOfWork, rotation: str, at: datetime) -> engine.Shift:
    rot = svc.oncall.rotations[rotation]
    overrides = svc.oncall.overrides(
        uow.repos.overrides, rotation, at - timedelta(days=60), at + timedelta(days=60)
    )
    shift = engine.on_call(rot, at, overrides)
    assert shift is not None
    return shift


def _stage_shift_start(svc: Services, uow: UnitOfWork, due: Due, now: datetime) -> list[str] | None:
    data = due.data
    at = datetime.fromisoformat(data["at"])
    shift = _shift_bounds(svc, uow, data["rotation"], at)
    return [
        _add(
            uow,
            due.key,
            OUT_SHIFT_START,
            now,
            rotation=data["rotation"],
            user=data["incoming"],
            start=at.isoformat(),
            end=shift.end.isoformat(),
            outgoing=data["outgoing"],
            escalations=_owned_open(uow, data["outgoing"]),
        )
    ]


def _stage_handoff(svc: Services, uow: UnitOfWork, due: Due, now: datetime) -> list[str] | None:
    data = due.data
    common = {
        "rotation": data["rotation"],
        "outgoing": data["outgoing"],
        "incoming": data["incoming"],
        "at": data["at"],
    }
    return [
        _add(uow, due.key, OUT_HANDOFF, now, **common),
        _add(
            uow,
            f"{due.key}:brief",
            OUT_HANDOFF_BRIEF,
            now,
            escalations=_owned_open(uow, data["outgoing"]),
            **common,
        ),
    ]


def _stage_update_reminder(
    svc: Services, uow: UnitOfWork, due: Due, now: datetime
) -> list[str] | None:
    esc = uow.repos.escalations.get(int(due.escalation_id or 0))
    if esc is None or esc.status not in OPEN:
        return None
    if (esc.last_update_at or esc.created_at).isoformat() != due.data["since"]:
        return None  # a status update arrived since the pass read it
    uow.repos.escalations.add_event(
        esc.id, now, "update_reminder", None, owner=esc.owner, due_at=due.due_at.isoformat()
    )
    return [
        _add(
            uow,
            due.key,
            OUT_UPDATE_REMINDER,
            now,
            escalation_id=esc.id,
            since=due.data["since"],
        )
    ]


def _stage_signoff_reminder(
    svc: Services, uow: UnitOfWork, due: Due, now: datetime
) -> list[str] | None:
    signoff = uow.session.get(Signoff, due.data["signoff"])
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
    return [
        _add(
            uow,
            due.key,
            OUT_SIGNOFF_REMINDER,
            now,
            escalation_id=signoff.escalation_id,
            signoff=signoff.id,
        )
    ]


def coverage_gaps(
    svc: Services, uow: UnitOfWork, start: datetime, end: datetime
) -> list[engine.Shift]:
    """Return every window of [start, end) where a rotation has nobody on call."""
    out: list[engine.Shift] = []
    for rid, rot in svc.oncall.rotations.items():
        overrides = svc.oncall.overrides(uow.repos.overrides, rid, start, end)
        out.extend(engine.gaps(rot, start, end, overrides))
    return out


def _stage_gaps(svc: Services, uow: UnitOfWork, due: Due, now: datetime) -> list[str] | None:
    start = max(now, due.due_at)
    found = coverage_gaps(svc, uow, start, start + GAP_WINDOW)
    if not found:
        return []
    gaps = [
        {"rotation": g.rotation, "start": g.start.isoformat(), "end": g.end.isoformat()}
        for g in found
    ]
    return [_add(uow, due.key, OUT_GAPS, now, gaps=gaps, days=GAP_WINDOW.days)]


def _median_seconds(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def weekly_stats(uow: UnitOfWork, start: datetime, end: datetime, now: datetime) -> dict[str, Any]:
    """Return the trends of escalations raised in [start, end), as plain JSON-ready data.

    Restricted escalations count in every number but are never named.
    """
    raised = list(
        uow.session.scalars(
            select(Escalation)
            .where(Escalation.created_at >= start, Escalation.created_at < end)
            .order_by(Escalation.id)
        )
    )
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
    followups = list(uow.session.scalars(select(Followup.kind).where(Followup.status == "open")))
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
        "open_followups": dict(sorted(Tally(followups).items())),
    }


def _stage_digest(svc: Services, uow: UnitOfWork, due: Due, now: datetime) -> list[str] | None:
    stats = weekly_stats(uow, due.due_at - timedelta(days=7), due.due_at, now)
    week = due.key.split(":", 1)[1]
    return [_add(uow, due.key, OUT_DIGEST, now, week=week, stats=stats)]


STAGERS = {
    PAGE: _stage_page,
    SHIFT_START: _stage_shift_start,
    HANDOFF: _stage_handoff,
    UPDATE_REMINDER: _stage_update_reminder,
    SIGNOFF_REMINDER: _stage_signoff_reminder,
    GAPS: _stage_gaps,
    DIGEST: _stage_digest,
}


# -- sending (outbox handlers) ----------------------------------------------------------------


def _escalation(svc: Services, number: int) -> Escalation | None:
    with svc.db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        if esc is not None:
            _ = list(esc.participants)
        return esc


def _dm(
    svc: Services, user: str, key: str, text: str, dm_blocks: list[dict[str, Any]] | None
) -> None:
    # Tagged like post_once's messages, so every ping in Slack names its ledger key.
    svc.slack.post(
        user,
        text,
        blocks=dm_blocks,
        metadata={"event_type": CARD_EVENT, "event_payload": {"key": key}},
    )


def _still_paging(esc: Escalation | None) -> bool:
    return esc is not None and esc.status in PAGEABLE and esc.acknowledged_at is None


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
    invited = {p.user_id for p in esc.participants if p.invited_at is not None}
    missing = [u for u in users if u not in invited]
    if missing:
        result = svc.slack.invite(esc.channel_id, missing)
        now = svc.clock()
        with svc.db.uow() as uow:
            row = uow.repos.escalations.get(esc.id)
            assert row is not None
            for participant in row.participants:
                if participant.user_id in result.failed:
                    participant.invite_error = result.failed[participant.user_id]
                elif participant.user_id in missing:
                    participant.invited_at = now
            uow.repos.escalations.add_event(
                esc.id, now, "invited", None, users=result.invited, failed=result.failed
            )
            uow.commit()
    text, page_blocks = blocks.page_message(
        esc, users, usergroups, job.payload["step"], job.payload["round"]
    )
    post_once(svc, esc.channel_id, job.key, text, page_blocks, retrying=job.retrying)


def send_page_dm(svc: Services, job: Job) -> None:
    """DM a paged person (or every member of a paged user group)."""
    esc = _escalation(svc, int(job.escalation_id or 0))
    if esc is None or not _still_paging(esc):
        return
    text, dm_blocks = blocks.page_dm(esc, job.payload["step"], job.payload["round"])
    if job.payload.get("user"):
        _dm(svc, job.payload["user"], job.key, text, dm_blocks)
        return
    for user in svc.slack.usergroup_members(job.payload["usergroup"]):
        _dm(svc, user, f"{job.key}:{user}", text, dm_blocks)


def _open_escalations(svc: Services, numbers: Sequence[int], owner: str | None) -> list[Any]:
    if not numbers:
        return []
    with svc.db.uow() as uow:
        return list(
            uow.session.scalars(
                select(Escalation)
                .where(Escalation.id.in_(numbers), Escalation.status.in_(OPEN))
                .where(Escalation.owner == owner)
                .order_by(Escalation.id)
            )
        )


def send_shift_start(svc: Services, job: Job) -> None:
    """DM the incoming person: rotation, shift window in their time zone, what they inherit."""
    p = job.payload
    rotation_tz = svc.config.rotations[p["rotation"]].timezone
    tz = svc.slack.user_timezone(p["user"], default=rotation_tz)
    inherit = _open_escalations(svc, p.get("escalations") or [], p.get("outgoing"))
    text, dm_blocks = blocks.shift_start_reminder(
        p["rotation"],
        datetime.fromisoformat(p["start"]),
        datetime.fromisoformat(p["end"]),
        tz,
        inherit,
        p.get("outgoing"),
    )
    _dm(svc, p["user"], job.key, text, dm_blocks)


def send_handoff(svc: Services, job: Job) -> None:
    """Post `<rotation>: @outgoing → @incoming` to the team channel."""
    p = job.payload
    text = blocks.handoff_notice(p["rotation"], p.get("outgoing"), p["incoming"])
    post_once(svc, svc.config.team.channel, job.key, text, None, retrying=job.retrying)


def send_handoff_brief(svc: Services, job: Job) -> None:
    """DM the incoming person the outgoing one's open escalations, each with Take ownership."""
    p = job.payload
    escalations = _open_escalations(svc, p.get("escalations") or [], p.get("outgoing"))
    text, dm_blocks = blocks.handoff_brief(p["rotation"], p.get("outgoing"), escalations)
    _dm(svc, p["incoming"], job.key, text, dm_blocks)


def send_update_reminder(svc: Services, job: Job) -> None:
    """Remind the owner in the channel to post a status update."""
    esc = _escalation(svc, int(job.escalation_id or 0))
    if esc is None or esc.status not in OPEN:
        return
    if (esc.last_update_at or esc.created_at).isoformat() != job.payload["since"]:
        return  # updated after the reminder was claimed
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    since = datetime.fromisoformat(job.payload["since"])
    text = blocks.update_reminder(esc, since, svc.clock())
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


SENDERS = {
    OUT_PAGE: send_page,
    OUT_PAGE_DM: send_page_dm,
    OUT_SHIFT_START: send_shift_start,
    OUT_HANDOFF: send_handoff,
    OUT_HANDOFF_BRIEF: send_handoff_brief,
    OUT_UPDATE_REMINDER: send_update_reminder,
    OUT_SIGNOFF_REMINDER: send_signoff_reminder,
    OUT_GAPS: send_gaps,
    OUT_DIGEST: send_digest,
}


def register_outbox(svc: Services) -> None:
    """Register the outbox handlers that send pings."""
    for kind, sender in SENDERS.items():
        svc.outbox.register(kind, lambda job, sender=sender: sender(svc, job))
