"""Unit tests for the pure rotation engine in schedules.rotation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from schedules.rotation import (
    NEXT_HANDOFF_HORIZON,
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
    resolve,
    shifts,
    timeline,
)
from tests.support.rotation import reference_resolve, who

CHI = ZoneInfo("America/Chicago")
LA = ZoneInfo("America/Los_Angeles")
LHI = ZoneInfo("Australia/Lord_Howe")

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def local(tz: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0):
    return datetime(y, mo, d, h, mi, tzinfo=tz, fold=fold)


def layer(members: str, start: datetime, shift: str, restrict: Restrict | None = None) -> Layer:
    return Layer(tuple(members.split()), start, ShiftLength.parse(shift), restrict)


def rot(tz: str, *layers: Layer, rid: str = "r") -> Rotation:
    return Rotation(rid, tz, tuple(layers))


def handoff_starts(lay: Layer, tz: str, a: datetime, b: datetime) -> list[tuple[str, datetime]]:
    return [(m, s) for m, s, _ in layer_handoffs(lay, tz, a, b)]


# --------------------------------------------------------------------------------------------
# ShiftLength, validation, resolve
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit", "delta"),
    [
        ("12h", 12, "h", timedelta(hours=12)),
        ("1d", 1, "d", timedelta(days=1)),
        ("2w", 2, "w", timedelta(weeks=2)),
        (" 3 D ", 3, "d", timedelta(days=3)),
        ("168h", 168, "h", timedelta(weeks=1)),
    ],
)
def test_shift_length_parse(text, amount, unit, delta):
    sl = ShiftLength.parse(text)
    assert (sl.amount, sl.unit, sl.delta) == (amount, unit, delta)
    assert ShiftLength.parse(str(sl)) == sl


@pytest.mark.parametrize("text", ["", "0d", "1m", "d", "1.5h", "-1d", "1 day", "h1"])
def test_shift_length_parse_rejects(text):
    with pytest.raises(ValueError):
        ShiftLength.parse(text)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ShiftLength(0, "d"),
        lambda: ShiftLength(1, "m"),  # type: ignore[arg-type]
        lambda: Layer((), datetime(2020, 1, 1), ShiftLength(1, "d")),
        lambda: Layer(("a",), datetime(2020, 1, 1, tzinfo=UTC), ShiftLength(1, "d")),
        lambda: Restrict(frozenset({7}), time(9), time(17)),
        lambda: Rotation("r", "Not/AZone", (layer("a", datetime(2020, 1, 1), "1d"),)),
        lambda: Rotation("r", "UTC", ()),
        lambda: Override("a", datetime(2020, 1, 1), utc(2020, 1, 2)),
        lambda: Override("a", utc(2020, 1, 2), utc(2020, 1, 1)),
    ],
)
def test_invalid_definitions_raise(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize(
    ("naive", "tz", "expected"),
    [
        # plain time
        (datetime(2020, 6, 1, 12), "America/Chicago", utc(2020, 6, 1, 17)),
        # spring forward: 02:30 does not exist -> 03:00 CDT
        (datetime(2020, 3, 8, 2, 30), "America/Chicago", utc(2020, 3, 8, 8)),
        (datetime(2020, 3, 8, 2, 0), "America/Chicago", utc(2020, 3, 8, 8)),
        (datetime(2020, 3, 8, 3, 0), "America/Chicago", utc(2020, 3, 8, 8)),
        # fall back: 01:30 happens twice -> the first (CDT)
        (datetime(2020, 11, 1, 1, 30), "America/Chicago", utc(2020, 11, 1, 6, 30)),
        (datetime(2020, 11, 1, 1, 30, fold=1), "America/Chicago", utc(2020, 11, 1, 6, 30)),
        # Lord Howe springs forward by 30 minutes: 02:00 -> 02:30
        (datetime(2020, 10, 4, 2, 15), "Australia/Lord_Howe", utc(2020, 10, 3, 15, 30)),
        (datetime(2020, 6, 1, 12), "UTC", utc(2020, 6, 1, 12)),
    ],
)
def test_resolve(naive, tz, expected):
    assert resolve(naive, tz) == expected
    assert resolve(naive, tz).tzinfo is UTC


@pytest.mark.parametrize(
    "zone",
    [
        "America/Chicago",
        "America/Sao_Paulo",  # used to change at midnight
        "Europe/Dublin",  # "negative" daylight saving in tzdata
        "Australia/Lord_Howe",  # 30-minute change
        "Antarctica/Troll",  # 2-hour change
        "Pacific/Chatham",  # +12:45 / +13:45
        "Pacific/Apia",  # skipped 2011-12-30 entirely
        "Asia/Tehran",
        "UTC",
    ],
)
def test_resolve_matches_zoneinfo_around_every_change(zone):
    tz = ZoneInfo(zone)
    checked = 0
    t = datetime(2010, 1, 1, tzinfo=UTC)
    while t < datetime(2024, 1, 1, tzinfo=UTC):
        nxt = t + timedelta(days=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset() or t.day == 1:
            wall = t.astimezone(tz).replace(tzinfo=None)
            for m in range(0, 36 * 60, 15):
                naive = wall + timedelta(minutes=m)
                assert resolve(naive, zone) == reference_resolve(naive, tz), naive
                checked += 1
        t = nxt
    assert checked > 0


def test_apia_skipped_day():
    # Samoa skipped 2011-12-30: a 09:00 handoff that day moves to 2011-12-31 00:00 local.
    apia = ZoneInfo("Pacific/Apia")
    r = rot("Pacific/Apia", layer("a b", datetime(2011, 12, 1, 9), "1d"))
    got = handoff_starts(r.layers[0], "Pacific/Apia", utc(2011, 12, 28), utc(2012, 1, 1))
    assert [(m, s.astimezone(apia).strftime("%m-%d %H:%M")) for m, s in got] == [
        ("a", "12-27 09:00"),  # k=26
        ("b", "12-28 09:00"),
        ("a", "12-29 09:00"),
        ("b", "12-31 00:00"),  # k=29: 12-30 09:00 does not exist; a 9-hour shift
        ("a", "12-31 09:00"),
        ("b", "01-01 09:00"),  # 2011-12-31 19:00 UTC, inside the window
    ]


def test_utc_tzinfo_is_accepted_as_a_zone():
    lay = layer("a b", datetime(2021, 1, 1), "1d")
    assert list(layer_handoffs(lay, UTC, utc(2021, 1, 1), utc(2021, 1, 2))) == [
        ("a", utc(2021, 1, 1), utc(2021, 1, 2))
    ]
    assert resolve(datetime(2021, 1, 1), UTC) == utc(2021, 1, 1)


def test_resolve_rejects_aware():
    with pytest.raises(ValueError):
        resolve(utc(2020, 1, 1), "UTC")


# --------------------------------------------------------------------------------------------
# Daylight saving
# --------------------------------------------------------------------------------------------

DAILY_0230_CHI = rot("America/Chicago", layer("a b c", datetime(2020, 3, 1, 2, 30), "1d"))


def test_daily_0230_handoff_across_spring_forward():
    got = handoff_starts(
        DAILY_0230_CHI.layers[0], "America/Chicago", utc(2020, 3, 7, 12), utc(2020, 3, 10)
    )
    assert got == [
        ("a", local(CHI, 2020, 3, 7, 2, 30)),  # k=6
        ("b", local(CHI, 2020, 3, 8, 3, 0)),  # 02:30 does not exist -> 03:00 CDT
        ("c", local(CHI, 2020, 3, 9, 2, 30)),  # back at 02:30, now CDT
    ]
    assert got[1][1] == utc(2020, 3, 8, 8)
    assert got[2][1] == utc(2020, 3, 9, 7, 30)


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (local(CHI, 2020, 3, 8, 1, 59), "a"),
        (local(CHI, 2020, 3, 8, 3, 0), "b"),
        (utc(2020, 3, 8, 7, 59), "a"),
        (utc(2020, 3, 8, 8, 0), "b"),
        (local(CHI, 2020, 3, 9, 2, 29), "b"),
        (local(CHI, 2020, 3, 9, 2, 30), "c"),
    ],
)
def test_daily_0230_on_call_across_spring_forward(at, user):
    assert who(DAILY_0230_CHI, at) == user


def test_daily_0230_shift_extent_across_spring_forward():
    s = on_call(DAILY_0230_CHI, local(CHI, 2020, 3, 8, 12))
    assert s == Shift("r", "b", utc(2020, 3, 8, 8), utc(2020, 3, 9, 7, 30), 0)
    # 23.5 real hours: the shift starts late because 02:30 was skipped that night.
    assert s.end - s.start == timedelta(hours=23, minutes=30)


# Hourly, started on the hour: handoff k is local 2020-03-07 00:00 + k hours.
HOURLY_CHI = rot("America/Chicago", layer("a b c d", datetime(2020, 3, 7, 0, 0), "1h"))


def test_hourly_across_spring_forward_skips_the_squeezed_shift():
    got = list(
        layer_handoffs(
            HOURLY_CHI.layers[0],
            "America/Chicago",
            local(CHI, 2020, 3, 8, 0, 30),
            local(CHI, 2020, 3, 8, 4, 30),
        )
    )
    assert got == [
        ("a", local(CHI, 2020, 3, 8, 0), local(CHI, 2020, 3, 8, 1)),  # k=24
        ("b", local(CHI, 2020, 3, 8, 1), local(CHI, 2020, 3, 8, 3)),  # k=25, 01:00 CST
        # k=26 (local 02:00, "c") resolves to 03:00 CDT like k=27: squeezed out, skipped
        ("d", local(CHI, 2020, 3, 8, 3), local(CHI, 2020, 3, 8, 4)),  # k=27
        ("a", local(CHI, 2020, 3, 8, 4), local(CHI, 2020, 3, 8, 5)),  # k=28
    ]
    # b's shift lasts one real hour (01:00 CST -> 03:00 CDT)
    assert got[1][2] - got[1][1] == timedelta(hours=1)


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (local(CHI, 2020, 3, 8, 0, 30), "a"),
        (local(CHI, 2020, 3, 8, 1, 0), "b"),
        (local(CHI, 2020, 3, 8, 1, 59), "b"),
        (utc(2020, 3, 8, 8), "d"),  # 03:00 CDT
        (local(CHI, 2020, 3, 8, 3, 59), "d"),
        (local(CHI, 2020, 3, 8, 4, 0), "a"),
        (local(CHI, 2020, 3, 9, 4, 0), "a"),  # k=52: the index stays wall-clock arithmetic
    ],
)
def test_hourly_on_call_across_spring_forward(at, user):
    assert who(HOURLY_CHI, at) == user


def test_hourly_across_fall_back_first_occurrence_gets_the_long_shift():
    got = list(
        layer_handoffs(
            HOURLY_CHI.layers[0],
            "America/Chicago",
            local(CHI, 2020, 11, 1, 0, 30),
            local(CHI, 2020, 11, 1, 2, 30),
        )
    )
    # local 01:00 is its first occurrence (CDT); the next handoff is local 02:00 CST, two
    # real hours later.
    assert [(m, s, e - s) for m, s, e in got] == [
        ("a", utc(2020, 11, 1, 5), timedelta(hours=1)),  # k=5736 (239 days after start)
        ("b", utc(2020, 11, 1, 6), timedelta(hours=2)),
        ("c", utc(2020, 11, 1, 8), timedelta(hours=1)),
    ]


DAILY_0130_CHI = rot("America/Chicago", layer("a b", datetime(2020, 10, 1, 1, 30), "1d"))


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (utc(2020, 11, 1, 6, 29), "a"),  # 01:29 CDT
        (utc(2020, 11, 1, 6, 30), "b"),  # 01:30 CDT: the first occurrence is the handoff
        (local(CHI, 2020, 11, 1, 1, 15, fold=1), "b"),  # 01:15 CST, after the handoff
        (local(CHI, 2020, 11, 1, 1, 45, fold=1), "b"),  # second 01:30 is no handoff
        (local(CHI, 2020, 11, 2, 1, 29), "b"),
        (local(CHI, 2020, 11, 2, 1, 30), "a"),
    ],
)
def test_fall_back_ambiguous_handoff_takes_first_occurrence(at, user):
    assert who(DAILY_0130_CHI, at) == user


def test_fall_back_ambiguous_handoff_extent():
    s = on_call(DAILY_0130_CHI, local(CHI, 2020, 11, 1, 12))
    assert s is not None
    assert (s.start, s.end) == (utc(2020, 11, 1, 6, 30), utc(2020, 11, 2, 7, 30))
    assert s.end - s.start == timedelta(hours=25)


def test_daily_0900_la_stays_at_nine_across_both_changes():
    lay = layer("a b c", datetime(2021, 1, 4, 9, 0), "1d")
    got = list(layer_handoffs(lay, "America/Los_Angeles", utc(2021, 3, 1), utc(2021, 11, 30)))
    # 2021-02-28 09:00 local (running at the window start) .. 2021-11-29 09:00 local
    assert len(got) == 275
    for _, s, e in got:
        assert s.astimezone(LA).time() == time(9, 0)
        assert e.astimezone(LA).time() == time(9, 0)
        assert s.tzinfo is UTC and e.tzinfo is UTC
    by_day = {s.astimezone(LA).date().isoformat(): (m, s, e) for m, s, e in got}
    assert by_day["2021-03-13"][1].hour == 17  # PST
    assert by_day["2021-03-14"][1].hour == 16  # PDT
    assert by_day["2021-03-13"][2] - by_day["2021-03-13"][1] == timedelta(hours=23)
    assert by_day["2021-11-06"][2] - by_day["2021-11-06"][1] == timedelta(hours=25)
    assert by_day["2021-11-07"][1].hour == 17
    # member index is plain day arithmetic from the start
    for m, s, _ in got:
        k = (s.astimezone(LA).date() - datetime(2021, 1, 4).date()).days
        assert m == "abc"[k % 3]


def test_lord_howe_half_hour_spring_forward():
    r = rot("Australia/Lord_Howe", layer("a b", datetime(2020, 10, 1, 2, 15), "1d"))
    got = handoff_starts(r.layers[0], "Australia/Lord_Howe", utc(2020, 10, 2), utc(2020, 10, 5))
    assert [m for m, _ in got] == ["b", "a", "b", "a"]
    assert [s.astimezone(LHI).strftime("%m-%d %H:%M") for _, s in got] == [
        "10-02 02:15",
        "10-03 02:15",
        "10-04 02:30",  # 02:15 does not exist (02:00 -> 02:30)
        "10-05 02:15",
    ]


def test_restrict_window_starting_in_the_gap_moves_to_the_gap_end():
    # Sundays from 02:30 to 05:00 local; on 2020-03-08 the window opens at 03:00 CDT.
    r = rot(
        "America/Chicago",
        layer("a", datetime(2020, 1, 1), "1w", Restrict(frozenset({SUN}), time(2, 30), time(5))),
    )
    assert shifts(r, utc(2020, 3, 7), utc(2020, 3, 9)) == [
        Shift("r", "a", utc(2020, 3, 8, 8), utc(2020, 3, 8, 10), 0)
    ]
    assert shifts(r, utc(2020, 3, 14), utc(2020, 3, 16)) == [
        Shift("r", "a", utc(2020, 3, 15, 7, 30), utc(2020, 3, 15, 10), 0)
    ]


def test_restrict_window_squeezed_by_the_gap_is_skipped():
    r = rot(
        "America/Chicago",
        layer("a", datetime(2020, 1, 1), "1d", Restrict(frozenset({SUN}), time(2), time(2, 30))),
    )
    assert shifts(r, utc(2020, 3, 7), utc(2020, 3, 9)) == []
    assert gaps(r, utc(2020, 3, 7), utc(2020, 3, 9)) == [
        Shift("r", None, utc(2020, 3, 7), utc(2020, 3, 9), None)
    ]
    assert len(shifts(r, utc(2020, 3, 14), utc(2020, 3, 16))) == 1


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (utc(2020, 11, 1, 6, 29), None),  # 01:29 CDT
        (utc(2020, 11, 1, 6, 30), "a"),  # 01:30 CDT: the window opens (first occurrence)
        (local(CHI, 2020, 11, 1, 1, 15, fold=1), "a"),  # 01:15 CST: earlier wall time, still in
        (local(CHI, 2020, 11, 1, 4, 59), "a"),
        (local(CHI, 2020, 11, 1, 5, 0), None),
    ],
)
def test_restrict_window_opening_in_the_repeated_hour(at, user):
    r = rot(
        "America/Chicago",
        layer("a", datetime(2020, 1, 1), "1d", Restrict(frozenset({SUN}), time(1, 30), time(5))),
    )
    assert who(r, at) == user


# --------------------------------------------------------------------------------------------
# Restrictions, layers, overrides, gaps
# --------------------------------------------------------------------------------------------

NIGHTS = Restrict(frozenset({MON, TUE, WED, THU, FRI}), time(20), time(8))
# 2021-01-04 is a Monday.
NIGHT_ROT = rot("UTC", layer("n1 n2", datetime(2021, 1, 4, 20), "1d", NIGHTS))


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (utc(2021, 1, 4, 19, 59), None),  # Monday before the first window
        (utc(2021, 1, 4, 20), "n1"),
        (utc(2021, 1, 5, 7, 59), "n1"),
        (utc(2021, 1, 5, 8), None),  # half-open: 08:00 is out
        (utc(2021, 1, 5, 20), "n2"),
        (utc(2021, 1, 8, 19, 59), None),  # Friday day time
        (utc(2021, 1, 8, 20), "n1"),  # Friday 20:00: on (window starts Friday)
        (utc(2021, 1, 9, 7), "n1"),  # Saturday 07:00: still Friday's window
        (utc(2021, 1, 9, 20), None),  # Saturday 20:00: off (no Saturday window)
        (utc(2021, 1, 10, 22), None),  # Sunday night: off
        (utc(2021, 1, 11, 7), None),  # Monday 07:00: off (no Sunday window)
        (utc(2021, 1, 11, 20), "n2"),  # handoff k=7 -> members[7 % 2]
    ],
)
def test_overnight_weekday_restriction(at, user):
    assert who(NIGHT_ROT, at) == user


def test_overnight_restriction_shifts_are_cut_to_windows():
    got = shifts(NIGHT_ROT, utc(2021, 1, 8), utc(2021, 1, 12))
    assert got == [
        Shift("r", "n2", utc(2021, 1, 8), utc(2021, 1, 8, 8), 0),
        Shift("r", "n1", utc(2021, 1, 8, 20), utc(2021, 1, 9, 8), 0),
        Shift("r", "n2", utc(2021, 1, 11, 20), utc(2021, 1, 12), 0),
    ]


ALL_DAY_SAT = rot(
    "UTC", layer("s", datetime(2021, 1, 1), "1w", Restrict(frozenset({SAT}), time(10), time(10)))
)


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (utc(2021, 1, 9, 9, 59), None),
        (utc(2021, 1, 9, 10), "s"),
        (utc(2021, 1, 9, 23), "s"),
        (utc(2021, 1, 10, 9, 59), "s"),
        (utc(2021, 1, 10, 10), None),
        (utc(2021, 1, 13, 12), None),
    ],
)
def test_restriction_with_equal_from_and_to_is_a_full_day(at, user):
    assert who(ALL_DAY_SAT, at) == user


def test_all_day_window_extent():
    assert on_call(ALL_DAY_SAT, utc(2021, 1, 9, 12)) == Shift(
        "r", "s", utc(2021, 1, 9, 10), utc(2021, 1, 10, 10), 0
    )


WEEKEND = Restrict(frozenset({SAT, SUN}), time(0), time(0))
LAYERED = rot(
    "Europe/Dublin",
    layer("w1 w2", datetime(2021, 1, 4, 9), "1w"),  # weekday team, weekly from Monday 09:00
    layer("e1 e2 e3", datetime(2021, 1, 2, 0), "1d", WEEKEND),  # weekend layer, daily
)


@pytest.mark.parametrize(
    ("at", "user", "layer_index"),
    [
        (utc(2021, 1, 6, 12), "w1", 0),  # Wednesday: the lower layer shows through
        (utc(2021, 1, 9, 12), "e2", 1),  # Saturday: the later layer wins (k=7)
        (utc(2021, 1, 10, 12), "e3", 1),  # Sunday (k=8)
        (utc(2021, 1, 11, 8, 59), "w1", 0),  # Monday before the weekly handoff
        (utc(2021, 1, 11, 9), "w2", 0),
        (utc(2021, 1, 16, 0), "e3", 1),  # k=14
    ],
)
def test_later_layer_wins_and_lower_shows_through(at, user, layer_index):
    s = on_call(LAYERED, at)
    assert s is not None and (s.user, s.layer) == (user, layer_index)


def test_layered_week_schedule():
    got = shifts(LAYERED, utc(2021, 1, 8), utc(2021, 1, 12))
    assert [(s.user, s.start, s.end, s.layer) for s in got] == [
        ("w1", utc(2021, 1, 8), utc(2021, 1, 9), 0),
        ("e2", utc(2021, 1, 9), utc(2021, 1, 10), 1),
        ("e3", utc(2021, 1, 10), utc(2021, 1, 11), 1),
        ("w1", utc(2021, 1, 11), utc(2021, 1, 11, 9), 0),
        ("w2", utc(2021, 1, 11, 9), utc(2021, 1, 12), 0),
    ]


def test_weekend_layer_in_summer_time_uses_local_midnight():
    # Dublin is UTC+1 in July: the weekend layer takes over at 23:00 UTC on Friday.
    assert who(LAYERED, utc(2021, 7, 9, 22, 59)) in {"w1", "w2"}
    assert who(LAYERED, utc(2021, 7, 9, 23, 0)) in {"e1", "e2", "e3"}


def test_override_inside_restricted_window():
    ov = [Override("ov", utc(2021, 1, 5, 0), utc(2021, 1, 5, 2))]
    assert who(NIGHT_ROT, utc(2021, 1, 4, 23), ov) == "n1"
    assert on_call(NIGHT_ROT, utc(2021, 1, 5, 1), ov) == Shift(
        "r", "ov", utc(2021, 1, 5), utc(2021, 1, 5, 2), None
    )
    assert who(NIGHT_ROT, utc(2021, 1, 5, 2), ov) == "n1"
    assert [
        (s.user, s.start, s.end) for s in shifts(NIGHT_ROT, utc(2021, 1, 4), utc(2021, 1, 6), ov)
    ] == [
        ("n1", utc(2021, 1, 4, 20), utc(2021, 1, 5)),
        ("ov", utc(2021, 1, 5), utc(2021, 1, 5, 2)),
        ("n1", utc(2021, 1, 5, 2), utc(2021, 1, 5, 8)),
        ("n2", utc(2021, 1, 5, 20), utc(2021, 1, 6)),
    ]


def test_override_fills_a_gap():
    ov = [Override("ov", utc(2021, 1, 9, 12), utc(2021, 1, 9, 13))]
    assert who(NIGHT_ROT, utc(2021, 1, 9, 12, 30), ov) == "ov"
    assert who(NIGHT_ROT, utc(2021, 1, 9, 13), ov) is None


def test_overlapping_overrides_later_in_the_list_wins():
    base = rot("UTC", layer("a", datetime(2021, 1, 1), "1d"))
    ovs = [
        Override("x", utc(2021, 2, 1, 0), utc(2021, 2, 1, 12), id=1),
        Override("y", utc(2021, 2, 1, 6), utc(2021, 2, 1, 8), id=2),
        Override("z", utc(2021, 2, 1, 10), utc(2021, 2, 1, 14), id=3),
    ]
    got = shifts(base, utc(2021, 1, 31, 22), utc(2021, 2, 1, 16), ovs)
    assert [(s.user, s.start.hour, s.end.hour, s.layer) for s in got] == [
        ("a", 22, 0, 0),
        ("x", 0, 6, None),
        ("y", 6, 8, None),
        ("x", 8, 10, None),
        ("z", 10, 14, None),
        ("a", 14, 16, 0),
    ]
    # the same overrides in the other order: x created last, covers y and most of z
    got = shifts(base, utc(2021, 1, 31, 22), utc(2021, 2, 1, 16), ovs[::-1])
    assert [(s.user, s.start.hour, s.end.hour) for s in got] == [
        ("a", 22, 0),
        ("x", 0, 12),
        ("z", 12, 14),
        ("a", 14, 16),
    ]


def test_on_call_extent_stops_at_overrides_before_and_after():
    base = rot("UTC", layer("a", datetime(2021, 1, 1), "1w"))
    ovs = [
        Override("x", utc(2021, 2, 1, 10), utc(2021, 2, 1, 12)),
        Override("y", utc(2021, 2, 3, 10), utc(2021, 2, 3, 12)),
    ]
    assert on_call(base, utc(2021, 2, 2), ovs) == Shift(
        "r", "a", utc(2021, 2, 1, 12), utc(2021, 2, 3, 10), 0
    )
    many = ovs + [Override("z", utc(2021, 3, d), utc(2021, 3, d, 1)) for d in range(1, 10)]
    assert on_call(base, utc(2021, 2, 2), many) == Shift(
        "r", "a", utc(2021, 2, 1, 12), utc(2021, 2, 3, 10), 0
    )


def test_override_accepts_any_timezone():
    base = rot("UTC", layer("a", datetime(2021, 1, 1), "1d"))
    ov = [Override("o", local(CHI, 2021, 2, 1, 0), local(CHI, 2021, 2, 1, 1))]
    assert who(base, utc(2021, 2, 1, 6, 30), ov) == "o"
    assert who(base, utc(2021, 2, 1, 0, 30), ov) == "a"


GAPPY = rot(
    "UTC", layer("a b", datetime(2021, 1, 4), "1d", Restrict(frozenset({MON}), time(9), time(17)))
)


def test_gap_when_only_a_restricted_layer_exists():
    assert who(GAPPY, utc(2021, 1, 4, 8)) is None
    assert who(GAPPY, utc(2021, 1, 4, 9)) == "a"
    assert who(GAPPY, utc(2021, 1, 5, 12)) is None
    assert gaps(GAPPY, utc(2021, 1, 4), utc(2021, 1, 12)) == [
        Shift("r", None, utc(2021, 1, 4), utc(2021, 1, 4, 9), None),
        Shift("r", None, utc(2021, 1, 4, 17), utc(2021, 1, 11, 9), None),
        Shift("r", None, utc(2021, 1, 11, 17), utc(2021, 1, 12), None),
    ]


def test_gap_timeline_member_follows_the_clock_while_masked():
    # The layer hands off daily even while masked: Monday 2021-01-11 is k=7 -> "b".
    assert timeline(GAPPY, utc(2021, 1, 4), utc(2021, 1, 12)) == [
        Shift("r", None, utc(2021, 1, 4), utc(2021, 1, 4, 9), None),
        Shift("r", "a", utc(2021, 1, 4, 9), utc(2021, 1, 4, 17), 0),
        Shift("r", None, utc(2021, 1, 4, 17), utc(2021, 1, 11, 9), None),
        Shift("r", "b", utc(2021, 1, 11, 9), utc(2021, 1, 11, 17), 0),
        Shift("r", None, utc(2021, 1, 11, 17), utc(2021, 1, 12), None),
    ]


def test_empty_restriction_days_never_active():
    r = rot("UTC", layer("a", datetime(2021, 1, 1), "1d", Restrict(frozenset(), time(9), time(17))))
    assert who(r, utc(2021, 1, 4, 12)) is None
    assert shifts(r, utc(2021, 1, 1), utc(2021, 2, 1)) == []


def test_layer_is_inactive_before_its_start():
    r = rot(
        "America/Chicago",
        layer("a", datetime(2020, 1, 1), "1w"),
        layer("b c", datetime(2021, 6, 1, 9), "1d"),
    )
    assert who(r, local(CHI, 2021, 6, 1, 8, 59)) == "a"
    assert who(r, local(CHI, 2021, 6, 1, 9)) == "b"
    only = rot("America/Chicago", layer("b c", datetime(2021, 6, 1, 9), "1d"))
    assert who(only, local(CHI, 2021, 6, 1, 8, 59)) is None
    assert timeline(only, local(CHI, 2021, 6, 1), local(CHI, 2021, 6, 2)) == [
        Shift("r", None, utc(2021, 6, 1, 5), utc(2021, 6, 1, 14), None),
        Shift("r", "b", utc(2021, 6, 1, 14), utc(2021, 6, 2, 5), 0),
    ]
    assert list(
        layer_handoffs(only.layers[0], CHI, local(CHI, 2021, 5, 1), local(CHI, 2021, 6, 2))
    ) == [("b", utc(2021, 6, 1, 14), utc(2021, 6, 2, 14))]


def test_far_future_is_plain_arithmetic():
    start = datetime(2020, 1, 1, 9)
    r = rot("America/Los_Angeles", layer("a b c d e f g", start, "1d"))
    at = local(LA, 2100, 6, 15, 12)
    k = (datetime(2100, 6, 15, 9) - start).days
    s = on_call(r, at)
    assert s is not None
    assert s.user == "abcdefg"[k % 7]
    assert s.start == local(LA, 2100, 6, 15, 9)
    assert s.end == local(LA, 2100, 6, 16, 9)
    assert who(r, local(LA, 2100, 6, 15, 8, 59)) == "abcdefg"[(k - 1) % 7]


@pytest.mark.parametrize(
    ("at", "user"),
    [
        (utc(2021, 1, 4, 9), "a"),
        (utc(2021, 1, 17, 23), "a"),
        (utc(2021, 1, 18, 9), "b"),
        (utc(2021, 2, 1, 8, 59), "b"),
        (utc(2021, 2, 1, 9), "c"),
        (utc(2021, 2, 15, 9), "a"),
        (utc(2030, 1, 7, 9), "abc"[((datetime(2030, 1, 7) - datetime(2021, 1, 4)).days // 14) % 3]),
    ],
)
def test_two_week_shifts(at, user):
    r = rot("UTC", layer("a b c", datetime(2021, 1, 4, 9), "2w"))
    assert who(r, at) == user


def test_weekly_shift_in_dst_zone_keeps_local_handoff_time():
    r = rot("Europe/Dublin", layer("a b", datetime(2021, 1, 4, 10), "1w"))
    got = handoff_starts(r.layers[0], "Europe/Dublin", utc(2021, 3, 20), utc(2021, 4, 10))
    assert [s for _, s in got] == [
        utc(2021, 3, 15, 10),
        utc(2021, 3, 22, 10),
        utc(2021, 3, 29, 9),  # IST from 2021-03-28
        utc(2021, 4, 5, 9),
    ]


# --------------------------------------------------------------------------------------------
# shifts / timeline / on_call extents
# --------------------------------------------------------------------------------------------


def test_shifts_merge_same_user_and_cut_to_window():
    r = rot("UTC", layer("a a b", datetime(2021, 1, 1, 9), "1d"))
    got = shifts(r, utc(2021, 1, 1, 12), utc(2021, 1, 8, 12))
    assert got == [
        Shift("r", "a", utc(2021, 1, 1, 12), utc(2021, 1, 3, 9), 0),
        Shift("r", "b", utc(2021, 1, 3, 9), utc(2021, 1, 4, 9), 0),
        Shift("r", "a", utc(2021, 1, 4, 9), utc(2021, 1, 6, 9), 0),
        Shift("r", "b", utc(2021, 1, 6, 9), utc(2021, 1, 7, 9), 0),
        Shift("r", "a", utc(2021, 1, 7, 9), utc(2021, 1, 8, 12), 0),
    ]


def test_override_adjacent_to_same_user_merges():
    r = rot("UTC", layer("a b", datetime(2021, 1, 1), "1d"))
    ov = [Override("a", utc(2021, 1, 2), utc(2021, 1, 2, 6))]
    got = shifts(r, utc(2021, 1, 1), utc(2021, 1, 3), ov)
    assert got == [
        Shift("r", "a", utc(2021, 1, 1), utc(2021, 1, 2, 6), 0),
        Shift("r", "b", utc(2021, 1, 2, 6), utc(2021, 1, 3), 0),
    ]
    assert on_call(r, utc(2021, 1, 2, 3), ov) == Shift(
        "r", "a", utc(2021, 1, 1), utc(2021, 1, 2, 6), None
    )


def test_same_user_across_layers_merges():
    r = rot(
        "UTC",
        layer("a", datetime(2021, 1, 1), "1d"),
        layer("a", datetime(2021, 1, 1), "1d", Restrict(frozenset({SAT}), time(9), time(17))),
    )
    assert shifts(r, utc(2021, 1, 1), utc(2021, 1, 10)) == [
        Shift("r", "a", utc(2021, 1, 1), utc(2021, 1, 10), 0)
    ]


def test_empty_or_inverted_window():
    r = rot("UTC", layer("a", datetime(2021, 1, 1), "1d"))
    assert timeline(r, utc(2021, 2, 1), utc(2021, 2, 1)) == []
    assert shifts(r, utc(2021, 2, 2), utc(2021, 2, 1)) == []


def test_window_bounds_in_other_zones_are_converted():
    r = rot("UTC", layer("a b", datetime(2021, 1, 1), "1d"))
    got = timeline(r, local(CHI, 2021, 1, 1, 12), local(CHI, 2021, 1, 2, 12))
    assert [(s.user, s.start, s.end) for s in got] == [
        ("a", utc(2021, 1, 1, 18), utc(2021, 1, 2, 0)),
        ("b", utc(2021, 1, 2, 0), utc(2021, 1, 2, 18)),
    ]
    assert all(s.start.tzinfo is UTC and s.end.tzinfo is UTC for s in got)


def test_on_call_extent_is_clamped_to_the_horizon_for_a_constant_layer():
    r = rot("UTC", layer("solo", datetime(2021, 1, 1), "1d"))
    at = utc(2022, 1, 1)
    horizon = timedelta(days=2) + timedelta(days=8)
    assert on_call(r, at) == Shift("r", "solo", at - horizon, at + horizon, 0)
    assert on_call(r, utc(2021, 1, 3)) == Shift("r", "solo", utc(2021, 1, 1), utc(2021, 1, 13), 0)


def test_on_call_returns_none_in_a_gap():
    assert on_call(GAPPY, utc(2021, 1, 6)) is None


# --------------------------------------------------------------------------------------------
# next_handoff
# --------------------------------------------------------------------------------------------

DAILY_UTC = rot("UTC", layer("a b c", datetime(2021, 1, 1, 9), "1d"))


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2021, 1, 1, 12), Shift("r", "b", utc(2021, 1, 2, 9), utc(2021, 1, 3, 9), 0)),
        # strictly after: a handoff exactly at ``after`` does not count
        (utc(2021, 1, 2, 9), Shift("r", "c", utc(2021, 1, 3, 9), utc(2021, 1, 4, 9), 0)),
        (utc(2020, 12, 1), Shift("r", "a", utc(2021, 1, 1, 9), utc(2021, 1, 2, 9), 0)),
    ],
)
def test_next_handoff(after, expected):
    assert next_handoff(DAILY_UTC, after) == expected


def test_next_handoff_with_override_and_gaps():
    ov = [Override("o", utc(2021, 1, 1, 15), utc(2021, 1, 1, 16))]
    assert next_handoff(DAILY_UTC, utc(2021, 1, 1, 12), ov) == Shift(
        "r", "o", utc(2021, 1, 1, 15), utc(2021, 1, 1, 16), None
    )
    assert next_handoff(DAILY_UTC, utc(2021, 1, 1, 15, 30), ov) == Shift(
        "r", "a", utc(2021, 1, 1, 16), utc(2021, 1, 2, 9), 0
    )
    # in a gap: the next shift after it
    assert next_handoff(GAPPY, utc(2021, 1, 5)) == Shift(
        "r", "b", utc(2021, 1, 11, 9), utc(2021, 1, 11, 17), 0
    )


def test_next_handoff_none_beyond_horizon():
    later = rot("UTC", layer("a", datetime(2030, 1, 1), "1d"))
    assert next_handoff(later, utc(2021, 1, 1)) is None
    assert next_handoff(later, utc(2030, 1, 1) - NEXT_HANDOFF_HORIZON + timedelta(hours=1))
    solo = rot("UTC", layer("solo", datetime(2021, 1, 1), "1d"))
    assert next_handoff(solo, utc(2021, 6, 1)) is None


# --------------------------------------------------------------------------------------------
# naive datetimes
# --------------------------------------------------------------------------------------------

NAIVE = datetime(2021, 1, 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: on_call(DAILY_UTC, NAIVE),
        lambda: shifts(DAILY_UTC, NAIVE, utc(2021, 2, 1)),
        lambda: shifts(DAILY_UTC, utc(2021, 1, 1), NAIVE),
        lambda: gaps(DAILY_UTC, NAIVE, utc(2021, 2, 1)),
        lambda: timeline(DAILY_UTC, NAIVE, utc(2021, 2, 1)),
        lambda: next_handoff(DAILY_UTC, NAIVE),
        lambda: list(layer_handoffs(DAILY_UTC.layers[0], "UTC", NAIVE, utc(2021, 2, 1))),
    ],
)
def test_naive_datetime_raises(call):
    with pytest.raises(ValueError, match="aware"):
        call()
