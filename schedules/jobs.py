"""What a scheduler pass does: find every ping due, claim each once, hand it to the outbox."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot import pings
from bot.services import Services

log = logging.getLogger(__name__)

Finder = Callable[[Services, pings.Snapshot, pings.Known, datetime], pings.Found]


def pages(svc: Services, snap: pings.Snapshot, known: pings.Known, now: datetime) -> pings.Found:
    """Page the escalation policy's next step for unacknowledged escalations."""
    return pings.due_pages(svc, snap, known, now)


def update_reminders(
    svc: Services, snap: pings.Snapshot, known: pings.Known, now: datetime
) -> pings.Found:
    """Remind owners of escalations without a recent status update."""
    return pings.due_update_reminders(svc, snap, known, now)


def signoff_reminders(
    svc: Services, snap: pings.Snapshot, known: pings.Known, now: datetime
) -> pings.Found:
    """Re-ping groups whose sign-off is still pending."""
    return pings.due_signoff_reminders(svc, snap, known, now)


def rotation_pings(
    svc: Services, snap: pings.Snapshot, known: pings.Known, now: datetime
) -> pings.Found:
    """Remind people before their shift and announce handoffs."""
    return pings.due_rotation_pings(svc, snap, known, now)


def gap_warnings(
    svc: Services, snap: pings.Snapshot, known: pings.Known, now: datetime
) -> pings.Found:
    """Warn the team channel of coverage gaps, daily."""
    return pings.due_gap_warning(svc, snap, known, now)


def weekly_digest(
    svc: Services, snap: pings.Snapshot, known: pings.Known, now: datetime
) -> pings.Found:
    """Post the weekly digest on Mondays."""
    return pings.due_digest(svc, snap, known, now)


JOBS: tuple[Finder, ...] = (
    pages,
    update_reminders,
    signoff_reminders,
    rotation_pings,
    gap_warnings,
    weekly_digest,
)


@dataclass
class Tick:
    """The outcome of one pass."""

    now: datetime
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    outbox: list[str] = field(default_factory=list)
    next_at: datetime | None = None
    seconds: float = 0.0


def run_due(
    svc: Services,
    known: pings.Known,
    now: datetime,
    *,
    since: datetime | None = None,
    submit: bool = True,
) -> Tick:
    """Claim and stage every ping due at `now`; submit the outbox items unless told not to.

    With `since` (the previous pass's moment) only reminders due after it are looked at;
    without, everything due over the lookback is.
    """
    started = time.perf_counter()
    snap = pings.load_snapshot(svc, now, since)
    dues: list[pings.Due] = []
    tick = Tick(now)
    next_s: int | None = None
    for job in JOBS:
        svc.foreground.give_way()  # a pass is long: requests being answered go first
        found = job(svc, snap, known, now)
        dues.extend(found.dues)
        if found.next_s is not None and (next_s is None or found.next_s < next_s):
            next_s = found.next_s
    svc.foreground.give_way()
    fresh = known.unclaimed(svc, dues)
    svc.foreground.give_way()
    claimed = pings.claim(svc, fresh, now) if fresh else pings.Claimed()
    known.remember(fresh, claimed.known)
    known.prune(snap, pings.seconds(now - pings.LOOKBACK) - 3600)
    tick.next_at = pings.instant(next_s) if next_s is not None else None
    tick.sent, tick.skipped, tick.empty = claimed.sent, claimed.skipped, claimed.empty
    tick.taken, tick.outbox = claimed.taken, claimed.outbox
    if submit:
        for key in claimed.outbox:
            svc.outbox.submit(key)
    tick.seconds = time.perf_counter() - started
    if claimed.sent or claimed.skipped:
        log.info(
            "pings at %s: sent %d, skipped %d, others had %d (%.0f ms)",
            now.isoformat(),
            len(claimed.sent),
            len(claimed.skipped),
            len(claimed.taken),
            tick.seconds * 1000,
        )
    return tick
