"""Calendar feeds over HTTP: `/oncall/<rotation>.ics` and `/oncall/users/<U…>.ics`, read back."""

from __future__ import annotations

import itertools
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from tests.support.escalations import esc
from tests.support.world import World

BEN, CHI, DAN, EVE = "U0BEN00001", "U0CHI00001", "U0DAN00001", "U0EVE00001"
NOW = datetime(2026, 3, 4, 17, tzinfo=UTC)  # the fixture's clock: Ben's shift has just begun


def fetch(world: World, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(world.bot.server.url + path, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as failure:
        return failure.code, failure.headers["Content-Type"], failure.read()


def events(world: World, path: str) -> list[dict]:
    status, content_type, body = fetch(world, path)
    assert status == 200 and content_type.startswith("text/calendar")
    calendar = Calendar.from_ical(body)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    return [
        {
            "uid": str(e["UID"]),
            "summary": str(e["SUMMARY"]),
            "start": e.decoded("DTSTART"),
            "end": e.decoded("DTEND"),
            "stamp": e.decoded("DTSTAMP"),
            "description": str(e["DESCRIPTION"]),
        }
        for e in calendar.walk("VEVENT")
    ]


def uid(rotation: str, user: str, start: datetime) -> str:
    return f"{rotation}-{user}-{int(start.timestamp())}@escbot"


def test_rotation_feed_covers_90_days_with_stable_uids(world: World):
    first = events(world, "/oncall/primary.ics")
    assert first[0]["uid"] == uid("primary", BEN, NOW)
    assert (first[0]["start"], first[0]["end"]) == (NOW, NOW + timedelta(days=1))
    assert first[0]["stamp"] == NOW
    assert {e["summary"] for e in first} == {"On call: primary"}
    # primary has no gaps: each shift starts where the last ended, through 90 days
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(first))
    assert first[-1]["start"] < NOW + timedelta(days=90) <= first[-1]["end"]
    assert len({e["uid"] for e in first}) == len(first)
    # weekends: Dan until Saturday 09:00 PST, then Eve until Monday 00:00 PDT
    saturday = datetime(2026, 3, 7, 17, tzinfo=UTC)
    weekend = next(e for e in first if e["start"] == saturday)
    assert weekend["uid"] == uid("primary", EVE, saturday)
    assert weekend["end"] == datetime(2026, 3, 9, 7, tzinfo=UTC)
    world.clock.advance(timedelta(hours=5))
    second = events(world, "/oncall/primary.ics")
    assert second[0]["uid"] == first[0]["uid"]  # the running shift keeps its start
    assert {e["uid"] for e in first} <= {e["uid"] for e in second}
    assert second[0]["stamp"] == NOW + timedelta(hours=5)


def test_an_override_shows_in_the_rotation_and_user_feeds(world: World):
    before = events(world, "/oncall/primary.ics")
    assert "Override #1" in esc(
        world,
        "U0LEAD0001",
        f"override <@{DAN}> 2026-03-10 10:00 +2h primary",
        world.config.team.channel,
        command="/oncall",
    )
    start = datetime(2026, 3, 10, 17, tzinfo=UTC)  # 10:00 PDT
    after = events(world, "/oncall/primary.ics")
    mine = next(e for e in after if e["uid"] == uid("primary", DAN, start))
    assert mine["end"] == start + timedelta(hours=2) and "override" in mine["description"]
    # Tuesday's shift is Ben's (5 Jan + 64 days); it is split around the override
    ben = [e for e in after if e["uid"].startswith(f"primary-{BEN}-")]
    assert uid("primary", BEN, start - timedelta(hours=1)) in {e["uid"] for e in ben}
    assert uid("primary", BEN, start + timedelta(hours=2)) in {e["uid"] for e in ben}
    assert len(after) == len(before) + 2
    feed = events(world, f"/oncall/users/{DAN}.ics")
    assert {e["summary"] for e in feed} == {"On call: primary"}
    assert uid("primary", DAN, start) in {e["uid"] for e in feed}
    assert all(e["uid"].startswith(f"primary-{DAN}-") for e in feed)
    # Dan's weekend Saturday mornings: 7 Mar (of the week from 28 Feb) … within 90 days
    assert uid("primary", DAN, datetime(2026, 3, 7, 8, tzinfo=UTC)) in {e["uid"] for e in feed}


def test_a_user_feed_spans_rotations(world: World):
    feed = events(world, f"/oncall/users/{EVE}.ics")
    assert {e["summary"] for e in feed} == {"On call: primary", "On call: secondary"}
    assert feed[0]["uid"] == uid("secondary", EVE, datetime(2026, 3, 2, 8, tzinfo=UTC))
    assert feed == sorted(feed, key=lambda e: e["start"])
    assert events(world, "/oncall/users/U0SAL00001.ics") == []


@pytest.mark.parametrize(
    "path", ["/oncall/tertiary.ics", "/oncall/users/nobody.ics", "/oncall/primary/x.ics"]
)
def test_unknown_calendars_are_404(world: World, path: str):
    status, _, _ = fetch(world, path)
    assert status == 404
