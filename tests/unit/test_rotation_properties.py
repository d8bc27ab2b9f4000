"""Property tests for schedules.rotation: the final schedule is a consistent function of time."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedules.rotation import (
    Layer,
    Override,
    Restrict,
    Rotation,
    Shift,
    ShiftLength,
    gaps,
    layer_handoffs,
    next_handoff,
    on_call,
    shifts,
    timeline,
)
from tests.support.rotation import reference_resolve, who

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ZONES = [
    "UTC",
    "America/Chicago",
    "Europe/Dublin",
    "Australia/Lord_Howe",
    "America/Los_Angeles",
    "Asia/Kolkata",
]
POOL = ["ann", "bob", "cat", "dan", "eve"]
ONE_US = timedelta(microseconds=1)
MAX_CHECKS = 40  # instants checked against on_call per example, to keep things fast


@cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """UTC instants in 2019-2021 at which ``zone`` changes its offset."""
    tz = ZoneInfo(zone)

    def offset(t: datetime) -> timedelta | None:
        return t.astimezone(tz).utcoffset()

    out = []
    t = datetime(2019, 1, 1, tzinfo=UTC)
    while t < datetime(2022, 1, 1, tzinfo=UTC):
        nxt = t + timedelta(days=1)
        if offset(nxt) != offset(t):
            lo, hi = t, nxt  # offset(lo) differs from offset(hi); transitions are on minutes
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= lo:
                    mid = lo + timedelta(minutes=1)
                if offset(mid) == offset(lo):
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
        t = nxt
    return tuple(out)


# Hours and minutes include ones that fall into the gaps and repeated hours of the zones above.
naive_starts = st.builds(
    lambda d, h, m: d.replace(hour=h, minute=m, second=0, microsecond=0),
    st.datetimes(min_value=datetime(2019, 6, 1), max_value=datetime(2021, 6, 1)),
    st.sampled_from([0, 1, 2, 3, 9, 12, 20, 23]),
    st.sampled_from([0, 15, 30, 45]),
)

shift_lengths = st.one_of(
    st.builds(ShiftLength, st.sampled_from([1, 1, 2, 3, 5, 8, 12, 24, 36]), st.just("h")),
    st.builds(ShiftLength, st.sampled_from([1, 1, 2, 3, 7, 10]), st.just("d")),
    st.builds(ShiftLength, st.integers(1, 3), st.just("w")),
)

clock_times = st.builds(
    time, st.sampled_from([0, 1, 2, 3, 8, 9, 17, 20, 23]), st.sampled_from([0, 15, 30])
)


def transition_walls(zone: str) -> list[datetime]:
    """Local wall time at which each offset change happens (start of the gap or the end of
    the repeated stretch)."""
    tz = ZoneInfo(zone)
    return [(t - ONE_US).astimezone(tz).replace(tzinfo=None) + ONE_US for t in transitions(zone)]


def dst_aligned_starts(zone: str) -> st.SearchStrategy[datetime]:
    """Layer starts whose wall-clock time of day sits in or next to a DST change, a whole
    number of weeks before it, so daily, weekly and hourly handoffs land on the change."""
    walls = transition_walls(zone)
    if not walls:
        return naive_starts
    return st.builds(
        lambda w, m, weeks: w + timedelta(minutes=m) - timedelta(weeks=weeks),
        st.sampled_from(walls),
        st.sampled_from([-90, -60, -45, -30, -15, 0, 15, 30, 45, 60]),
        st.integers(0, 6),
    )


def dst_aligned_clock_times(zone: str) -> st.SearchStrategy[time]:
    walls = transition_walls(zone)
    if not walls:
        return clock_times
    return st.builds(
        lambda w, m: (w + timedelta(minutes=m)).time(),
        st.sampled_from(walls),
        st.sampled_from([-90, -60, -45, -30, -15, 0, 15, 30, 45, 60]),
    )


def layers_in(zone: str) -> st.SearchStrategy[Layer]:
    times = st.one_of(clock_times, dst_aligned_clock_times(zone))
    restricts = st.builds(Restrict, st.frozensets(st.integers(0, 6), max_size=7), times, times)
    return st.builds(
        Layer,
        st.lists(st.sampled_from(POOL), min_size=1, max_size=4).map(tuple),
        st.one_of(naive_starts, dst_aligned_starts(zone)),
        shift_lengths,
        st.none() | restricts,
    )


def rotations_in(zone: str) -> st.SearchStrategy[Rotation]:
    return st.builds(
        Rotation,
        st.just("rot"),
        st.just(zone),
        st.lists(layers_in(zone), min_size=1, max_size=3).map(tuple),
    )


anywhere = st.datetimes(
    min_value=datetime(2019, 1, 1), max_value=datetime(2022, 1, 1), timezones=st.just(UTC)
)


def instants_near_transitions(zone: str) -> st.SearchStrategy[datetime]:
    """Instants within a few hours of one of the zone's offset changes (anywhere, for a zone
    without any)."""
    if not transitions(zone):
        return anywhere
    return st.builds(
        lambda t, m, us: t + timedelta(minutes=m, microseconds=us),
        st.sampled_from(transitions(zone)),
        st.integers(-4 * 60, 4 * 60),
        st.sampled_from([0, 0, 1, 999_999]),
    )


@st.composite
def windows(draw, zone: str) -> tuple[datetime, datetime]:
    if draw(st.booleans()):
        start = draw(instants_near_transitions(zone)) - timedelta(hours=draw(st.integers(0, 96)))
    else:
        start = draw(anywhere)
    length = timedelta(minutes=draw(st.integers(1, 40 * 24 * 60)))
    return start, start + length


@st.composite
def overrides_near(draw, window: tuple[datetime, datetime]) -> list[Override]:
    a, b = window
    span = int((b - a).total_seconds() // 60)
    out = []
    # up to 12: a handful is scanned, more are flattened into sorted segments
    for i in range(draw(st.integers(0, 12))):
        s = a + timedelta(minutes=draw(st.integers(-600, span + 600)))
        length = timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
        out.append(Override(draw(st.sampled_from(POOL)), s, s + length, id=i))
    return out


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(ZONES))
    rotation = draw(rotations_in(zone))
    window = draw(windows(zone))
    return rotation, window, draw(overrides_near(window))


@st.composite
def point_scenarios(draw):
    """A rotation, overrides and an instant, often close to one of the zone's DST changes."""
    zone = draw(st.sampled_from(ZONES))
    rotation = draw(rotations_in(zone))
    t = draw(st.one_of(instants_near_transitions(zone), anywhere))
    return rotation, t, draw(overrides_near((t - timedelta(days=1), t + timedelta(days=1))))


