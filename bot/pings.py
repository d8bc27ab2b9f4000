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

Planning works in whole epoch seconds: a pass reads one small row per open escalation, and
integers are cheap to fetch and to do arithmetic on.
"""

from __future__ import annotations

import functools
import itertools
import logging
import statistics
import time as clock_time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import blocks
from bot.errors import UserError, database_unreachable
from bot.escalations import CARD_EVENT, post_once, record_invites
from bot.lifecycle import Where, locate
from bot.oncall import Target, to_overrides
from bot.outbox import Job, NotReady, Permanent
from bot.policy import Act
from bot.services import Services
from bot.slack import SlackError
from schedules import rotation as engine
from storage.db import UnitOfWork
from storage.models import Escalation, Participant, Signoff
from storage.repositories import NewItem

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
# A page DM waits this long for the channel it links to; then it goes without the link (the
# page is what matters: in a burst, Slack lets 20 channels a minute be created).
PAGE_DM_GRACE = timedelta(seconds=2)
GAP_WINDOW = timedelta(days=14)
DAILY_AT = time(9, 0)  # coverage-gap warnings daily and the digest on Mondays, team time
MAX_SKIPS = 100  # stale moments recorded per series and pass
# Slack's answers to a direct message that no retry can change.
UNREACHABLE = frozenset(
    {"user_not_found", "channel_not_found", "user_disabled", "cannot_dm_bot", "account_inactive"}
)
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
        self.claimed = {
            k: s for k, s in self.claimed.items() if s >= keep_s or _paging(k, paging)
        }
        if not snap.full:
            return
        open_ids = {row[0] for row in snap.escalations}
        pending = {row[0] for row in snap.signoffs}
        self.last = {
            series: s
            for series, s in self.last.items()
            if series[1] in (open_ids if series[0] == UPDATE_REMINDER else pending)
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
        rows = uow.repos.overrides.active(
            ending_after=now - LOOKBACK, starting_before=now + HORIZON + timedelta(days=2)
        )
    overrides: dict[str, list[Any]] = {}
    for row in rows:
        overrides.setdefault(row.rotation, []).append(row)
    return Snapshot(
        now,
        escalations,
        unacknowledged,
        signoffs,
        {rid: to_overrides(rs) for rid, rs in overrides.items()},
        full,
    )


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


def due_signoff_reminders(svc: Services, snap: Snapshot, known: Known, now: datetime) -> Found:
    """Find sign-off reminders due: every `signoff_remind_every` while the request is pending."""
    found = Found()
    every = int(svc.config.team.signoff_remind_every.total_seconds())
    now_s = seconds(now)
    for signoff, escalation_id, requested in snap.signoffs:
        _recurring(found, known, SIGNOFF_REMINDER, signoff, requested, every, now_s, escalation_id)
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
        held = uow.repos.escalations.load_many(  # the session keeps only what is referenced
            {d.escalation_id for d in dues if d.send and d.key in won and d.escalation_id}
        )
        stagers: dict[str, Stager] = {**STAGERS, PAGE: functools.partial(_stage_page, targets={})}
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
        uow.repos.outbox.add_many(items, now)
        uow.commit()
    del held
    out.outbox = [item.key for item in items]
    return out


def _stage_page(
    svc: Services,
    uow: UnitOfWork,
    due: Due,
    now: datetime,
    targets: dict[str, Target] | None = None,
) -> list[NewItem] | None:
    """Stage a page; `targets` memoizes whom each spec pages at `now` over one batch."""
    esc = uow.repos.escalations.get(int(due.escalation_id or 0))
    if esc is None or esc.status not in PAGEABLE or esc.acknowledged_at is not None:
        return None  # acknowledged since the pass read it: paging has stopped
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
    present = {p.user_id: p for p in esc.participants}
    for user in users:
        if user in present:
            present[user].role = "oncall"  # paged: a responder of this escalation from now on
        else:
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
    common = {"round": round_, "step": step}
    items = [
        _item(
            due.key,
            OUT_PAGE,
            esc.id,
            users=list(users),
            usergroups=list(usergroups),
            **common,
        )
    ]
    items += [_item(f"{due.key}:dm:{u}", OUT_PAGE_DM, esc.id, user=u, **common) for u in users]
    items += [
        _item(f"{due.key}:dm:{g}", OUT_PAGE_DM, esc.id, usergroup=g, **common) for g in usergroups
    ]
    return items


def _owned_open(uow: UnitOfWork, owner: str | None) -> list[int]:
    return uow.repos.pings.owned(owner, OPEN) if owner else []


def _stage_shift_start(
    svc: Services, uow: UnitOfWork, due: Due, now: datetime
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
            escalations=_owned_open(uow, data["outgoing"]),
        )
    ]


def _stage_handoff(svc: Services, uow: UnitOfWork, due: Due, now: datetime) -> list[NewItem] | None:
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
            escalations=_owned_open(uow, data["outgoing"]),
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


def coverage_gaps(
    svc: Services, uow: UnitOfWork, start: datetime, end: datetime
) -> list[engine.Shift]:
    """Return every window of [start, end) where a rotation has nobody on call."""
    out: list[engine.Shift] = []
    for rid, rot in svc.oncall.rotations.items():
        overrides = svc.oncall.overrides(uow.repos.overrides, rid, start, end)
        out.extend(engine.gaps(rot, start, end, overrides))
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


def _still_paging(esc: Escalation | None) -> bool:
    return esc is not None and esc.status in PAGEABLE and esc.acknowledged_at is None


def _last_page(svc: Services, round_: int, step: int) -> bool:
    policy = svc.config.escalation_policy
    return round_ * len(policy.steps) + step + 1 >= len(policy.steps) * (policy.repeat + 1)


def escalate_now(svc: Services, actor: str, number: int, round_: int, step: int) -> str:
    """Page the step after (round_, step) at once, for a responder pressing *Escalate now*.

    The page is the one the schedule would send later, claimed in the ledger under its own
    key, so a double click, a retry or the schedule catching up sends it once.
    """
    policy = svc.config.escalation_policy
    steps = len(policy.steps)
    total = steps * (policy.repeat + 1)
    if not (0 <= step < steps and 0 <= round_ <= policy.repeat):
        raise UserError("That button is out of date.")
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, Where(number), actor, Act.ESCALATE_NOW)
        ref, paging = esc.ref, _still_paging(esc)
        pressed = uow.repos.ledger.status(f"{PAGE}:{number}:{round_}:{step}")
    if pressed != SENT:  # a page that never went out has no button to press
        raise UserError("That button is out of date.")
    if not paging:
        return f"{ref} is no longer paging: it was acknowledged."
    index = round_ * steps + step + 1
    if index >= total:
        return f"{ref} has paged every step of the escalation policy."
    nxt_round, nxt_step = divmod(index, steps)
    key = f"{PAGE}:{number}:{nxt_round}:{nxt_step}"
    due = Due(key, PAGE, seconds(now), True, number, number, {"round": nxt_round, "step": nxt_step})
    claimed = claim(svc, [due], now)
    with svc.db.uow() as uow:
        if claimed.sent:
            uow.repos.escalations.add_event(
                number, now, "escalated_now", actor, round=nxt_round, step=nxt_step
            )
            uow.commit()
    for item in claimed.outbox:
        svc.outbox.submit(item)
    label = _step_label(nxt_step, nxt_round)
    if claimed.sent:
        return f"Paging {label} of {ref} now."
    return f"{label.capitalize()} of {ref} was already paged."


def _step_label(step: int, round_: int) -> str:
    return f"step {step + 1}" + (f" (round {round_ + 1})" if round_ else "")


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


def send_page_dm(svc: Services, job: Job) -> None:
    """DM a paged person (or every member of a paged user group)."""
    esc = _escalation(svc, int(job.escalation_id or 0))
    if esc is None or not _still_paging(esc):
        return
    if esc.channel_id is None and svc.clock() < esc.created_at + PAGE_DM_GRACE:
        raise NotReady(f"{esc.ref} has no channel yet")  # the DM links to it, if it can
    step, round_ = job.payload["step"], job.payload["round"]
    text, dm_blocks = blocks.page_dm(esc, step, round_, last=_last_page(svc, round_, step))
    if job.payload.get("user"):
        _dm(svc, job.payload["user"], job.key, text, dm_blocks, retrying=job.retrying)
        return
    # A user group fans out to one item per member, so a retry never DMs anyone twice.
    members = svc.slack.usergroup_members(job.payload["usergroup"])
    common = {"round": job.payload["round"], "step": job.payload["step"]}
    with svc.db.uow() as uow:
        uow.repos.outbox.add_many(  # a member's item staged before stays as it is
            [_item(f"{job.key}:{u}", OUT_PAGE_DM, esc.id, user=u, **common) for u in members],
            svc.clock(),
        )
        uow.commit()
    for user in members:
        svc.outbox.submit(f"{job.key}:{user}")


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
        svc.outbox.register(kind, functools.partial(sender, svc))
    # A page's DMs never queue behind staffing (its post in the channel needs the channel).
    svc.outbox.prioritize(f"{PAGE}:%:dm:%")
