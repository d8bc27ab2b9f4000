"""Clocks: time is passed in, never read inside domain code."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Return the current instant in UTC."""
    return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to: for tests and drills."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward and return the new instant."""
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to an instant."""
        with self._lock:
            self._now = instant.astimezone(UTC)

    def timestamp(self) -> float:
        """Return the current instant as a POSIX timestamp."""
        return self().timestamp()