def horizon(rotation: Rotation) -> timedelta:
    """How far on_call looks either side for the ends of a shift (documented there)."""
    return max(layer.shift.delta for layer in rotation.layers) * 2 + timedelta(days=8)


def sample(items: list, n: int = MAX_CHECKS) -> list:
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def clip(segments: list[Shift], a: datetime, b: datetime) -> list[tuple]:
    """(user, start, end) of ``segments`` cut to ``[a, b)``, same-user runs merged."""
    out: list[list] = []
    for s in segments:
        lo, hi = max(s.start, a), min(s.end, b)
        if lo >= hi:
            continue
        if out and out[-1][0] == s.user and out[-1][2] == lo:
            out[-1][2] = hi
        else:
            out.append([s.user, lo, hi])
    return [tuple(x) for x in out]


@SETTINGS
@given(scenarios())
def test_timeline_is_a_contiguous_exact_cover(scenario):
    rotation, (a, b), ovs = scenario
    tl = timeline(rotation, a, b, ovs)
    assert tl, "a non-empty window has a non-empty timeline"
    assert tl[0].start == a
    assert tl[-1].end == b
    for prev, nxt in itertools.pairwise(tl):
        assert prev.end == nxt.start
        assert prev.user != nxt.user, "same-user neighbours are merged"
    for s in tl:
        assert s.start < s.end
        assert s.start.tzinfo is UTC and s.end.tzinfo is UTC
        assert s.rotation == "rot"
        if s.user is None:
            assert s.layer is None
    assert shifts(rotation, a, b, ovs) == [s for s in tl if s.user is not None]
    assert gaps(rotation, a, b, ovs) == [s for s in tl if s.user is None]


