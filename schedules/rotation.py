"""Pure on-call rotation engine.

A :class:`Rotation` has an IANA time zone and one or more :class:`Layer` objects.  Each layer
hands off between its members every ``shift`` (hours, days or weeks), counted in local
wall-clock time from the layer's naive local ``start``: handoff ``k`` happens at local time
``start + k * shift`` and member ``k % len(members)`` is on call until handoff ``k + 1``.
Who is on call is therefore arithmetic; nothing here steps through time to find it.

A layer can be masked by a weekly :class:`Restrict` window.  Where several layers are active
the later one in the list wins; lower layers show through where later ones are inactive, and
where no layer is active nobody is on call (a gap).  :class:`Override` entries sit on top of
everything; among overlapping overrides the later one in the list wins.

Daylight saving: a local time that does not exist (spring forward) means the first valid
instant after the gap; an ambiguous local time (fall back) means its first occurrence.  A
shift or restriction window squeezed to nothing by this is skipped.

The module is pure: no I/O, no clock reads.  All returned datetimes are aware UTC.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Layer",
    "Override",
    "Restrict",
    "Rotation",
    "Shift",
    "ShiftLength",
    "gaps",
    "layer_handoffs",
    "next_handoff",
    "on_call",
    "resolve",
    "shifts",
    "timeline",
]

#: How far :func:`next_handoff` looks ahead.
NEXT_HANDOFF_HORIZON = timedelta(days=366)

_ZERO = timedelta(0)
_ONE_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)
_EIGHT_DAYS = timedelta(days=8)
# Internally every instant is a *naive UTC* datetime (cheaper to compare and to do arithmetic
# on); these sentinels stand for minus and plus infinity.
_MIN = datetime.min
_MAX = datetime.max
_UNITS: dict[str, timedelta] = {
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_SHIFT_RE = re.compile(r"^\s*(\d+)\s*([hdwHDW])\s*$")


# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Time-zone helpers
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Compiled plans
# --------------------------------------------------------------------------------------------

_Handoff = tuple[int, datetime, datetime]  # (k, H(k), H(k+1)), naive UTC
_Window = tuple[datetime, datetime, datetime]  # (window start, window end, next start)
# (member or None, from, until, handoff shift or None, restriction window or None)
_State = tuple[str | None, datetime, datetime, _Handoff | None, _Window | None]
_Span = tuple[str | None, datetime, datetime]  # (user or None, from, until)


class _LayerPlan:
    """A layer with everything precomputed that does not depend on the queried instant."""

    __slots__ = (
        "constant",
        "delta",
        "h0",
        "members",
        "n",
        "next_step",
        "prev_step",
        "r_from",
        "r_len",
        "restricted",
        "start",
        "zone",
    )

    def __init__(self, layer: Layer, tz: ZoneInfo) -> None:
        self.zone = _table(tz)
        self.members = layer.members
        self.n = len(layer.members)
        # A layer whose members are all the same person never changes hands.
        self.constant = len(set(layer.members)) == 1
        self.start = layer.start + _ZERO  # arithmetic drops any fold=1
        self.delta = layer.shift.delta
        self.h0 = _resolve_utc(self.start, tz)
        r = layer.restrict
        self.restricted = r is not None
        self.r_from = time(0)
        self.r_len = _ONE_DAY
        self.prev_step: tuple[timedelta, ...] = ()
        self.next_step: tuple[timedelta, ...] = ()
        if r is not None:
            self.r_from = time(r.start.hour, r.start.minute, r.start.second, r.start.microsecond)
            t_from = timedelta(0, r.start.hour * 3600 + r.start.minute * 60 + r.start.second)
            t_from += timedelta(0, 0, r.start.microsecond)
            t_to = timedelta(0, r.end.hour * 3600 + r.end.minute * 60 + r.end.second)
            t_to += timedelta(0, 0, r.end.microsecond)
            length = t_to - t_from
            if length <= _ZERO:
                length += _ONE_DAY
            self.r_len = length
            if r.days:
                # Days back (0..6) to the latest allowed weekday, and forward (1..7) to the
                # next one, from each weekday.
                self.prev_step = tuple(
                    timedelta(next(b for b in range(7) if (w - b) % 7 in r.days)) for w in range(7)
                )
                self.next_step = tuple(
                    timedelta(next(f for f in range(1, 8) if (w + f) % 7 in r.days))
                    for w in range(7)
                )

    # -- handoffs -----------------------------------------------------------------------------

    def handoff(self, k: int) -> datetime:
        """Instant (naive UTC) of handoff ``k``."""
        try:
            local = self.start + self.delta * k
        except OverflowError:
            return _MAX if k > 0 else _MIN
        return self.zone.resolve(local)

    def shift_at(self, u: datetime, local: datetime) -> tuple[int, datetime, datetime]:
        """Handoff index ``k`` in force at ``u`` (>= h0) and its instants ``[H(k), H(k+1))``.

        ``k`` is the largest index with ``H(k) <= u``; a candidate comes from wall-clock
        arithmetic and is corrected by comparing resolved instants (DST only moves it by a
        step or two).  Squeezed shifts (``H(k) == H(k+1)``) are skipped by construction.
        """
        k = (local - self.start) // self.delta
        if k < 0:
            k = 0
        hs = self.handoff(k)
        if hs > u:
            he = hs
            while True:
                k -= 1
                hs = self.handoff(k)
                if hs <= u or k == 0:
                    break
                he = hs
        else:
            he = self.handoff(k + 1)
        while he <= u:
            k += 1
            hs = he
            he = self.handoff(k + 1)
        return k, hs, he

    # -- restriction windows ------------------------------------------------------------------

    def _window_start(self, day: date) -> datetime:
        return self.zone.resolve(datetime.combine(day, self.r_from))

    def _window_end(self, day: date) -> datetime:
        return self.zone.resolve(datetime.combine(day, self.r_from) + self.r_len)

    def window(self, u: datetime) -> _Window:
        """``(ws, we, nws)``: the latest restriction window ``[ws, we)`` starting at or before
        ``u`` and the start ``nws`` of the next one; valid for any instant in ``[ws, nws)``,
        which is inside a window before ``we`` and between windows from ``we`` on."""
        if not self.prev_step:
            return _MIN, _MIN, _MAX
        local = self.zone.to_local(u)
        day = local.date()
        if local.time() < self.r_from:
            day -= _ONE_DAY
        day -= self.prev_step[day.weekday()]
        # Naive ``X <= local`` implies ``resolve(X) <= u``, so this window starts at or before
        # ``u``; a later one can only do so too when ``u`` is in a repeated (fall-back) hour.
        ws = self._window_start(day)
        while True:
            nday = day + self.next_step[day.weekday()]
            nws = self._window_start(nday)
            if nws > u:
                break
            day, ws = nday, nws
        return ws, self._window_end(day), nws

    # -- state --------------------------------------------------------------------------------

    def shift_near(self, u: datetime, hint: _Handoff | None) -> _Handoff:
        """Like :meth:`shift_at`, starting from a neighbouring shift when one is known (the
        usual case when walking through time)."""
        if hint is not None:
            k, hs, he = hint
            if hs <= u:
                if u < he:
                    return hint
                k += 1
                hs, he = he, self.handoff(k + 1)
                if u < he:
                    return k, hs, he
            elif k > 0:
                k -= 1
                hs, he = self.handoff(k), hs
                if hs <= u:
                    return k, hs, he
        return self.shift_at(u, self.zone.to_local(u))

    def state(self, u: datetime, prev: _State | None = None) -> _State:
        """Member on call in this layer at ``u`` (None if inactive), the stretch
        ``[from, until)`` around ``u`` over which that stays so, and the handoff shift and
        restriction window found on the way (hints for the next call)."""
        sh = wi = None
        if prev is not None:
            sh, wi = prev[3], prev[4]
        if u < self.h0:
            return None, _MIN, self.h0, sh, wi
        if self.restricted:
            if wi is None or not (wi[0] <= u < wi[2]):
                wi = self.window(u)
            ws, we, nws = wi
            if u >= we:
                return None, we, nws, sh, wi
            if ws < self.h0:
                ws = self.h0
        else:
            ws, we = self.h0, _MAX
        if self.constant:
            return self.members[0], ws, we, sh, wi
        sh = self.shift_near(u, sh)
        k, hs, he = sh
        return (
            self.members[k % self.n],
            hs if hs > ws else ws,
            he if he < we else we,
            sh,
            wi,
        )


class _RotationPlan:
    __slots__ = ("horizon", "id", "layers", "tz")

    def __init__(self, rotation: Rotation) -> None:
        self.id = rotation.id
        self.tz = _zone(rotation.timezone)
        self.layers = tuple(_LayerPlan(layer, self.tz) for layer in rotation.layers)
        longest = max(layer.shift.delta for layer in rotation.layers)
        self.horizon = longest * 2 + _EIGHT_DAYS


_PLANS: dict[int, tuple[Rotation, _RotationPlan]] = {}
_PLANS_MAX = 4096


def _plan(rotation: Rotation) -> _RotationPlan:
    # Keyed by identity; the entry keeps the rotation alive so its id cannot be reused.
    entry = _PLANS.get(id(rotation))
    if entry is not None and entry[0] is rotation:
        return entry[1]
    if not isinstance(rotation, Rotation):
        raise ValueError(f"expected a Rotation (got {rotation!r})")
    plan = _RotationPlan(rotation)
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[id(rotation)] = (rotation, plan)
    return plan


class _OverridePlan:
    """Overrides as disjoint, sorted segments (the latest in the list wins), found by bisect.

    A handful of overrides (the usual case) is scanned instead: cheaper than building the
    segments for a one-off query.
    """

    __slots__ = ("ends", "few", "starts", "users")

    SCAN_MAX = 8

    def __init__(self, overrides: Sequence[Override]) -> None:
        self.starts: list[datetime] = []
        self.ends: list[datetime] = []
        self.users: list[str] = []
        items = []
        for o in overrides:
            span = getattr(o, "_utc", None)
            if span is None:  # an override-like object that is not an Override
                span = (_naive_utc(o.start, "override start"), _naive_utc(o.end, "override end"))
            s, e = span
            if s < e:
                items.append((s, e, o.user))
        # newest first, so the first one covering an instant wins
        self.few: list[tuple[datetime, datetime, str]] | None = None
        if len(items) <= self.SCAN_MAX:
            self.few = items[::-1]
            return
        order = sorted(range(len(items)), key=lambda i: items[i][0])
        bounds = sorted({b for s, e, _ in items for b in (s, e)})
        heap: list[tuple[int, datetime, str]] = []
        j = 0
        for b0, b1 in itertools.pairwise(bounds):
            while j < len(order) and items[order[j]][0] <= b0:
                s, e, user = items[order[j]]
                heapq.heappush(heap, (-order[j], e, user))
                j += 1
            while heap and heap[0][1] <= b0:
                heapq.heappop(heap)
            if not heap:
                continue
            user = heap[0][2]
            if self.ends and self.ends[-1] == b0 and self.users[-1] == user:
                self.ends[-1] = b1
            else:
                self.starts.append(b0)
                self.ends.append(b1)
                self.users.append(user)

    def at(self, u: datetime) -> _Span:
        few = self.few
        if few is not None:
            user = None
            lo, hi = _MIN, _MAX
            for s, e, who in few:
                if s <= u:
                    if u < e:
                        if user is None:
                            user = who
                        if s > lo:
                            lo = s
                        if e < hi:
                            hi = e
                    elif e > lo:
                        lo = e
                elif s < hi:
                    hi = s
            return user, lo, hi
        starts = self.starts
        if not starts:
            return None, _MIN, _MAX
        i = bisect.bisect_right(starts, u) - 1
        if i >= 0 and u < self.ends[i]:
            return self.users[i], starts[i], self.ends[i]
        return (
            None,
            self.ends[i] if i >= 0 else _MIN,
            starts[i + 1] if i + 1 < len(starts) else _MAX,
        )


_NO_OVERRIDES = _OverridePlan(())


class _Evaluator:
    """Answers "who is on call at u" and remembers per-layer states between queries."""

    __slots__ = ("layers", "overrides", "states")

    def __init__(self, plan: _RotationPlan, overrides: _OverridePlan) -> None:
        self.layers = plan.layers
        self.overrides = overrides
        self.states: list[_State | None] = [None] * len(plan.layers)

    def at(self, u: datetime) -> tuple[str | None, int | None, datetime, datetime]:
        """(user, layer, from, until): the final answer and a stretch where it holds."""
        user, s, e = self.overrides.at(u)
        if user is not None:
            return user, None, s, e
        states = self.states
        layers = self.layers
        for i in range(len(layers) - 1, -1, -1):
            st = states[i]
            if st is None or not (st[1] <= u < st[2]):
                st = states[i] = layers[i].state(u, st)
            if st[1] > s:
                s = st[1]
            if st[2] < e:
                e = st[2]
            if st[0] is not None:
                return st[0], i, s, e
        return None, None, s, e


_OVERRIDE_PLANS: dict[tuple[int, ...], tuple[tuple[Override, ...], _OverridePlan]] = {}
_OVERRIDE_PLANS_MAX = 1024


def _overrides_plan(overrides: Sequence[Override]) -> _OverridePlan:
    if not isinstance(overrides, list | tuple):
        overrides = tuple(overrides)
    if not overrides:
        return _NO_OVERRIDES
    if len(overrides) <= _OverridePlan.SCAN_MAX:
        return _OverridePlan(overrides)  # cheaper to rebuild than to cache
    # Overrides are immutable, so segments built for the same objects in the same order can
    # be reused; the entry keeps them alive so their ids cannot be reused meanwhile.
    key = tuple(map(id, overrides))
    entry = _OVERRIDE_PLANS.get(key)
    if entry is not None:
        return entry[1]
    items = tuple(overrides)
    plan = _OverridePlan(items)
    if all(type(o) is Override for o in items):
        if len(_OVERRIDE_PLANS) >= _OVERRIDE_PLANS_MAX:
            _OVERRIDE_PLANS.clear()
        _OVERRIDE_PLANS[key] = (items, plan)
    return plan


def _sweep(
    plan: _RotationPlan, ovp: _OverridePlan, a: datetime, b: datetime
) -> Iterator[tuple[datetime, datetime, str | None, int | None]]:
    """Final schedule over ``[a, b)`` (naive UTC) with same-user stretches merged."""
    ev = _Evaluator(plan, ovp)
    t = a
    cur_s = cur_e = a
    cur_user: str | None = None
    cur_layer: int | None = None
    started = False
    while t < b:
        user, layer, _, e = ev.at(t)
        if e > b:
            e = b
        if started and user == cur_user:
            cur_e = e
        else:
            if started:
                yield cur_s, cur_e, cur_user, cur_layer
            cur_s, cur_e, cur_user, cur_layer = t, e, user, layer
            started = True
        t = e
    if started:
        yield cur_s, cur_e, cur_user, cur_layer


def _clamp_add(u: datetime, d: timedelta) -> datetime:
    try:
        return u + d
    except OverflowError:
        return _MAX if d > _ZERO else _MIN


# --------------------------------------------------------------------------------------------
# Public queries
# --------------------------------------------------------------------------------------------


def on_call(rotation: Rotation, at: datetime, overrides: Sequence[Override] = ()) -> Shift | None:
    """The final shift covering ``at``, or None if nobody is on call then.

    ``start``/``end`` are where the on-call person changes, searched at most the rotation's
    horizon (twice its longest shift plus eight days) either side of ``at``; a bound not found
    within it is clamped to ``at`` +/- horizon.
    """
    u = _naive_utc(at, "at")
    plan = _plan(rotation)
    ev = _Evaluator(plan, _overrides_plan(overrides))
    user, layer, s, e = ev.at(u)
    if user is None:
        return None
    hi = _clamp_add(u, plan.horizon)
    lo = _clamp_add(u, -plan.horizon)
    around_u = ev.states[:]
    while e < hi:
        nxt, _, _, e2 = ev.at(e)
        if nxt != user:
            break
        e = e2
    ev.states = around_u  # walk back from the states at ``u``: their hints point both ways
    while s > lo:
        prev, _, s2, _ = ev.at(s - _ONE_US)
        if prev != user:
            break
        s = s2
    return Shift(rotation.id, user, _aware(max(s, lo)), _aware(min(e, hi)), layer)


def timeline(
    rotation: Rotation, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Shift]:
    """Shifts and gaps in time order, covering ``[start, end)`` exactly."""
    a = _naive_utc(start, "start")
    b = _naive_utc(end, "end")
    plan = _plan(rotation)
    rid = rotation.id
    return [
        Shift(rid, user, _aware(s), _aware(e), layer)
        for s, e, user, layer in _sweep(plan, _overrides_plan(overrides), a, b)
    ]


def shifts(
    rotation: Rotation, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Shift]:
    """The final schedule within ``[start, end)``: same-user stretches merged, the first and
    last cut to the window, gaps left out."""
    return [s for s in timeline(rotation, start, end, overrides) if s.user is not None]


def gaps(
    rotation: Rotation, start: datetime, end: datetime, overrides: Sequence[Override] = ()
) -> list[Shift]:
    """Stretches of ``[start, end)`` with nobody on call (``user`` None), cut to the window."""
    return [s for s in timeline(rotation, start, end, overrides) if s.user is None]


def next_handoff(
    rotation: Rotation, after: datetime, overrides: Sequence[Override] = ()
) -> Shift | None:
    """The next final shift starting strictly after ``after``, looking at most
    :data:`NEXT_HANDOFF_HORIZON` ahead; its end is cut to that horizon."""
    a = _naive_utc(after, "after")
    b = _clamp_add(a, NEXT_HANDOFF_HORIZON)
    segments = _sweep(_plan(rotation), _overrides_plan(overrides), a, b)
    next(segments, None)  # the stretch already running at ``after``
    for s, e, user, layer in segments:
        if user is not None:
            return Shift(rotation.id, user, _aware(s), _aware(e), layer)
    return None


def layer_handoffs(
    layer: Layer, tz: str | tzinfo, start: datetime, end: datetime
) -> Iterator[tuple[str, datetime, datetime]]:
    """The layer's own shifts ``(member, start, end)`` overlapping ``[start, end)``.

    These are the raw handoffs, uncut and not masked by the layer's restriction; shifts
    squeezed to nothing by a DST change are skipped.
    """
    a = _naive_utc(start, "start")
    b = _naive_utc(end, "end")
    return _layer_handoffs(_LayerPlan(layer, _as_zone(tz)), a, b)


def _layer_handoffs(
    lp: _LayerPlan, a: datetime, b: datetime
) -> Iterator[tuple[str, datetime, datetime]]:
    if a >= b:
        return
    if a < lp.h0:
        k, hs, he = 0, lp.h0, lp.handoff(1)
    else:
        k, hs, he = lp.shift_at(a, lp.zone.to_local(a))
    while hs < b:
        if hs < he:
            yield lp.members[k % lp.n], _aware(hs), _aware(he)
        if he == _MAX:
            return
        k += 1
        hs = he
        he = lp.handoff(k + 1)
