"""APScheduler 3 wiring: date jobs at the next due moments, a periodic reconcile, pokes.

APScheduler only keeps time. What is due comes from the database on every pass
(`bot.pings.sweep`), and the sent-notifications ledger makes each ping go out once however
many passes, processes or restarts see it due. A date job is (re)scheduled at the next due
moment after every pass; an interval job reconciles every `reconcile_every` seconds to catch
changes made by other processes; a commit in this process that moves a ping's moment (a
use case marks it with `UnitOfWork.reschedules`) pokes a pass at once. The jobs
only poke: passes run off APScheduler's threads, one at a time, so a long pass never makes a
date job be skipped. While a long pass runs (the one on start, the periodic one, the hourly
one over the whole lookback: seconds at 50k open escalations), a pass at a due moment does not
wait for it: it runs beside it over what fell due after the long pass's moment, on a copy of
what the long one knows, and the ledger keeps each ping once whichever claims it. (Pages
falling due during a first pass of 2-4 s after a restart at 50k; bench_scheduler's lag phase
starts warm and never needs it.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.clock import system_clock
from bot.errors import database_unreachable
from bot.pings import plan as pings
from bot.pings import sweep
from bot.services import Services

log = logging.getLogger(__name__)

RECONCILE_EVERY = 30.0  # seconds
SINCE_MARGIN = timedelta(seconds=1)  # overlap of consecutive passes (moments are whole seconds)
# The periodic pass looks back over the time since the previous one and this much before it,
# so a change another process committed late, or stamped by a clock a little behind, still
# falls inside; once an hour (and on start) a pass looks over the whole lookback.
RECONCILE_MARGIN = timedelta(minutes=10)
LOOK_BACK_EVERY = timedelta(hours=1)
NEXT_JOB = "next_due"
# A pass the database stopped is tried again this soon (not at the next reconcile), so pings
# due during an outage go out within seconds of its end.
OUTAGE_RETRY = timedelta(seconds=2)
RECONCILE_JOB = "reconcile"


class Scheduler:
    """Sends every ping once: on start (what was missed), at each due moment, on pokes."""

    def __init__(
        self,
        svc: Services,
        *,
        reconcile_every: float = RECONCILE_EVERY,
        wall_clock: Callable[[], datetime] = system_clock,
    ):
        self.svc = svc
        self.reconcile_every = reconcile_every
        self.known = pings.Known()
        self.last_tick: sweep.Tick | None = None
        self._wall = wall_clock
        self.started = svc.clock()  # on a fresh database, pings run from here
        self._pass = threading.Lock()  # one pass at a time in this process...
        self._beside_lock = threading.Lock()  # ... and one beside a long one
        self._long_from: datetime | None = None  # the moment of the long pass under way
        self._loaded = False
        self._swept: datetime | None = None  # the moment of the last pass that finished
        self._reconciled: datetime | None = None  # ... of the last periodic (full) one
        self._looked_back: datetime | None = None  # ... of the last over the whole lookback
        self.last_pass_at: float | None = None  # when (epoch seconds) it finished
        self._poke_guard = threading.Lock()
        self._poke_queued: bool | None = None  # None: no pass queued; else whether full
        self._aps: BackgroundScheduler | None = None

    # -- passes -----------------------------------------------------------------------------

    def run_due(
        self, now: datetime | None = None, *, submit: bool = True, full: bool = False
    ) -> sweep.Tick:
        """Claim and send every ping due at `now` (default: the clock's now); return the pass.

        A pass looks at reminders that fell due since the previous one; a `full` pass (the
        periodic one) since the previous full one and `RECONCILE_MARGIN` before, catching
        what changes made by other processes moved behind the quick passes' windows; the
        first, and one an hour, over the whole lookback.
        """
        if not self._pass.acquire(blocking=False):
            beside = None if full else self._beside(now, submit)
            if beside is not None:
                return beside
            self._pass.acquire()  # a short pass under way (or this one is long): wait
        try:
            now = now or self.svc.clock()
            if not self._loaded:
                self.known.load(self.svc, now, started=self.started)
                self._loaded = True
            since = None
            if not full and self._swept is not None:
                since = min(self._swept, now) - SINCE_MARGIN
            elif (
                full
                and self._reconciled is not None
                and self._looked_back is not None
                and now - self._looked_back < LOOK_BACK_EVERY
            ):
                since = min(self._reconciled, now) - RECONCILE_MARGIN
            if full or since is None:
                self._long_from = now  # passes at due moments go on beside it
            tick = sweep.run_due(self.svc, self.known, now, since=since, submit=submit)
            self._swept = now
            if full or since is None:
                self._reconciled = now
            if since is None:
                self._looked_back = now
            self.last_tick = tick
            self.svc.telemetry.last_pass.set(time.time())
            self.last_pass_at = time.time()  # wall clock, for readiness
        finally:
            self._long_from = None
            self._pass.release()
        self._schedule(tick.next_at)
        return tick

    def _beside(self, now: datetime | None, submit: bool) -> sweep.Tick | None:
        """Beside a long pass under way, pass over what fell due after its moment; return
        None when no long pass runs (or it has not yet learned the ledger: wait for it)."""
        with self._beside_lock:
            since = self._long_from
            if since is None:
                return None
            now = now or self.svc.clock()
            # A copy: the long pass goes on changing its own; what this one claims, the next
            # pass finds in the ledger.
            tick = sweep.run_due(
                self.svc,
                self.known.copy(),
                now,
                since=min(since, now) - SINCE_MARGIN,
                submit=submit,
            )
        self._schedule(tick.next_at)
        return tick

    def recover(self, now: datetime | None = None, *, submit: bool = True) -> sweep.Tick:
        """Forget what this process remembers and pass from the ledger alone, as on start.

        Pings missed while down that are still relevant go out once; stale ones are
        recorded as skipped.
        """
        with self._pass:
            self.known = pings.Known()
            self._loaded = False
            self._swept = self._reconciled = self._looked_back = None
        return self.run_due(now, submit=submit, full=True)

    def reconcile(self, *, full: bool) -> sweep.Tick | None:
        """Run a pass now, logging rather than raising (the next pass retries)."""
        try:
            return self.run_due(full=full)
        except Exception as exc:
            if database_unreachable(exc):  # an outage, not a bug: one line, and soon again
                log.warning("scheduler pass failed, the database is unreachable: %s", _line(exc))
                self._schedule(self.svc.clock() + OUTAGE_RETRY)
            else:
                log.exception("scheduler pass failed; the next one retries")
            return None

    def poke(self, *, full: bool = False) -> None:
        """Run a pass soon, off the caller's thread: call it after commits that make pings due."""
        with self._poke_guard:
            queued = self._poke_queued
            self._poke_queued = bool(queued) or full
            if queued is not None:
                return
        # On the outbox's pass threads, not its staffing pool: a pass stages the pages falling
        # due, and must not queue behind staffing waiting out Slack's limits (in the staffing
        # pool, bench_pages_process's first pages were staged 12 s late, behind feed posts
        # answered 429). Tracked, so whoever waits for Slack work to settle waits for it too.
        self.svc.outbox.pass_pool.submit(self._poked)

    def _reconcile_soon(self) -> None:
        self.poke(full=True)

    def _poked(self) -> None:
        with self._poke_guard:
            full, self._poke_queued = bool(self._poke_queued), None
        self.reconcile(full=full)

    # -- APScheduler ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Return True while the APScheduler timer runs."""
        return self._aps is not None and self._aps.running

    def _schedule(self, next_at: datetime | None) -> None:
        aps = self._aps
        if aps is None or not aps.running:
            return
        if next_at is None:
            if aps.get_job(NEXT_JOB) is not None:
                aps.remove_job(NEXT_JOB)
            return
        # Due moments are on the service clock; APScheduler sleeps on the wall clock.
        run_at = self._wall() + (next_at - self.svc.clock())
        aps.add_job(self.poke, "date", run_date=run_at, id=NEXT_JOB, replace_existing=True)

    def start(self, *, watch: bool = True) -> None:
        """Start the timer: a recovery pass at once, then date jobs and the periodic reconcile."""
        if self._aps is not None:
            return
        if watch:
            self.watch()
        aps = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        aps.add_job(
            self._reconcile_soon, "interval", seconds=self.reconcile_every, id=RECONCILE_JOB
        )
        aps.add_job(self._recover_logged, id="recover")
        self._aps = aps
        aps.start()
        log.info("scheduler started: reconcile every %.0f s", self.reconcile_every)

    def _recover_logged(self) -> None:
        try:
            self.recover()
        except Exception as exc:
            if database_unreachable(exc):
                self._schedule(self.svc.clock() + OUTAGE_RETRY)
                log.warning(
                    "scheduler recovery pass failed, the database is unreachable: %s; "
                    "the reconcile retries",
                    _line(exc),
                )
            else:
                log.exception("scheduler recovery pass failed; the reconcile retries")

    def shutdown(self) -> None:
        """Stop the timer and the commit watch; a pass under way finishes first."""
        self.unwatch()
        aps, self._aps = self._aps, None
        if aps is not None and aps.running:
            aps.shutdown(wait=True)

    # -- commit watch -----------------------------------------------------------------------

    def watch(self) -> None:
        """Pass soon after each commit on this database that moves a ping's moment."""
        self.svc.db.watch_schedule(self.poke)

    def unwatch(self) -> None:
        """Stop passing on commits."""
        self.svc.db.unwatch_schedule(self.poke)


def _line(exc: BaseException) -> str:
    """Return the first line of an error (a driver's message runs over several)."""
    return next(iter(str(exc).splitlines()), type(exc).__name__)