@SETTINGS
@given(scenarios())
def test_timeline_agrees_with_on_call(scenario):
    rotation, (a, b), ovs = scenario
    tl = timeline(rotation, a, b, ovs)
    for s in sample(tl):
        mid = s.start + (s.end - s.start) / 2
        for t in (s.start, mid, s.end - ONE_US):
            got = on_call(rotation, t, ovs)
            assert (None if got is None else got.user) == s.user, (t, s)
            if got is not None:
                assert got.start <= t < got.end
                # the on_call extent contains the (window-cut) timeline segment, unless it was
                # clamped to the search horizon
                h = horizon(rotation)
                assert got.start <= s.start or s.start == a or got.start == t - h
                assert got.end >= s.end or s.end == b or got.end == t + h
        got = on_call(rotation, s.start, ovs)
        if got is not None:
            assert got.layer == s.layer


@SETTINGS
@given(scenarios())
def test_latest_covering_override_wins(scenario):
    rotation, (a, b), ovs = scenario
    tl = timeline(rotation, a, b, ovs)
    points = [s.start for s in tl] + [s.start + (s.end - s.start) / 2 for s in tl]
    points += [o.start for o in ovs if a <= o.start < b] + [o.end for o in ovs if a <= o.end < b]
    for t in sample(points, 3 * MAX_CHECKS):
        covering = [o for o in ovs if o.start <= t < o.end]
        seg = next(s for s in tl if s.start <= t < s.end)
        if covering:
            assert seg.user == covering[-1].user, t
            got = on_call(rotation, t, ovs)
            assert got is not None and got.user == covering[-1].user


@SETTINGS
@given(scenarios(), st.data())
def test_answer_does_not_depend_on_the_query_window(scenario, data):
    rotation, (a, b), ovs = scenario
    span = b - a
    lo = a + span * data.draw(st.floats(0, 1))
    hi = lo + (b - lo) * data.draw(st.floats(0, 1))
    if hi <= lo:
        hi = lo + ONE_US
    lo = lo.replace(microsecond=0)
    big = timeline(rotation, a - timedelta(days=3), b + timedelta(days=3), ovs)
    small = timeline(rotation, lo, hi, ovs)
    assert clip(big, lo, hi) == [(s.user, s.start, s.end) for s in small]


@SETTINGS
@given(scenarios(), st.data())
def test_on_call_extent_is_maximal(scenario, data):
    rotation, (a, b), ovs = scenario
    t = a + (b - a) * data.draw(st.floats(0, 1))
    got = on_call(rotation, t, ovs)
    if got is None:
        assert timeline(rotation, t, t + ONE_US, ovs)[0].user is None
        return
    assert got.start <= t < got.end
    around = timeline(rotation, got.start - ONE_US, got.end + ONE_US, ovs)
    inner = [s for s in around if s.end > got.start and s.start < got.end]
    assert [s.user for s in inner] == [got.user]
    h = horizon(rotation)
    if got.start > t - h:  # not clamped: the user changes right there
        assert around[0].user != got.user
    if got.end < t + h:
        assert around[-1].user != got.user


