"""`escbot oncall`: the final schedule from the example config and the stored overrides.

Hand-computed from escalation.example.yaml. primary (America/Los_Angeles): a daily 09:00
handoff Ana → Ben → Chi from Mon 5 Jan 2026 (handoff k is 5 Jan + k days, member k mod 3), and
a weekend layer Dan → Eve handing off weekly on Saturday 09:00 from 3 Jan, masked to all of
Saturday and Sunday, which wins over the daily layer. secondary (Europe/Dublin): weekly Eve →
Ana on Mondays 08:00 from 5 Jan. Wed 4 Mar 2026 is k = 58 (Ben); its week is secondary's 8th
(Eve); Sat 7 Mar 09:00 starts the weekend layer's 9th week (Eve). Los Angeles moves to PDT on
Sun 8 Mar.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from storage.db import Database
from storage.models import Override
from tests.support.config import EXAMPLE

ANA, BEN, CHI, DAN, EVE = "U0ANA00001", "U0BEN00001", "U0CHI00001", "U0DAN00001", "U0EVE00001"


def run(db: Database, *args: str) -> Result:
    env = {"DATABASE_URL": db.url, "ESCALATION_CONFIG": str(EXAMPLE)}
    return CliRunner().invoke(main, ["oncall", *args], env=env)


def rows(db: Database, *args: str) -> list[dict[str, Any]]:
    result = run(db, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def row(rotation: str, user: str | None, start: str, end: str) -> dict[str, Any]:
    return {"rotation": rotation, "user": user, "start": start, "end": end}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc]


def add_override(
    db: Database, user: str, start: datetime, end: datetime, *, rotation: str = "primary"
) -> Override:
    with db.uow() as uow:
        override = uow.repos.overrides.add(
            Override(
                rotation=rotation,
                user_id=user,
                start=start,
                end=end,
                created_by="U0LEAD0001",
                created_at=utc(2026, 3, 1),
            )
        )
        uow.commit()
        return override


def test_at_gives_the_shift_covering_the_instant_in_each_rotation(sqlite_db: Database):
    assert rows(sqlite_db, "--at", "2026-03-04T17:00:00Z") == [
        row("primary", BEN, "2026-03-04T17:00:00Z", "2026-03-05T17:00:00Z"),
        row("secondary", EVE, "2026-03-02T08:00:00Z", "2026-03-09T08:00:00Z"),
    ]


def test_a_time_without_offset_is_in_each_rotations_zone(sqlite_db: Database):
    # 08:30 is Wed 16:30 UTC in Los Angeles (Ana's Tuesday shift still) and 08:30 UTC in Dublin
    assert rows(sqlite_db, "--at", "2026-03-04T08:30") == [
        row("primary", ANA, "2026-03-03T17:00:00Z", "2026-03-04T17:00:00Z"),
        row("secondary", EVE, "2026-03-02T08:00:00Z", "2026-03-09T08:00:00Z"),
    ]
    assert rows(sqlite_db, "--at", "2026-03-04T09:00:00-08:00", "--rotation", "secondary") == [
        row("secondary", EVE, "2026-03-02T08:00:00Z", "2026-03-09T08:00:00Z"),
    ]


def test_at_on_a_weekend_across_daylight_saving(sqlite_db: Database):
    # Sat 7 Mar 12:00 PST: Eve from Sat 09:00 PST to Mon 9 Mar 00:00 PDT
    assert rows(sqlite_db, "--rotation", "primary", "--at", "2026-03-07T12:00") == [
        row("primary", EVE, "2026-03-07T17:00:00Z", "2026-03-09T07:00:00Z"),
    ]


def test_at_in_a_gap_gives_null_and_the_gaps_bounds(sqlite_db: Database):
    # Mon 5 Jan 05:00 PST: the weekend layer ended at midnight, the daily one starts at 09:00
    assert rows(sqlite_db, "--rotation", "primary", "--at", "2026-01-05T05:00") == [
        row("primary", None, "2026-01-05T08:00:00Z", "2026-01-05T17:00:00Z"),
    ]


def test_overrides_apply_and_removed_ones_do_not(sqlite_db: Database):
    add_override(sqlite_db, DAN, utc(2026, 3, 4, 18), utc(2026, 3, 4, 20))
    gone = add_override(sqlite_db, CHI, utc(2026, 3, 4, 20), utc(2026, 3, 4, 22))
    with sqlite_db.uow() as uow:
        stored = uow.repos.overrides.get(gone.id)
        assert stored is not None
        stored.removed_at, stored.removed_by = utc(2026, 3, 2), "U0LEAD0001"
        uow.commit()
    assert rows(sqlite_db, "--at", "2026-03-04T19:30:00Z", "--rotation", "primary") == [
        row("primary", DAN, "2026-03-04T18:00:00Z", "2026-03-04T20:00:00Z"),
    ]
    assert rows(sqlite_db, "--at", "2026-03-04T21:00:00Z", "--rotation", "primary") == [
        row("primary", BEN, "2026-03-04T20:00:00Z", "2026-03-05T17:00:00Z"),
    ]


def test_window_lists_the_final_schedule_merged_and_cut(sqlite_db: Database):
    add_override(sqlite_db, DAN, utc(2026, 3, 4, 18), utc(2026, 3, 4, 20))
    # Ben covers two more hours of Chi's shift: one stretch with his own
    add_override(sqlite_db, BEN, utc(2026, 3, 5, 17), utc(2026, 3, 5, 19))
    assert rows(
        sqlite_db, "--rotation", "primary", "--from", "2026-03-04T09:30", "--to", "2026-03-05T12:00"
    ) == [
        row("primary", BEN, "2026-03-04T17:30:00Z", "2026-03-04T18:00:00Z"),
        row("primary", DAN, "2026-03-04T18:00:00Z", "2026-03-04T20:00:00Z"),
        row("primary", BEN, "2026-03-04T20:00:00Z", "2026-03-05T19:00:00Z"),
        row("primary", CHI, "2026-03-05T19:00:00Z", "2026-03-05T20:00:00Z"),
    ]


def test_window_includes_gaps_rotation_by_rotation(sqlite_db: Database):
    assert rows(sqlite_db, "--from", "2026-01-04T00:00:00Z", "--to", "2026-01-06T00:00:00Z") == [
        row("primary", DAN, "2026-01-04T00:00:00Z", "2026-01-05T08:00:00Z"),
        row("primary", None, "2026-01-05T08:00:00Z", "2026-01-05T17:00:00Z"),
        row("primary", ANA, "2026-01-05T17:00:00Z", "2026-01-06T00:00:00Z"),
        row("secondary", None, "2026-01-04T00:00:00Z", "2026-01-05T08:00:00Z"),
        row("secondary", EVE, "2026-01-05T08:00:00Z", "2026-01-06T00:00:00Z"),
    ]


def test_a_week_of_primary_in_march(sqlite_db: Database):
    assert rows(
        sqlite_db, "--rotation", "primary", "--from", "2026-03-06T00:00", "--to", "2026-03-10T00:00"
    ) == [
        row("primary", CHI, "2026-03-06T08:00:00Z", "2026-03-06T17:00:00Z"),
        row("primary", ANA, "2026-03-06T17:00:00Z", "2026-03-07T08:00:00Z"),
        row("primary", DAN, "2026-03-07T08:00:00Z", "2026-03-07T17:00:00Z"),
        row("primary", EVE, "2026-03-07T17:00:00Z", "2026-03-09T07:00:00Z"),
        row("primary", CHI, "2026-03-09T07:00:00Z", "2026-03-09T16:00:00Z"),
        row("primary", ANA, "2026-03-09T16:00:00Z", "2026-03-10T07:00:00Z"),
    ]


def test_default_is_now_with_utc_times_to_the_second(sqlite_db: Database):
    found = rows(sqlite_db)
    assert [r["rotation"] for r in found] == ["primary", "secondary"]
    for r in found:
        assert set(r) == {"rotation", "user", "start", "end"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["start"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["end"])
        assert r["start"] <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") < r["end"]


def test_without_json_a_readable_table(sqlite_db: Database):
    result = run(sqlite_db, "--from", "2026-01-05T00:00:00Z", "--to", "2026-01-05T12:00:00Z")
    assert result.exit_code == 0, result.output
    cells = [re.split(r"\s{2,}", line.strip()) for line in result.stdout.splitlines()]
    assert cells == [
        ["ROTATION", "USER", "START (UTC)", "END (UTC)", "LOCAL (ROTATION TIME ZONE)"],
        [
            "primary",
            DAN,
            "2026-01-05T00:00:00Z",
            "2026-01-05T08:00:00Z",
            "Sun 4 Jan 16:00 PST → Mon 5 Jan 00:00 PST",
        ],
        [
            "primary",
            "— gap —",
            "2026-01-05T08:00:00Z",
            "2026-01-05T12:00:00Z",
            "Mon 5 Jan 00:00 PST → Mon 5 Jan 04:00 PST",
        ],
        [
            "secondary",
            "— gap —",
            "2026-01-05T00:00:00Z",
            "2026-01-05T08:00:00Z",
            "Mon 5 Jan 00:00 GMT → Mon 5 Jan 08:00 GMT",
        ],
        [
            "secondary",
            EVE,
            "2026-01-05T08:00:00Z",
            "2026-01-05T12:00:00Z",
            "Mon 5 Jan 08:00 GMT → Mon 5 Jan 12:00 GMT",
        ],
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "soon"], "invalid time 'soon'"),
        (["--at", "2026-13-01T00:00"], "invalid time"),
        (["--from", "2026-03-04T00:00"], "--from and --to go together"),
        (["--to", "2026-03-04T00:00"], "--from and --to go together"),
        (
            ["--at", "2026-03-04T00:00", "--from", "2026-03-04T00:00", "--to", "2026-03-05"],
            "either --at or --from/--to",
        ),
        (["--from", "2026-03-05", "--to", "2026-03-04"], "--to must be after --from"),
        (["--from", "2026-03-05", "--to", "later"], "invalid time 'later'"),
        (["--rotation", "tertiary"], "unknown rotation 'tertiary' (rotations: primary, secondary)"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_error(
    sqlite_db: Database, args: list[str], message: str
):
    result = run(sqlite_db, *args, "--json")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
