"""Overrides and who is on call (bot/usecases/oncall.py) on fakes: the only Slack call these
use cases make is a read of time zones; an override moves pings, so the scheduler is told."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import UserError
from bot.parsing.oncall import OnCallRequest, parse_oncall
from bot.usecases import oncall
from tests.support.fakes import Fakes, processed
from tests.support.people import LEAD, ONCALL, REPORTER, SALES

DAN, EVE, CHI = "U0DAN00001", "U0EVE00001", "U0CHI00001"


def request(text: str) -> OnCallRequest:
    """Parse `/oncall <text>` against the example config's rotations."""
    return parse_oncall(text, ["primary", "secondary"])


def on_call(fakes: Fakes, rotation: str, hours: float = 0) -> str | None:
    """Return who is on call for the rotation `hours` from now, overrides applied."""
    with fakes.db.uow() as uow:
        at = fakes.clock() + timedelta(hours=hours)
        return fakes.svc.oncall.user_at(uow.repos.overrides, rotation, at)


def test_create_override_covers_the_window_once_per_request(fakes: Fakes) -> None:
    fakes.slack.timezones[LEAD] = "Europe/Dublin"

    made = oncall.create_override(
        fakes.svc, LEAD, request(f"override <@{DAN}> now +4h"), request_key="o-1"
    )
    again = oncall.create_override(
        fakes.svc, LEAD, request(f"override <@{DAN}> now +4h"), request_key="o-1"
    )

    assert made.created and not again.created and again.row.id == made.row.id
    assert (made.row.rotation, made.row.user_id, made.row.created_by) == ("primary", DAN, LEAD)
    assert (made.row.start, made.row.end) == (fakes.clock(), fakes.clock() + timedelta(hours=4))
    assert made.replaces == [ONCALL]
    assert made.asker_tz == "Europe/Dublin" and made.user_tz == "UTC"
    assert ("user_timezone", LEAD) in fakes.slack.reads
    assert on_call(fakes, "primary") == DAN and on_call(fakes, "primary", 4) == ONCALL
    done = processed(fakes.db, "o-1")
    assert done is not None and done.result == {"override": made.row.id}
    assert fakes.reschedules == [1]  # shift pings move; the repeat committed nothing
    assert fakes.outbox.submitted == []


def test_an_overlapping_override_replaces_the_earlier_one(fakes: Fakes) -> None:
    first = oncall.create_override(
        fakes.svc, LEAD, request(f"override <@{DAN}> now +4h"), request_key="o-1"
    )
    second = oncall.create_override(
        fakes.svc, LEAD, request(f"override <@{EVE}> +2h +2h"), request_key="o-2"
    )

    assert first.replaces == [ONCALL]
    assert second.replaces == [DAN]  # the hours it overlaps were DAN's by override
    assert [on_call(fakes, "primary", h) for h in (1, 3, 7)] == [DAN, EVE, ONCALL]
    listed = oncall.list_overrides(fakes.svc, REPORTER).rows
    assert [r.id for r in listed] == [first.row.id, second.row.id]
    assert fakes.reschedules == [1, 2]


def test_an_override_must_end_after_it_starts_and_in_the_future(fakes: Fakes) -> None:
    with pytest.raises(UserError, match="must end after it starts"):
        oncall.create_override(
            fakes.svc,
            LEAD,
            request(f"override <@{DAN}> 2026-03-05T10:00 2026-03-05T09:00"),
            request_key="o-1",
        )
    with pytest.raises(UserError, match="would end in the past"):
        oncall.create_override(
            fakes.svc,
            LEAD,
            request(f"override <@{DAN}> 2026-03-01T09:00 2026-03-02T09:00"),
            request_key="o-2",
        )
    with pytest.raises(UserError, match="Only team members and members of `primary`"):
        oncall.create_override(
            fakes.svc, SALES, request(f"override <@{SALES}> now +1h"), request_key="o-3"
        )
    with fakes.db.uow() as uow:
        assert uow.repos.overrides.active() == []
    assert processed(fakes.db, "o-1") is None
    assert fakes.reschedules == []


def test_remove_override_only_by_its_author_or_the_team(fakes: Fakes) -> None:
    made = oncall.create_override(
        fakes.svc, DAN, request(f"override <@{DAN}> +1h +2h"), request_key="o-1"
    )
    fakes.reschedules.clear()

    with pytest.raises(UserError, match=f"Only <@{DAN}>, who made override"):
        oncall.remove_override(fakes.svc, EVE, made.row.id)  # a rotation member, not the team
    assert fakes.reschedules == []

    removed = oncall.remove_override(fakes.svc, CHI, made.row.id)  # a team member

    assert (removed.removed_by, removed.removed_at) == (CHI, fakes.clock())
    assert fakes.reschedules == [1]
    with pytest.raises(UserError, match="already removed"):
        oncall.remove_override(fakes.svc, DAN, made.row.id)
    with pytest.raises(UserError, match="There is no override #99"):
        oncall.remove_override(fakes.svc, DAN, 99)
    assert oncall.list_overrides(fakes.svc, LEAD).rows == []
    assert fakes.reschedules == [1]


def test_an_override_that_is_over_stays_on_record(fakes: Fakes) -> None:
    made = oncall.create_override(
        fakes.svc, LEAD, request(f"override <@{DAN}> now +1h"), request_key="o-1"
    )
    fakes.clock.advance(timedelta(hours=2))

    with pytest.raises(UserError, match="is over already"):
        oncall.remove_override(fakes.svc, LEAD, made.row.id)
    with fakes.db.uow() as uow:
        row = uow.repos.overrides.get(made.row.id)
        assert row is not None and row.removed_at is None


def test_who_is_on_call_reads_time_zones_only(fakes: Fakes) -> None:
    fakes.slack.timezones[ONCALL] = "America/Los_Angeles"

    report = oncall.who_is_on_call(fakes.svc, REPORTER)

    assert [(c.rotation, c.shift.user) for c in report.rotations] == [
        ("primary", ONCALL),
        ("secondary", EVE),
    ]
    assert report.rotations[0].user_tz == "America/Los_Angeles"
    assert {method for method, _ in fakes.slack.reads} == {"user_timezone"}
