"""Rotation engine: who is on call, computed from rotation rules, layers and overrides.

The package re-exports the public API; ``model`` holds the data types, ``zones`` the time
zone arithmetic, ``plan`` the compiled per-rotation plans and ``queries`` the public
queries.

Pure on-call rotation engine.

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

from schedules.rotation.model import (
    NEXT_HANDOFF_HORIZON,
    Layer,
    Override,
    Restrict,
    Rotation,
    Shift,
    ShiftLength,
)
from schedules.rotation.queries import gaps, layer_handoffs, next_handoff, on_call, shifts, timeline
from schedules.rotation.zones import resolve

__all__ = [
    "NEXT_HANDOFF_HORIZON",
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
