"""Public data types of the rotation engine (shift lengths, restrictions, layers,
rotations, overrides and resulting shifts) and the engine-wide constants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

from schedules.rotation.zones import _naive_utc, _zone

#: How far :func:`next_handoff` looks ahead.
NEXT_HANDOFF_HORIZON = timedelta(days=366)


_UNITS: dict[str, timedelta] = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_SHIFT_RE = re.compile(r"^\s*(\d+)\s*([hdwHDW])\s*$")


@dataclass(frozen=True)
class ShiftLength:
    """A shift length in local wall-clock hours, days or weeks."""

    amount: int
    unit: Literal["h", "d", "w"]

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise ValueError(f"shift unit must be one of h, d, w (got {self.unit!r})")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1:
            raise ValueError(f"shift amount must be a positive integer (got {self.amount!r})")

    @classmethod
    def parse(cls, text: str) -> ShiftLength:
        """Parse ``"12h"``, ``"1d"`` or ``"2w"``."""
        m = _SHIFT_RE.match(text)
        if m is None:
            raise ValueError(f"shift length must look like 12h, 1d or 2w (got {text!r})")
        unit = m.group(2).lower()
        return cls(int(m.group(1)), unit)  # type: ignore[arg-type]

    @property
    def delta(self) -> timedelta:
        """The length as a (wall-clock) timedelta."""
        return _UNITS[self.unit] * self.amount

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class Restrict:
    """A weekly mask: active from ``start`` to ``end`` local time on each of ``days``.

    ``days`` holds the weekdays (0 = Monday .. 6 = Sunday) on which a window *starts*.  An
    ``end`` earlier than ``start`` runs overnight into the next day; ``end == start`` means a
    24-hour window beginning at ``start``.  Windows are half-open ``[start, end)``.
    """

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        days = frozenset(self.days)
        if not days <= frozenset(range(7)):
            raise ValueError(f"restrict days must be within 0..6 (got {sorted(self.days)})")
        object.__setattr__(self, "days", days)
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("restrict times are local wall-clock times and must be naive")


@dataclass(frozen=True)
class Layer:
    """One layer of a rotation; ``start`` is the naive local wall time of handoff 0."""

    members: tuple[str, ...]
    start: datetime
    shift: ShiftLength
    restrict: Restrict | None = None

    def __post_init__(self) -> None:
        members = tuple(self.members)
        if not members:
            raise ValueError("a layer needs at least one member")
        object.__setattr__(self, "members", members)
        if self.start.tzinfo is not None:
            raise ValueError("layer start is a local wall-clock time and must be naive")
        if not isinstance(self.shift, ShiftLength):
            raise ValueError("layer shift must be a ShiftLength")


@dataclass(frozen=True)
class Rotation:
    id: str
    timezone: str
    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        if not layers:
            raise ValueError("a rotation needs at least one layer")
        object.__setattr__(self, "layers", layers)
        _zone(self.timezone)  # validates the name


@dataclass(frozen=True)
class Override:
    """``user`` is on call for ``[start, end)``, on top of every layer."""

    user: str
    start: datetime
    end: datetime
    id: int | None = None

    def __post_init__(self) -> None:
        start = _naive_utc(self.start, "override start")
        end = _naive_utc(self.end, "override end")
        if end <= start:
            raise ValueError("override end must be after its start")
        # naive UTC bounds, converted once (not a field: no effect on eq, hash or repr)
        object.__setattr__(self, "_utc", (start, end))


@dataclass(frozen=True)
class Shift:
    """A stretch of the final schedule.

    ``user`` is None for a gap.  ``layer`` is the index of the layer supplying the user (at the
    queried instant for :func:`on_call`, at ``start`` for the list functions), None for an
    override or a gap.
    """

    rotation: str
    user: str | None
    start: datetime
    end: datetime
    layer: int | None
