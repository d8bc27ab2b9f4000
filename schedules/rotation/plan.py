"""Compiled plans: per-layer and per-rotation precomputation of handoffs and restriction
windows, override segments, the evaluator answering who is on call at an instant, and
the caches that keep plans between queries.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schedules.rotation.model import Layer, Override, Rotation
from schedules.rotation.zones import (
    _EIGHT_DAYS,
    _MAX,
    _MIN,
    _ONE_DAY,
    _ZERO,
    _naive_utc,
    _resolve_utc,
    _table,
    _zone,
)

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
