"""The outbox: Slack side effects recorded with the work, retried until done."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.clock import Clock
from bot.executors import TrackedPool
from storage.db import Database
from storage.models import OutboxItem

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)
MAX_BACKOFF = timedelta(minutes=10)


class Permanent(Exception):
    """The side effect can never succeed; stop retrying it."""


@dataclass(frozen=True)
class Job:
    """An outbox item as handed to its handler."""

    id: int
    key: str
    kind: str
    escalation_id: int | None
    payload: dict[str, Any]
    attempt: int  # 1 on the first try

    @property
    def retrying(self) -> bool:
        """Return True when an earlier attempt may have done part of the work."""
        return self.attempt > 1


Handler = Callable[[Job], None]


def backoff(attempt: int) -> timedelta:
    """Return the wait before the next attempt: 1 s, 2 s, 4 s … capped at 10 minutes."""
    return min(timedelta(seconds=2 ** max(0, attempt - 1)), MAX_BACKOFF)


class Outbox:
    """Runs pending side effects now, and again later until each is done."""

    def __init__(self, db: Database, clock: Clock, workers: int = 4):
        self.db = db
        self.clock = clock
        self.handlers: dict[str, Handler] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pool = TrackedPool(workers, "outbox")
        self._signal: Any = self._wake
        self._running: set[int] = set()
        self._lock = threading.Lock()

    def register(self, kind: str, handler: Handler) -> None:
        """Say which function performs a kind of side effect."""
        self.handlers[kind] = handler

    def _take(self, item_id: int) -> Job | None:
        now = self.clock()
        with self.db.uow() as uow:
            item = uow.session.get(OutboxItem, item_id)
            if item is None or item.status != "pending" or item.next_attempt_at > now:
                return None
            if not uow.repos.outbox.lock(item.id, now + LEASE, now):
                return None
            item.attempts += 1
            job = Job(
                item.id, item.key, item.kind, item.escalation_id, dict(item.payload), item.attempts
            )
            uow.commit()
        return job

    def _finish(self, job: Job, error: str | None, *, permanent: bool = False) -> None:
        now = self.clock()
        with self.db.uow() as uow:
            item = uow.session.get(OutboxItem, job.id)
            if item is None:
                return
            item.locked_until = None
            if error is None:
                item.status, item.done_at, item.last_error = "done", now, None
            else:
                item.last_error = error[:2000]
                if permanent:
                    item.status = "dead"
                else:
                    item.next_attempt_at = now + backoff(job.attempt)
            uow.commit()

    def run(self, item_id: int) -> bool:
        """Try one item now; return True when it is done."""
        job = self._take(item_id)
        if job is None:
            return False
        handler = self.handlers.get(job.kind)
        if handler is None:
            self._finish(job, f"no handler for {job.kind}", permanent=True)
            return False
        try:
            handler(job)
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
                exc_info=not _is_slack_error(exc),
            )
            self._finish(job, f"{type(exc).__name__}: {exc}")
            return False
        self._finish(job, None)
        return True

    def run_key(self, key: str) -> bool:
        """Try the item with this key now; return True when it is done."""
        with self.db.uow() as uow:
            item = uow.repos.outbox.get(key)
            item_id = item.id if item else None
        return self.run(item_id) if item_id is not None else False

    def run_due(self, limit: int = 50) -> int:
        """Try every item whose time has come; return how many got done."""
        with self.db.uow() as uow:
            ids = [item.id for item in uow.repos.outbox.due(self.clock(), limit)]
        return sum(self.run(i) for i in ids)

    def submit(self, key: str) -> None:
        """Run the item with this key soon, off the caller's thread."""
        self.pool.submit(self._run_logged, key)

    def _run_logged(self, key: str) -> None:
        try:
            self.run_key(key)
        except Exception:  # the background worker retries it
            log.exception("outbox %s could not run now", key)

    def _run_id_logged(self, item_id: int) -> None:
        try:
            self.run(item_id)
        except Exception:
            log.exception("outbox item %d could not run now", item_id)
        finally:
            with self._lock:
                self._running.discard(item_id)

    def dispatch_due(self, limit: int = 50) -> int:
        """Hand every due item not already running here to the pool; return how many."""
        with self.db.uow() as uow:
            ids = [item.id for item in uow.repos.outbox.due(self.clock(), limit)]
        with self._lock:
            fresh = [i for i in ids if i not in self._running]
            self._running.update(fresh)
        for item_id in fresh:
            self.pool.submit(self._run_id_logged, item_id)
        return len(fresh)

    def kick(self) -> None:
        """Wake the background worker."""
        self._wake.set()

    def start(self, interval: float = 1.0) -> None:
        """Run due items in the pool every `interval` seconds, or at once when kicked."""
        if self._thread is not None:
            return
        self._stop.clear()
        signal = self._wake

        def loop() -> None:
            while not self._stop.is_set():
                signal.clear()
                try:
                    self.dispatch_due()
                except Exception:
                    log.exception("outbox pass failed; retrying")
                signal.wait(interval)

        self._signal = signal
        self._thread = threading.Thread(target=loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background worker and wait for the items it is running."""
        self._stop.set()
        self._signal.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.pool.wait_idle()


def _is_slack_error(exc: Exception) -> bool:
    return type(exc).__name__ == "SlackError"
