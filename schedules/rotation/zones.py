"""Time zone arithmetic: zone lookup, aware/naive UTC conversion and the per-zone offset
tables that make local <-> UTC conversion a bisect, plus :func:`resolve`; also the
internal time constants shared by the engine.
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ZERO = timedelta(0)
_ONE_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)
_EIGHT_DAYS = timedelta(days=8)
# Internally every instant is a *naive UTC* datetime (cheaper to compare and to do arithmetic
# on); these sentinels stand for minus and plus infinity.
_MIN = datetime.min
_MAX = datetime.max


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_S = timedelta(seconds=1)
_SAMPLE_STEP = timedelta(hours=12)
_BLOCK_MARGIN = timedelta(days=3)  # more than any UTC offset, so lookups never miss a block


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _as_zone(tz: str | tzinfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    if isinstance(tz, str):
        return _zone(tz)
    if tz is UTC:
        return _zone("UTC")
    raise ValueError(f"expected an IANA time zone name or ZoneInfo (got {tz!r})")


def _check_aware(dt: datetime, what: str) -> None:
    if not isinstance(dt, datetime):
        raise ValueError(f"{what} must be a datetime (got {dt!r})")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (got naive {dt!r})")


def _naive_utc(dt: datetime, what: str) -> datetime:
    """Aware datetime (any zone) -> naive UTC."""
    _check_aware(dt, what)
    return _EPOCH + (dt - _EPOCH_UTC)


def _aware(u: datetime) -> datetime:
    """Naive UTC -> aware UTC."""
    return _EPOCH_UTC + (u - _EPOCH)


# A block: transitions (naive UTC), the offset of each regime (one more than transitions),
# and the local wall-clock stretch [start, end) each regime covers.
_Block = tuple[list[datetime], list[timedelta], list[datetime], list[datetime]]


class _ZoneTable:
    """Exact UTC offsets of one zone, so that local <-> UTC conversions are a bisect.

    Built lazily in blocks of four years (plus a few days either side): the zone is sampled
    every 12 hours and each change of offset is bisected to the second (tzdata transitions
    fall on whole seconds).
    """

    __slots__ = ("_blocks", "tz")

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._blocks: dict[int, _Block] = {}

    def block(self, year: int) -> _Block:
        blk = self._blocks.get(year >> 2)
        if blk is None:
            blk = self._blocks[year >> 2] = self._build(year >> 2)
        return blk

    def _offset_slow(self, u: datetime) -> timedelta:
        off = (_EPOCH_UTC + (u - _EPOCH)).astimezone(self.tz).utcoffset()
        assert off is not None
        return off

    def _build(self, b: int) -> _Block:
        first, last = max(4 * b, 1), 4 * b + 4
        lo = datetime(first, 1, 1)
        if first > 1:
            lo -= _BLOCK_MARGIN
        hi = datetime(last, 1, 1) + _BLOCK_MARGIN if last <= 9999 else datetime(9999, 12, 29)
        offset = self._offset_slow
        trans: list[datetime] = []
        offs = [offset(lo)]
        t = lo
        while t < hi:
            t2 = min(t + _SAMPLE_STEP, hi)
            if offset(t2) != offs[-1]:
                a, z = t, t2  # offset(a) is the current one, offset(z) is not
                while z - a > _ONE_S:
                    mid = a + _ONE_S * (((z - a) // _ONE_S) // 2)
                    if offset(mid) == offs[-1]:
                        a = mid
                    else:
                        z = mid
                trans.append(z)
                offs.append(offset(z))
            t = t2
        starts = [lo + offs[0]] + [tr + off for tr, off in zip(trans, offs[1:], strict=True)]
        ends = [tr + off for tr, off in zip(trans, offs, strict=False)] + [_MAX]
        return trans, offs, starts, ends

    def offset(self, u: datetime) -> timedelta:
        """UTC offset at the naive-UTC instant ``u``."""
        trans, offs, _, _ = self._blocks.get(u.year >> 2) or self.block(u.year)
        return offs[bisect.bisect_right(trans, u)]

    def to_local(self, u: datetime) -> datetime:
        """Naive UTC -> naive local wall time."""
        trans, offs, _, _ = self._blocks.get(u.year >> 2) or self.block(u.year)
        return u + offs[bisect.bisect_right(trans, u)]

    def resolve(self, local: datetime) -> datetime:
        """Naive local wall time -> naive UTC.

        Regimes are tried in time order, so an ambiguous time (fall back: two regimes cover
        it) gets the first; a time no regime covers is in a gap (spring forward) and gets the
        transition instant that ends the gap, the first valid instant after it.
        """
        trans, offs, starts, ends = self._blocks.get(local.year >> 2) or self.block(local.year)
        j = bisect.bisect_right(ends, local)  # the first regime ending after ``local``
        if j == 0 or local >= starts[j]:
            return local - offs[j]
        return trans[j - 1]


@lru_cache(maxsize=512)
def _table(tz: ZoneInfo) -> _ZoneTable:
    return _ZoneTable(tz)


def _resolve_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Naive local wall time -> naive UTC (gap -> its end, ambiguous -> first occurrence)."""
    return _table(tz).resolve(local)


def resolve(local: datetime, tz: str | tzinfo) -> datetime:
    """Resolve a naive local wall time in ``tz`` to an aware UTC instant.

    A non-existent time (spring forward) gives the first valid instant after the gap; an
    ambiguous one (fall back) gives its first occurrence.
    """
    if local.tzinfo is not None:
        raise ValueError("resolve() takes a naive local wall-clock time")
    return _aware(_resolve_utc(local, _as_zone(tz)))
