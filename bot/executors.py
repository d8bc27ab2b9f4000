"""Thread pools that can say when their work is done."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
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
