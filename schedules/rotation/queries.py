"""Public queries over the final schedule: who is on call, timelines, shifts, gaps and
handoffs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo

from schedules.rotation.model import NEXT_HANDOFF_HORIZON, Layer, Override, Rotation, Shift
from schedules.rotation.plan import (
    _clamp_add,
    _Evaluator,
    _LayerPlan,
    _overrides_plan,
    _plan,
    _sweep,
)
from schedules.rotation.zones import _MAX, _ONE_US, _as_zone, _aware, _naive_utc


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