@SETTINGS
@given(scenarios(), st.data())
def test_next_handoff_is_the_next_change_to_someone(scenario, data):
    rotation, (a, b), ovs = scenario
    t = a + (b - a) * data.draw(st.floats(0, 1))
    nh = next_handoff(rotation, t, ovs)
    if nh is None:
        tl = timeline(rotation, t, t + timedelta(days=366), ovs)
        assert all(s.user is None for s in tl[1:])
        return
    assert nh.start > t
    assert nh.user is not None
    tl = timeline(rotation, t, nh.start + ONE_US, ovs)
    assert tl[-1].user == nh.user and tl[-1].start == nh.start
    assert all(s.user is None for s in tl[1:-1])
    assert who(rotation, nh.start - ONE_US, ovs) != nh.user


@SETTINGS
@given(scenarios())
def test_layer_handoffs_are_contiguous_and_arithmetic(scenario):
    rotation, window, _ = scenario
    a, b = window
    tz = ZoneInfo(rotation.timezone)
    lay = rotation.layers[0]
    got = list(layer_handoffs(lay, rotation.timezone, a, b))
    for (_, _, e1), (_, s2, _) in itertools.pairwise(got):
        assert e1 == s2
    for member, s, e in got:
        assert s < e and e > a and s < b
        assert member == reference_member(lay, tz, s)
        assert member == reference_member(lay, tz, e - ONE_US)
    if got:
        assert got[0][1] <= a or got[0][1] == reference_handoff(lay, tz, 0)


@st.composite
def single_layer_cases(draw):
    zone = draw(st.sampled_from(ZONES))
    members = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=4).map(tuple))
    start = draw(st.one_of(naive_starts, dst_aligned_starts(zone)))
    lay = Layer(members, start, draw(shift_lengths))
    far = st.datetimes(
        min_value=datetime(2019, 1, 1), max_value=datetime(2101, 1, 1), timezones=st.just(UTC)
    )
    at = draw(st.one_of(instants_near_transitions(zone), far))
    return zone, lay, at


@SETTINGS
@given(single_layer_cases())
def test_single_unrestricted_layer_matches_reference(case):
    """Compare with an independent, slow reference of the product rules."""
    zone, lay, center = case
    rotation = Rotation("rot", zone, (lay,))
    # every quarter of an hour for two hours either side of ``center``
    for q in range(-8, 9):
        at = center + timedelta(minutes=15 * q)
        assert who(rotation, at, ()) == reference_member(lay, ZoneInfo(zone), at), at


@SETTINGS
@given(point_scenarios())
def test_point_queries_agree_with_a_long_sweep(scenario):
    """on_call works from the instant alone; the sweep walks there from days before.  Near
    DST changes both must say the same."""
    rotation, center, ovs = scenario
    tl = timeline(rotation, center - timedelta(days=9), center + timedelta(days=2), ovs)
    for q in range(-8, 9):
        t = center + timedelta(minutes=15 * q)
        seg = next(s for s in tl if s.start <= t < s.end)
        assert who(rotation, t, ovs) == seg.user, t
        assert timeline(rotation, t, t + ONE_US, ovs)[0].user == seg.user, t


# --------------------------------------------------------------------------------------------
# A deliberately naive reference implementation of the handoff rules
# --------------------------------------------------------------------------------------------


def reference_handoff(lay: Layer, tz: ZoneInfo, k: int) -> datetime:
    return reference_resolve(lay.start + lay.shift.delta * k, tz)


def reference_member(lay: Layer, tz: ZoneInfo, at: datetime) -> str | None:
    if at < reference_handoff(lay, tz, 0):
        return None
    local_wall = at.astimezone(tz).replace(tzinfo=None)
    guess = (local_wall - lay.start) // lay.shift.delta
    # the largest k with H(k) <= at; DST moves the guess by at most a few steps
    lo = max(0, guess - 4)
    k = max(j for j in range(lo, guess + 5) if reference_handoff(lay, tz, j) <= at)
    assert reference_handoff(lay, tz, guess + 5) > at, "the guess is never that far off"
    return lay.members[k % len(lay.members)]
