"""Parsing `/oncall` text and typed times: table-driven, then fuzzed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import UsageError
from bot.parsing.oncall import (
    TimeSpec,
    help_text,
    localize,
    parse_instant,
    parse_oncall,
    resolve_time,
)

ROTATIONS = ["primary", "secondary"]
NOW = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)  # Wed 09:00 in Los Angeles
LA = "America/Los_Angeles"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"sub": "now", "rotation": None}),
        ("   ", {"sub": "now", "rotation": None}),
        ("primary", {"sub": "now", "rotation": "primary"}),
        ("Secondary", {"sub": "now", "rotation": "secondary"}),
        ("now", {"sub": "now", "rotation": None}),
        ("now primary", {"sub": "now", "rotation": "primary"}),
        ("help", {"sub": "help"}),
        ("schedule", {"sub": "schedule", "rotation": None, "days": 7}),
        ("schedule primary", {"sub": "schedule", "rotation": "primary", "days": 7}),
        ("schedule primary 30", {"sub": "schedule", "rotation": "primary", "days": 30}),
        ("schedule 30 primary", {"sub": "schedule", "rotation": "primary", "days": 30}),
        ("schedule 14d", {"sub": "schedule", "rotation": None, "days": 14}),
        ("schedule 90", {"sub": "schedule", "days": 90}),
        ("SCHEDULE secondary", {"sub": "schedule", "rotation": "secondary"}),
        ("me", {"sub": "me", "days": 28}),
        ("overrides", {"sub": "overrides", "rotation": None}),
        ("overrides secondary", {"sub": "overrides", "rotation": "secondary"}),
        ("gaps", {"sub": "gaps", "days": 14, "rotation": None}),
        ("gaps 30", {"sub": "gaps", "days": 30}),
        ("gaps primary 3", {"sub": "gaps", "days": 3, "rotation": "primary"}),
        ("override remove 12", {"sub": "remove", "override_id": 12}),
        ("override remove #12", {"sub": "remove", "override_id": 12}),
        ("override cancel 3", {"sub": "remove", "override_id": 3}),
        (
            "override <@U0DAN00001|dan> 2026-12-24 18:00 2026-12-25 09:00",
            {
                "sub": "override",
                "user": "U0DAN00001",
                "rotation": None,
                "start": TimeSpec(kind="absolute", local=datetime(2026, 12, 24, 18, 0)),
                "end": TimeSpec(kind="absolute", local=datetime(2026, 12, 25, 9, 0)),
            },
        ),
        (
            "override <@U0DAN00001> now +4h secondary",
            {
                "user": "U0DAN00001",
                "rotation": "secondary",
                "start": TimeSpec(kind="now"),
                "end": TimeSpec(kind="relative", delta=timedelta(hours=4)),
            },
        ),
        (
            "override U0DAN00001 +90m +2d",
            {
                "start": TimeSpec(kind="relative", delta=timedelta(minutes=90)),
                "end": TimeSpec(kind="relative", delta=timedelta(days=2)),
            },
        ),
        (
            "override <@U0DAN00001> 2026-12-24T18:00 2026-12-24 primary",
            {
                "rotation": "primary",
                "start": TimeSpec(kind="absolute", local=datetime(2026, 12, 24, 18, 0)),
                "end": TimeSpec(kind="absolute", local=datetime(2026, 12, 24, 0, 0)),
            },
        ),
        (
            "override <@U0DAN00001> tomorrow 9:30 +1w",
            {
                "start": TimeSpec(kind="tomorrow", clock=time(9, 30)),
                "end": TimeSpec(kind="relative", delta=timedelta(weeks=1)),
            },
        ),
        (
            "override <@U0DAN00001> today tomorrow",
            {
                "start": TimeSpec(kind="today", clock=time(0)),
                "end": TimeSpec(kind="tomorrow", clock=time(0)),
            },
        ),
    ],
)
def test_parses(text: str, expected: dict[str, Any]):
    request = parse_oncall(text, ROTATIONS)
    for key, value in expected.items():
        assert getattr(request, key) == value, key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tertiary", "Unknown rotation `tertiary`: rotations are `primary`, `secondary`"),
        ("primary extra", "`/oncall` subcommands"),
        ("schedule tertiary", "Unknown rotation `tertiary`"),
        ("schedule 0", "Days must be between 1 and 90"),
        ("schedule 91", "Days must be between 1 and 90"),
        ("schedule 7 14", "Unexpected `14`"),
        ("schedule primary secondary", "Unexpected `secondary`"),
        ("gaps 365", "Days must be between 1 and 90"),
        ("overrides 7", "Unknown rotation `7`"),
        ("me please", "Usage: `/oncall me`"),
        ("override", "Name who covers with an @mention"),
        ("override dan now +4h", "Name who covers with an @mention"),
        ("override <@U0DAN00001>", "The override needs its start"),
        ("override <@U0DAN00001> now", "The override needs its end"),
        ("override <@U0DAN00001> soon +4h", "`soon` is not a valid start time"),
        ("override <@U0DAN00001> now later", "`later` is not a valid end time"),
        ("override <@U0DAN00001> 2026-02-30 09:00 +1h", "`2026-02-30` is not a date"),
        ("override <@U0DAN00001> 2026-12-24 25:00 +1h", "`25:00` is not a time of day"),
        ("override <@U0DAN00001> +0h +1h", "`+0h` is out of range for the start"),
        ("override <@U0DAN00001> now +99999w", "`+99999w` is out of range for the end"),
        ("override <@U0DAN00001> now now", "An override cannot end now"),
        ("override <@U0DAN00001> now +4h tertiary", "Unknown rotation `tertiary`"),
        ("override <@U0DAN00001> now +4h primary more", "Unexpected `more`"),
        ("override remove", "Usage: `/oncall override remove <id>`"),
        ("override remove abc", "Usage: `/oncall override remove <id>`"),
        ("override remove 0", "Usage: `/oncall override remove <id>`"),
        ("override remove 1 2", "Usage: `/oncall override remove <id>`"),
        ("<@U0BAD> @channel", "`/oncall` subcommands"),
    ],
)
def test_refuses(text: str, message: str):
    with pytest.raises(UsageError) as caught:
        parse_oncall(text, ROTATIONS)
    assert message in str(caught.value)


def test_unknown_rotation_text_is_escaped():
    with pytest.raises(UsageError) as caught:
        parse_oncall("<!channel>", ROTATIONS)
    assert "<!channel>" not in str(caught.value) and "&lt;!channel&gt;" in str(caught.value)


def test_help_lists_every_subcommand():
    text = help_text()
    for word in ("schedule", "me", "override", "overrides", "remove", "gaps"):
        assert f"/oncall {word}" in text or f"/oncall override {word}" in text


@pytest.mark.parametrize(
    ("spec", "tz", "base", "expected"),
    [
        (TimeSpec(kind="now"), LA, None, NOW),
        (TimeSpec(kind="relative", delta=timedelta(hours=4)), LA, None, NOW + timedelta(hours=4)),
        (
            TimeSpec(kind="relative", delta=timedelta(hours=4)),
            LA,
            datetime(2026, 12, 25, 2, tzinfo=UTC),
            datetime(2026, 12, 25, 6, tzinfo=UTC),
        ),
        # `2026-12-24 18:00` for someone in Los Angeles (PST, UTC-8) and in Dublin (GMT)
        (
            TimeSpec(kind="absolute", local=datetime(2026, 12, 24, 18)),
            LA,
            None,
            datetime(2026, 12, 25, 2, tzinfo=UTC),
        ),
        (
            TimeSpec(kind="absolute", local=datetime(2026, 12, 24, 18)),
            "Europe/Dublin",
            None,
            datetime(2026, 12, 24, 18, tzinfo=UTC),
        ),
        # the asker's today/tomorrow: Wed 4 Mar in Los Angeles, already Thu 5 Mar in Singapore
        (
            TimeSpec(kind="tomorrow", clock=time(9)),
            LA,
            None,
            datetime(2026, 3, 5, 17, tzinfo=UTC),
        ),
        (
            TimeSpec(kind="today", clock=time(9)),
            "Asia/Singapore",
            None,
            datetime(2026, 3, 5, 1, tzinfo=UTC),
        ),
        # skipped by daylight saving (02:30 on 8 Mar in LA): the first instant after, 03:00 PDT
        (
            TimeSpec(kind="absolute", local=datetime(2026, 3, 8, 2, 30)),
            LA,
            None,
            datetime(2026, 3, 8, 10, 0, tzinfo=UTC),
        ),
        # repeated (01:30 on 1 Nov in LA): the first occurrence, 01:30 PDT
        (
            TimeSpec(kind="absolute", local=datetime(2026, 11, 1, 1, 30)),
            LA,
            None,
            datetime(2026, 11, 1, 8, 30, tzinfo=UTC),
        ),
    ],
)
def test_resolves_times(spec: TimeSpec, tz: str, base: datetime | None, expected: datetime):
    assert resolve_time(spec, tz, NOW, base) == expected


def test_resolving_out_of_range_is_a_usage_error():
    late = TimeSpec(kind="relative", delta=timedelta(days=3000))
    with pytest.raises(UsageError, match="out of range"):
        resolve_time(late, LA, NOW, datetime(9999, 1, 1, tzinfo=UTC))
    with pytest.raises(UsageError, match="out of range"):
        resolve_time(TimeSpec(kind="absolute", local=datetime(9999, 12, 31, 23)), LA, NOW)


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-03-04T17:00:00Z", LA, datetime(2026, 3, 4, 17, tzinfo=UTC)),
        ("2026-03-04T09:00:00-08:00", "UTC", datetime(2026, 3, 4, 17, tzinfo=UTC)),
        ("2026-03-04T09:00", LA, datetime(2026, 3, 4, 17, tzinfo=UTC)),
        ("2026-03-04T09:00", "Europe/Dublin", datetime(2026, 3, 4, 9, tzinfo=UTC)),
        ("2026-03-04", LA, datetime(2026, 3, 4, 8, tzinfo=UTC)),
        ("2026-03-08T02:30", LA, datetime(2026, 3, 8, 10, tzinfo=UTC)),
        ("now", LA, NOW),
    ],
)
def test_parses_command_line_instants(text: str, tz: str, expected: datetime):
    assert parse_instant(text, tz, NOW) == expected


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-13-01", "2026-03-04 9am", "+4h"])
def test_refuses_bad_command_line_instants(text: str):
    with pytest.raises(ValueError, match="invalid time"):
        parse_instant(text, LA, NOW)


def test_localize_matches_zoneinfo_away_from_transitions():
    assert localize(datetime(2026, 7, 1, 12), LA) == datetime(2026, 7, 1, 19, tzinfo=UTC)


# -- fuzzing: whatever is typed, the parser answers with a usage message or a request ---------

_WORDS = st.sampled_from(
    [
        "override",
        "remove",
        "schedule",
        "gaps",
        "me",
        "overrides",
        "now",
        "primary",
        "secondary",
        "<@U0DAN00001>",
        "<@U0DAN00001|dan>",
        "2026-12-24",
        "18:00",
        "2026-12-24T18:00",
        "9999-12-31",
        "0001-01-01",
        "23:59",
        "+4h",
        "+90m",
        "+2d",
        "+999999w",
        "today",
        "tomorrow",
        "7",
        "90d",
        "#3",
        "help",
    ]
)
_TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(_WORDS, st.text(max_size=12)), max_size=8).map(" ".join),
)
_ZONES = st.sampled_from([LA, "Europe/Dublin", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"])
_NOWS = st.datetimes(
    min_value=datetime(1, 1, 3), max_value=datetime(9999, 12, 29), timezones=st.just(UTC)
)


@settings(max_examples=400, deadline=None)
@given(text=_TEXT, tz=_ZONES, now=_NOWS)
def test_parsing_and_resolving_raise_only_usage_errors(text: str, tz: str, now: datetime):
    try:
        request = parse_oncall(text, ROTATIONS)
    except UsageError as exc:
        assert str(exc)
        return
    assert request.sub in (
        "now",
        "schedule",
        "me",
        "override",
        "overrides",
        "remove",
        "gaps",
        "help",
    )
    if request.sub != "override":
        return
    assert request.start is not None and request.end is not None
    try:
        start = resolve_time(request.start, tz, now)
        end = resolve_time(request.end, tz, now, base=start)
    except UsageError as exc:
        assert str(exc)
        return
    assert start.tzinfo is not None and end.tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40), tz=_ZONES)
def test_command_line_instants_raise_only_value_errors(text: str, tz: str):
    try:
        instant = parse_instant(text, tz, NOW)
    except ValueError as exc:
        assert str(exc)
        return
    assert instant.utcoffset() == timedelta(0)
