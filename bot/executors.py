"""Thread pools that can say when their work is done, and background work giving way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any


class TrackedPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor with `wait_idle`: tests and shutdown wait on work, not on time."""

    def __init__(self, max_workers: int, name: str, initializer: Callable[[], None] | None = None):
        super().__init__(max_workers=max_workers, thread_name_prefix=name, initializer=initializer)
        self._inflight: set[Future[Any]] = set()
        self._inflight_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        with self._inflight_lock:
            self._inflight.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._inflight_lock:
            self._inflight.discard(future)

    def busy(self) -> bool:
        """Return True while any submitted work is unfinished."""
        with self._inflight_lock:
            return bool(self._inflight)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until every submitted task has finished; raise TimeoutError otherwise."""
        while True:
            with self._inflight_lock:
                pending = list(self._inflight)
            if not pending:
                return
            _, not_done = wait(pending, timeout=timeout)
            if not_done:
                raise TimeoutError(f"{len(not_done)} tasks still running")


class Foreground:
    """Slack requests being answered, and background threads that give way to them.

    Slack waits at most 3 s for an answer and the reporter watches for it, while staffing a
    channel or sending a ping can start a moment later without anyone noticing. So a thread
    marked as background, before each step (an outbox item, a Web API call, a scheduler
    pass), waits until no request has been answered for `quiet_for` seconds, for at most
    `patience` seconds: under a burst of commands acks come first, yet background work
    never stops.
    """

    def __init__(
        self,
        patience: float = 1.0,
        quiet_for: float = 0.01,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.patience = patience
        self.quiet_for = quiet_for
        self._monotonic = monotonic
        self._serving = 0
        self._last = float("-inf")  # when the last request was answered
        self._lock = threading.Lock()
        self._local = threading.local()
        self.waited = 0.0  # seconds background threads spent giving way, for the metrics

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Count a request as being answered for the duration of the block.

        Nobody is woken when it ends: under a burst, requests end a thousand times a second,
        and background threads look again at their own pace (every `quiet_for`) instead.
        """
        with self._lock:
            self._serving += 1
        try:
            yield
        finally:
            with self._lock:
                self._serving -= 1
                self._last = self._monotonic()

    def mark_background(self) -> None:
        """Mark the calling thread as background (a pool initializer)."""
        self._local.background = True

    def background(self) -> bool:
        """Return True on a thread marked as background."""
        return bool(getattr(self._local, "background", False))

    def mark_request(self) -> None:
        """Mark the calling thread as one that answers Slack requests (a pool initializer)."""
        self._local.request = True

    def on_request(self) -> bool:
        """Return True on a thread marked as answering Slack requests (the listeners)."""
        return bool(getattr(self._local, "request", False))

    def give_way(self) -> None:
        """On a background thread, wait for a quiet moment (at most `patience` seconds)."""
        if not getattr(self._local, "background", False):
            return
        started = self._monotonic()
        deadline = started + self.patience
        while True:
            now = self._monotonic()
            with self._lock:
                last = self._last if self._serving == 0 else now  # a request in hand: not quiet
            quiet_at = last + self.quiet_for
            if now >= quiet_at or now >= deadline:
                break
            time.sleep(min(quiet_at, deadline) - now)
        with self._lock:
            self.waited += self._monotonic() - started
