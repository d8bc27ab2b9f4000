"""One scheduler pass: find every ping due, claim each once, hand it to the outbox."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.pings import plan as pings
from bot.pings import stage
from bot.services import Services

log = logging.getLogger(__name__)

Finder = Callable[[Services, pings.Snapshot, pings.Known, datetime], pings.Found]


# Each finds one family of due pings over a pass's snapshot, in this order.
FINDERS: tuple[Finder, ...] = (
    pings.due_pages,  # the escalation policy's next step for unacknowledged escalations
    pings.due_update_reminders,  # owners of escalations without a recent status update
    pings.due_signoff_reminders,  # groups whose sign-off is still pending
    pings.due_deadlines,  # deadlines coming (owner reminded) or passed unresolved (paged)
    pings.due_role_reminders,  # owners of escalations with a required role nobody holds
    pings.due_rotation_pings,  # shift-start reminders and handoffs
    pings.due_gap_warning,  # coverage gaps, daily, in the team channel
    pings.due_digest,  # the weekly digest on Mondays
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
    for find in FINDERS:
        svc.foreground.give_way()  # a pass is long: requests being answered go first
        found = find(svc, snap, known, now)
        dues.extend(found.dues)
        if found.next_s is not None and (next_s is None or found.next_s < next_s):
            next_s = found.next_s
    svc.foreground.give_way()
    fresh = known.unclaimed(svc, dues)
    svc.foreground.give_way()
    claimed = stage.claim(svc, fresh, now) if fresh else stage.Claimed()
    known.remember(fresh, claimed.known)
    if snap.full:  # what it forgets is older than a day: once an hour is soon enough
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
