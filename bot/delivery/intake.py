"""Saving the outbox items requests accept (on their threads or the event loop), batched."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.errors import database_unreachable
from bot.executors import TrackedPool
from storage.db import Database, WouldWait
from storage.repositories import NewItem, OutboxInsert

log = logging.getLogger(__name__)


class Intake:
    """Saves side effects accepted on request threads in shared transactions (group commit).

    A request that must not be acknowledged before its work is saved queues its item. If no
    request is saving at that moment, it saves itself, together with whatever queued up in
    the meantime, in one statement and one commit; requests arriving while it does wait, and
    the first of them then saves the next batch for all of them. Under a burst of commands the
    cost per request falls, instead of each request queueing for the database on its own;
    alone, a request saves its item at once on its own thread.

    A request that must not block (dispatched on the event loop) queues its item with
    `add_later`. When it would lead, the loop saves the batch itself at the end of its turn
    (with the items of the requests it handled meanwhile) if the embedded SQLite database can
    be written at once: a local commit, cheaper than handing the batch to a thread and the
    answers back. Otherwise (another writer, another process, PostgreSQL) the intake's own
    thread saves it, and the loop goes on.
    """

    def __init__(self, db: Database, clock: Clock, max_batch: int = 200):
        self.db = db
        self.insert = OutboxInsert.of(db.engine.dialect)
        self.clock = clock
        self.max_batch = max_batch
        self._queue: deque[_Accepted] = deque()
        self._lock = threading.Lock()
        self._saving = False
        # Not background: its transactions queue with the requests' (storage.db.WriteLock).
        self.writer = TrackedPool(1, "intake")

    def add(self, item: NewItem) -> bool:
        """Save the item (waiting for the commit); return False when its key was there already.

        Raises what the database raised when it could not be saved.
        """
        accepted = _Accepted(item)
        with self._lock:
            self._queue.append(accepted)
            lead = not self._saving
            self._saving = True
        if not lead:
            accepted.wait()  # saved by another request, or asked to save the next batch
        if not accepted.saved:
            self._lead()
        if accepted.error is not None:
            raise accepted.error
        return accepted.created

    def add_later(self, item: NewItem, then: Saved) -> None:
        """Queue the item without waiting; `then(created, error)` follows its commit (or the
        error that kept it from being saved), on the thread that saved it."""
        accepted = _Accepted(item, then=then)
        with self._lock:
            self._queue.append(accepted)
            lead = not self._saving
            self._saving = True
        if not lead:
            return
        try:
            loop = asyncio.get_running_loop() if self.db.is_sqlite else None
        except RuntimeError:  # not on an event loop: nothing to save it at the end of a turn
            loop = None
        if loop is not None:
            loop.call_soon(self._lead, True)
        else:
            self._lead_elsewhere()

    def _lead_elsewhere(self) -> None:
        try:
            self.writer.submit(self._lead)
        except RuntimeError as exc:  # shutting down: what queued cannot be saved now
            with self._lock:
                stranded = list(self._queue)
                self._queue.clear()
                self._saving = False
            for accepted in stranded:
                self._settle(accepted, error=exc)

    def _lead(self, on_loop: bool = False) -> None:
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))]
        away: Exception | None = None
        would_wait = False
        try:
            away = self._save(batch, on_loop)
        except WouldWait:  # on the event loop, and the database is being written
            would_wait = True
        finally:
            with self._lock:
                if would_wait:  # none of them saved: the intake's thread saves them instead
                    self._queue.extendleft(reversed(batch))
                # Those that queued while the database was found away are told so now, not
                # after another attempt each (Slack's 3 s would not wait for it).
                stranded = list(self._queue) if away is not None else []
                if away is not None:
                    self._queue.clear()
                following = self._queue[0] if self._queue else None
                self._saving = following is not None
            for accepted in stranded:
                self._settle(accepted, error=away)
            if following is not None and (would_wait or following.then is not None):
                self._lead_elsewhere()  # its request cannot wait to lead: the writer does
            elif following is not None:
                following.wake()  # not saved yet: it saves the next batch

    def _save(self, batch: list[_Accepted], on_loop: bool = False) -> Exception | None:
        """Save a batch; return the error when the database was unreachable, else None.

        On the event loop, raise WouldWait instead of waiting for the database (or of saving
        the items one by one when one of them is refused: the intake's thread does that).
        """
        transaction = self.db.driver_transaction_now if on_loop else self.db.driver_transaction
        try:
            with transaction() as connection:
                created = self.insert.run(connection, [a.item for a in batch], self.clock())
        except WouldWait:
            raise
        except Exception as exc:
            unreachable = database_unreachable(exc)
            if len(batch) > 1 and not unreachable:
                if on_loop:
                    raise WouldWait from exc
                for accepted in batch:  # save the others: one bad item must not sink the batch
                    self._save([accepted])
                return None
            for accepted in batch:  # the database is away: none of them can be saved now
                self._settle(accepted, error=exc)
            return exc if unreachable else None
        for accepted in batch:  # a key repeated in the batch: the first one created it
            self._settle(accepted, created=accepted.item.key in created)
            created.discard(accepted.item.key)
        return None

    @staticmethod
    def _settle(
        accepted: _Accepted, *, created: bool = False, error: Exception | None = None
    ) -> None:
        accepted.created, accepted.error, accepted.saved = created, error, True
        if accepted.then is None:
            accepted.wake()
            return
        try:
            accepted.then(created, error)
        except Exception:  # one request's answer failing must not keep the others' back
            log.exception("could not answer a request whose work was saved")


# What `add_later` calls once the item is saved (created: its key was new) or not (error).
Saved = Callable[[bool, Exception | None], None]


@dataclass
class _Accepted:
    item: NewItem
    saved: bool = False
    created: bool = False
    error: Exception | None = None
    then: Saved | None = None  # for an item queued with add_later
    # Held until the item's request may go on: a lock, far cheaper to make than an Event,
    # and one is made for every command acknowledged.
    _waiting: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._waiting.acquire()

    def wait(self) -> None:
        """Block until `wake` is called (by the thread that saved the item, or to lead)."""
        self._waiting.acquire()

    def wake(self) -> None:
        """Let the item's request go on; called once."""
        self._waiting.release()
