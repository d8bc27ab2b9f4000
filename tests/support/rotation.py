"""What the rotation tests share: who is on call, and a naive reference for local times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from schedules.rotation import Override, Rotation, on_call


def who(rotation: Rotation, at: datetime, overrides: Sequence[Override] = ()) -> str | None:
    """Return who is on call at `at` (None in a gap)."""
    s = on_call(rotation, at, overrides)
    return None if s is None else s.user


def reference_resolve(naive: datetime, tz: ZoneInfo) -> datetime:
    """Local wall time -> UTC: first occurrence if ambiguous; for a non-existent time, step
    forward minute by minute to the first wall time that exists (the end of the gap)."""
    t = naive
    while True:
        aware = t.replace(tzinfo=tz, fold=0)
        back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back == t:
            return aware.astimezone(UTC)
        t = (t + timedelta(minutes=1)).replace(second=0, microsecond=0)
