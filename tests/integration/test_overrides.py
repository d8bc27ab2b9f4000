"""Override use cases on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.errors import NotPermitted, UsageError, UserError
from bot.parsing.oncall import parse_oncall
from bot.policy import Policy
from bot.rotations import OnCall
from bot.usecases import oncall
from storage.db import Database

LEAD, BEN, CHI, DAN, SALES = "U0LEAD0001", "U0BEN00001", "U0CHI00001", "U0DAN00001", "U0SAL00001"
ZONES = {LEAD: "America/Los_Angeles", DAN: "Europe/Berlin"}


class FakeSlack:
    """Only what the override use cases ask Slack: time zones."""

    def user_timezone(self, user: str, default: str = "UTC") -> str:
        return ZONES.get(user, default)


def services(db: Database, config: TeamConfig, clock: FakeClock) -> Any:
    return SimpleNamespace(
        db=db, config=config, clock=clock, slack=FakeSlack(), oncall=OnCall(config),
        policy=Policy(config),
    )


def request(text: str) -> Any:
    return parse_oncall(text, ["primary", "secondary"])


def test_a_repeated_request_key_records_one_override(
    db: Database, config: TeamConfig, clock: FakeClock
):
    svc = services(db, config, clock)
    first = oncall.create_override(
        svc, LEAD, request(f"override <@{DAN}> now +4h"), request_key="k"
    )
    again = oncall.create_override(
        svc, LEAD, request(f"override <@{DAN}> now +4h"), request_key="k"
    )
    assert first.created and not again.created
    assert again.row.id == first.row.id
    assert first.replaces == [BEN]
    assert (first.asker_tz, first.user_tz) == ("America/Los_Angeles", "Europe/Berlin")
    with db.uow() as uow:
        assert [o.id for o in uow.repos.overrides.active()] == [first.row.id]
        assert svc.oncall.user_at(uow.repos.overrides, "primary", clock()) == DAN
        assert (
            svc.oncall.user_at(uow.repos.overrides, "primary", clock() + timedelta(hours=4)) == BEN
        )


def test_removal_rules(db: Database, config: TeamConfig, clock: FakeClock):
    svc = services(db, config, clock)
    made = oncall.create_override(
        svc, CHI, request(f"override <@{DAN}> +1h +2h secondary"), request_key="a"
    )
    with pytest.raises(NotPermitted):
        oncall.remove_override(svc, DAN, made.row.id)
    removed = oncall.remove_override(svc, LEAD, made.row.id)  # a team member
    assert (removed.removed_by, removed.removed_at) == (LEAD, clock())
    with pytest.raises(UserError, match="already removed"):
        oncall.remove_override(svc, CHI, made.row.id)
    over = oncall.create_override(svc, CHI, request(f"override <@{DAN}> now +1h"), request_key="b")
    clock.advance(timedelta(hours=2))
    with pytest.raises(UserError, match="is over already"):
        oncall.remove_override(svc, CHI, over.row.id)
    assert oncall.list_overrides(svc, LEAD).rows == []


def test_refusals_record_nothing(db: Database, config: TeamConfig, clock: FakeClock):
    svc = services(db, config, clock)
    with pytest.raises(NotPermitted):
        oncall.create_override(svc, SALES, request(f"override <@{SALES}> now +1h"), request_key="x")
    with pytest.raises(UsageError, match="end in the past"):
        oncall.create_override(
            svc, LEAD, request(f"override <@{DAN}> 2026-03-01 2026-03-02"), request_key="y"
        )
    with pytest.raises(UsageError, match="must end after it starts"):
        oncall.create_override(
            svc, LEAD, request(f"override <@{DAN}> +2h 2026-03-04 10:00"), request_key="z"
        )
    with db.uow() as uow:
        assert uow.repos.overrides.active() == []
    assert clock() == datetime(2026, 3, 4, 17, tzinfo=UTC)
