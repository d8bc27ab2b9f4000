"""The outbox: Slack side effects recorded with the work, retried until done."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import timedelta

from sqlalchemy import select

from bot import logs
from bot.clock import Clock
from bot.delivery.intake import Intake
from bot.delivery.jobs import (
    LEASE,
    RENEW_EVERY,
    URGENT_WORKERS,
    WAITING,
    Handler,
    Job,
    Later,
    NotReady,
    Permanent,
    _running,
    _split,
    backoff,
    waiting_time,
    worker_name,
)
from bot.errors import database_unreachable
from bot.executors import TrackedPool
from bot.fastack import Foreground
from storage.db import Database
from storage.models import OutboxItem
from storage.repositories import NewItem

log = logging.getLogger(__name__)


class Outbox:
    """Runs pending side effects now, and again later until each is done."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        workers: int = 4,
        foreground: Foreground | None = None,
    ):
        self.db = db
        self.clock = clock
        self.owner = worker_name()
        self.handlers: dict[str, Handler] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.foreground = foreground or Foreground()
        self.intake = Intake(db, clock)
        # Background threads, all giving way to Slack requests being answered. The urgent lane:
        # items someone waits for (page DMs) never queue behind staffing that Slack's tiers
        # hold back (a rate-limited call waits on its worker's thread; bench_pages).
        self.pool = TrackedPool(workers, "outbox", initializer=self.foreground.mark_background)
        self.urgent_pool = TrackedPool(
            URGENT_WORKERS, "outbox-urgent", initializer=self.foreground.mark_background
        )
        # Scheduler passes, apart from staffing (why: schedules.scheduler.Scheduler.poke).
        self.pass_pool = TrackedPool(2, "passes", initializer=self.foreground.mark_background)
        self._urgent: tuple[str, ...] = ()  # SQL LIKE patterns of urgent keys
        self._urgent_re: re.Pattern[str] | None = None
        self._running: set[int] = set()
        self._held: set[int] = set()  # items this process is working on: their leases renew
        # items whose attempt ended here without being recorded (the database went away):
        # their lease is freed at the next pass instead of running out
        self._unfinished: set[int] = set()
        # Escalations woken while an item of theirs was being tried: one that finds it must
        # wait looks again at once, as `wake` did not see it waiting.
        self._woken: set[int] = set()
        self._lock = threading.Lock()
        self._soonest: float | None = None  # monotonic moment an item said Later until

    def register(self, kind: str, handler: Handler) -> None:
        """Say which function performs a kind of side effect."""
        self.handlers[kind] = handler

    def prioritize(self, *patterns: str) -> None:
        """Run items whose key matches one of these (`%` for any text, as in SQL LIKE) in
        the urgent lane."""
        self._urgent = tuple(sorted({*self._urgent, *patterns}))
        self._urgent_re = re.compile(
            "|".join(".*".join(map(re.escape, p.split("%"))) for p in self._urgent)
        )

    def _lane(self, key: str) -> TrackedPool:
        urgent = self._urgent_re is not None and self._urgent_re.fullmatch(key)
        return self.urgent_pool if urgent else self.pool

    def busy(self) -> bool:
        """Return True while a lane (or a scheduler pass) is running or has queued work."""
        return self.pool.busy() or self.urgent_pool.busy() or self.pass_pool.busy()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until both lanes have finished what they were handed (bounded)."""
        while self.busy():
            for pool in (self.pool, self.urgent_pool, self.pass_pool):
                pool.wait_idle(timeout)

    def _take(self, item_id: int) -> Job | None:
        now = self.clock()
        with self.db.uow() as uow:
            item = uow.session.get(OutboxItem, item_id)
            if item is None or item.status != "pending" or item.next_attempt_at > now:
                return None
            if not uow.repos.outbox.lock(item.id, now + LEASE, now, self.owner):
                return None
            item.attempts += 1
            job = Job.of(item)
            uow.commit()
        return job

    def _finish(
        self,
        job: Job,
        error: str | None,
        *,
        permanent: bool = False,
        waiting: bool = False,
        later: float | None = None,
        within: float | None = None,
    ) -> None:
        now = self.clock()
        again = False
        with self.db.uow() as uow:
            item = uow.session.get(OutboxItem, job.id)
            if item is None:
                return
            item.locked_until, item.locked_by = None, None
            if later is not None:
                item.attempts -= 1  # not tried: the attempt is not spent
                item.next_attempt_at = now + timedelta(seconds=later)
            elif error is None:
                item.status, item.done_at, item.last_error = "done", now, None
            elif waiting:
                item.attempts -= 1  # waiting is not failing: retries stay for real failures
                item.last_error = (WAITING + error)[:2000]
                with self._lock:
                    again = job.escalation_id in self._woken
                wait = waiting_time(now - item.created_at)
                if within is not None:
                    wait = min(wait, timedelta(seconds=max(0.0, within)))
                item.next_attempt_at = now if again else now + wait
            else:
                item.last_error = error[:2000]
                if permanent:
                    item.status = "dead"
                else:
                    item.next_attempt_at = now + backoff(job.attempt)
            uow.commit()
        if again:
            self.submit(job.key)

    def wake(self, escalation_id: int) -> None:
        """Run now the items of an escalation that were waiting for it to move on."""
        with self._lock:
            self._woken.add(escalation_id)
        try:
            with self.db.uow() as uow:
                keys = uow.repos.outbox.wake(escalation_id, WAITING, self.clock())
                uow.commit()
            for key in keys:
                self.submit(key)
        finally:
            self._forget_woken()

    def _forget_woken(self) -> None:
        with self._lock:
            if not self._held:  # nothing is being tried: no race left to cover
                self._woken.clear()

    def run(self, item_id: int) -> bool:
        """Try one item now; return True when it is done."""
        self.foreground.give_way()
        return self._run(item_id)

    def _run(self, item_id: int) -> bool:
        job = self._take(item_id)
        if job is None:
            return False
        with self._lock:
            self._held.add(job.id)
        try:
            with logs.context(escalation=job.escalation_id, outbox_key=job.key):
                return self._perform(job)
        except BaseException:
            with self._lock:
                self._unfinished.add(job.id)
            raise
        finally:
            with self._lock:
                self._held.discard(job.id)
            self._forget_woken()

    def _free_unfinished(self) -> None:
        """Let go of the items whose attempt here could not be recorded: due again at once."""
        with self._lock:
            ids = sorted(self._unfinished - self._held)
        if not ids:
            return
        with self.db.uow() as uow:
            uow.repos.outbox.free(self.owner, ids)
            uow.commit()
        with self._lock:
            self._unfinished.difference_update(ids)

    def _perform(self, job: Job) -> bool:
        handler = self.handlers.get(job.kind)
        if handler is None:
            self._finish(job, f"no handler for {job.kind}", permanent=True)
            return False
        try:
            handler(job)
        except Later as exc:
            log.debug("outbox %s: %s", job.key, exc)
            self._finish(job, None, later=exc.seconds)
            with self._lock:
                soonest = time.monotonic() + exc.seconds
                if self._soonest is None or soonest < self._soonest:
                    self._soonest = soonest
            return False
        except NotReady as exc:
            log.debug("outbox %s waits: %s", job.key, exc)
            self._finish(job, str(exc), waiting=True, within=exc.within)
            return False
        except Permanent as exc:
            log.error("outbox %s gave up: %s", job.key, exc)
            self._finish(job, str(exc), permanent=True)
            return False
        except Exception as exc:
            log.warning(
                "outbox %s attempt %d failed: %s",
                job.key,
                job.attempt,
                exc,
                exc_info=not (_is_slack_error(exc) or database_unreachable(exc)),
            )
            self._finish(job, f"{type(exc).__name__}: {exc}")
            return False
        self._finish(job, None)
        log.debug("outbox %s done", job.key)
        return True

    def take_more(self, like: str, limit: int, *, exclude: Collection[int] = ()) -> list[Job]:
        """Take up to `limit` more pending items whose key matches `like` (SQL LIKE), due or
        not yet, that nobody holds: for a handler that does several items' work in one Slack
        call. Each is leased and its attempt counted as `_take` does; the caller settles them
        with `settle`.
        """
        now = self.clock()
        jobs: list[Job] = []
        with self.db.uow() as uow:
            repo = uow.repos.outbox
            stmt = (
                select(OutboxItem)
                .where(OutboxItem.status == "pending", OutboxItem.key.like(like))
                .where((OutboxItem.locked_until.is_(None)) | (OutboxItem.locked_until <= now))
                .order_by(OutboxItem.id)
                .limit(limit)
            )
            if exclude:
                stmt = stmt.where(OutboxItem.id.not_in(list(exclude)))
            for item in uow.session.scalars(stmt) if limit > 0 else ():
                if not repo.lock(item.id, now + LEASE, now, self.owner):
                    continue  # taken by another worker meanwhile
                item.attempts += 1
                jobs.append(Job.of(item))
            uow.commit()
        with self._lock:
            self._held.update(job.id for job in jobs)
        return jobs

    def settle(self, jobs: Sequence[Job], *, done: bool, spent: bool = True) -> None:
        """Record items taken by `take_more` as done, or let them go (due again at once);
        `spent=False` gives back the attempt of those let go untried."""
        if not jobs:
            return
        now = self.clock()
        try:
            with self.db.uow() as uow:
                # In id order, as every transaction over several items goes (see the
                # repository's `_lock_in_order`): no two wait for each other in a cycle.
                for job in sorted(jobs, key=lambda job: job.id):
                    item = uow.session.get(OutboxItem, job.id)
                    if item is None:
                        continue
                    item.locked_until, item.locked_by = None, None
                    if done:
                        item.status, item.done_at, item.last_error = "done", now, None
                    else:
                        item.next_attempt_at = now
                        if not spent:
                            item.attempts -= 1
                uow.commit()
        except BaseException:
            with self._lock:
                self._unfinished.update(job.id for job in jobs)
            raise
        finally:
            with self._lock:
                self._held.difference_update(job.id for job in jobs)
        if not done:
            self.kick()

    def run_key(self, key: str) -> bool:
        """Try the item with this key now; return True when it is done."""
        self.foreground.give_way()  # before reading it too: a burst of commands goes first
        with self.db.uow() as uow:
            item = uow.repos.outbox.get(key)
            item_id = item.id if item else None
        return self._run(item_id) if item_id is not None else False

    def run_due(self, limit: int = 50) -> int:
        """Try every item whose time has come; return how many got done."""
        self._free_unfinished()
        with self.db.uow() as uow:
            ids = [item.id for item in uow.repos.outbox.due(self.clock(), limit)]
        return sum(self.run(i) for i in ids)

    def accept(self, item: NewItem) -> bool:
        """Save an item from a request thread (batched with others), then run it soon.

        Returns False when an item with its key was saved before (a repeated request).
        """
        created = self.intake.add(item)
        if created:
            self.submit(item.key)
        return created

    def accept_later(self, item: NewItem, then: Callable[[Exception | None], None]) -> None:
        """`accept` for a caller that must not wait (the event loop): `then(error)` follows."""
        self.intake.add_later(item, lambda created, error: self._saved(item, created, error, then))

    def _saved(
        self, item: NewItem, created: bool, error: Exception | None, then: Callable[..., None]
    ) -> None:
        try:
            if created:
                self.submit(item.key)  # saved: the periodic pass runs it should this fail
        finally:
            then(error)

    def submit(self, key: str) -> None:
        """Run the item with this key soon, off the caller's thread (in its lane)."""
        self._lane(key).submit(self._run_logged, key)

    def _run_logged(self, key: str) -> None:
        try:
            self.run_key(key)
        except Exception as exc:  # the background worker retries it
            _log_failure(exc, "outbox %s could not run now", key)

    def _run_id_logged(self, item_id: int) -> None:
        try:
            self.run(item_id)
        except Exception as exc:
            _log_failure(exc, "outbox item %d could not run now", item_id)
        finally:
            with self._lock:
                self._running.discard(item_id)

    def dispatch_due(self, limit: int = 50) -> int:
        """Hand every due item not already running here to the pool; return how many."""
        self._free_unfinished()
        now = self.clock()
        with self._lock:
            queued = set(self._running)
        with self.db.uow() as uow:
            repo = uow.repos.outbox
            due = repo.due(now, limit, like=self._urgent, skip=queued) if self._urgent else []
            due += repo.due(now, limit, skip=queued | {item.id for item in due})
            found = [(item.id, item.key) for item in due]
        with self._lock:
            fresh = [(i, key) for i, key in found if i not in self._running]
            self._running.update(i for i, _ in fresh)
        for item_id, key in fresh:  # the urgent lane's first
            self._lane(key).submit(self._run_id_logged, item_id)
        return len(fresh)

    def renew(self) -> int:
        """Extend the lease of every item this process is working on; return how many."""
        with self._lock:
            held = sorted(self._held)
        if not held:
            return 0
        with self.db.uow() as uow:
            renewed = uow.repos.outbox.renew(self.owner, held, self.clock() + LEASE)
            uow.commit()
        return renewed

    def recover(self) -> int:
        """Free items held by dead processes of this host (a crash, a restart); return how many.

        A holder on another host, or alive here, keeps its lease: it may still be working.
        """
        host, _, _ = _split(self.owner) or ("", 0, "")
        freed = 0
        with self.db.uow() as uow:
            for owner in uow.repos.outbox.lockers(f"{host}:"):
                parsed = _split(owner)
                if parsed is None or parsed[0] != host or owner == self.owner:
                    continue
                if parsed[1] == os.getpid() or not _running(parsed[1]):
                    freed += uow.repos.outbox.release(owner)
            uow.commit()
        if freed:
            log.warning("outbox: took back %d items from workers that died here", freed)
        return freed

    def kick(self) -> None:
        """Wake the background worker."""
        self._wake.set()

    def start(self, interval: float = 1.0) -> None:
        """Run due items in the pool every `interval` seconds, or at once when kicked."""
        if self._thread is not None:
            return
        self._stop.clear()
        try:
            self.recover()
        except Exception as exc:
            _log_failure(exc, "outbox could not take back items of dead workers now")

        def loop() -> None:
            self.foreground.mark_background()
            renewed = time.monotonic()
            unreachable = False
            while not self._stop.is_set():
                self._wake.clear()
                self.foreground.give_way()  # a pass reads the database: requests go first
                try:
                    if time.monotonic() - renewed >= RENEW_EVERY:
                        self.renew()
                        # also after start: a sibling process here that died (or a recovery
                        # the database was down for) frees its items now, not at lease end
                        self.recover()
                        renewed = time.monotonic()
                    self.dispatch_due()
                except Exception as exc:
                    if not database_unreachable(exc):
                        log.exception("outbox pass failed; retrying")
                    elif not unreachable:  # once per outage, one line
                        log.warning("outbox paused, the database is unreachable: %s", exc)
                    unreachable = database_unreachable(exc)
                else:
                    if unreachable:
                        log.warning("outbox resumed, the database answers again")
                    unreachable = False
                with self._lock:
                    soonest, self._soonest = self._soonest, None
                wait = interval
                if soonest is not None:
                    left = soonest - time.monotonic()
                    if left > interval:
                        with self._lock:  # not yet: keep it for a later turn
                            if self._soonest is None or soonest < self._soonest:
                                self._soonest = soonest
                    wait = min(interval, max(0.0, left))
                self._wake.wait(wait)

        self._thread = threading.Thread(target=loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background worker and wait for the items it is running."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        for pool in (self.pool, self.urgent_pool, self.pass_pool):
            pool.wait_idle()


def _log_failure(exc: Exception, message: str, *args: object) -> None:
    """Log a failure: one line when the database is unreachable (an outage), else in full."""
    if database_unreachable(exc):
        first = next(iter(str(exc).splitlines()), type(exc).__name__)
        log.warning(message + ", the database is unreachable: %s", *args, first)
    else:
        log.exception(message, *args)


def _is_slack_error(exc: Exception) -> bool:
    return type(exc).__name__ == "SlackError"
