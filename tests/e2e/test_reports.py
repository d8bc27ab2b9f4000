"""Trends and the export end to end, over a scripted history on the fake clock."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.usecases.reports import COLUMNS, export_rows
from tests.support.escalations import esc, raise_esc, raise_form
from tests.support.people import MEMBER, REPORTER, SALES
from tests.support.world import World

HEADER = (
    "id,title,category,policy_area,severity,region,status,restricted,reporter,owner,"
    "created_at,acknowledged_at,resolved_at,time_to_ack_s,time_to_resolve_s,sla_breached,"
    "decisions,followups,duplicate_of,deadline_at,deadline_breached"
)


def _history(world: World) -> None:
    """ESC-1 acked in 3 min, resolved at 2 h; ESC-2 acked late; ESC-3 restricted, untouched."""
    one = raise_esc(world)  # 17:00, SEV2: ack within 15 min
    world.clock.advance(timedelta(minutes=3))
    esc(world, MEMBER, "ack", one.channel_id)
    world.clock.advance(timedelta(minutes=57))
    esc(world, SALES, "decision Remove the ads", one.channel_id)
    esc(world, SALES, "followup tooling_gap Bulk takedown", one.channel_id)
    world.clock.advance(timedelta(hours=1))
    esc(world, MEMBER, "resolve Removed", one.channel_id)
    two = raise_esc(world, "SEV1 #election Vote buying")  # 19:00, SEV1: ack within 5 min
    world.clock.advance(timedelta(minutes=10))
    esc(world, MEMBER, "ack", two.channel_id)
    raise_form(world, REPORTER, "Leak of VIP private data", category="vip", flags=("restricted",))


EXPECTED = [
    "ESC-1,Counterfeit ads wave,ads,other,SEV2,global,resolved,false,U0ANA00001,U0BEN00001,"
    "2026-03-04T17:00:00Z,2026-03-04T17:03:00Z,2026-03-04T19:00:00Z,180,7200,false,1,1,,,",
    "ESC-2,Vote buying,election,other,SEV1,global,acknowledged,false,U0ANA00001,U0BEN00001,"
    "2026-03-04T19:00:00Z,2026-03-04T19:10:00Z,,600,,true,0,0,,,",
    "ESC-3,[restricted],vip,other,SEV3,global,open,true,U0ANA00001,U0BEN00001,"
    "2026-03-04T19:10:00Z,,,,,true,0,0,,,",
]


def _export(world: World, *args: str):
    return CliRunner().invoke(main, ["export", *args], env={"DATABASE_URL": world.db.url})


def test_export_csv_has_the_spec_columns_and_values(world: World):
    _history(world)
    result = _export(world, "--since", "2026-03-04")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [HEADER, *EXPECTED]
    later = _export(world, "--since", "2026-03-04T18:30:00Z", "--format", "csv")
    assert later.output.splitlines() == [HEADER, *EXPECTED[1:]]
    assert _export(world, "--since", "2026-03-05").output.splitlines() == [HEADER]


def test_export_json(world: World):
    _history(world)
    result = _export(world, "--since", "2026-03-04T00:00:00+00:00", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [list(r) for r in rows] == [list(COLUMNS)] * 3
    first, second, third = rows
    assert first["time_to_ack_s"] == 180 and first["time_to_resolve_s"] == 7200
    assert first["restricted"] is False and first["sla_breached"] is False
    assert second["resolved_at"] is None and second["sla_breached"] is True
    assert third["title"] == "[restricted]" and third["restricted"] is True
    assert third["acknowledged_at"] is None and third["time_to_ack_s"] is None
    # CSV and JSON say the same thing
    from_csv = list(csv.DictReader(io.StringIO(_export(world, "--since", "2026-03-04").output)))
    assert [r["id"] for r in from_csv] == [r["id"] for r in rows]


def test_sla_of_an_unacknowledged_escalation_follows_the_clock(world: World):
    _history(world)
    with world.db.uow() as uow:
        since = world.clock() - timedelta(days=1)
        before = export_rows(uow, since, world.clock() + timedelta(minutes=59))
        after = export_rows(uow, since, world.clock() + timedelta(minutes=61))
    assert before[2]["sla_breached"] is False and after[2]["sla_breached"] is True


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01", ""])
def test_export_rejects_a_bad_date(world: World, since: str):
    result = _export(world, "--since", since)
    assert result.exit_code == 2 and "--since" in result.output


def test_stats_respect_restriction(world: World):
    _history(world)
    team = world.config.team.channel
    insider = esc(world, REPORTER, "stats 30d", team)
    assert "last 30 days" in insider
    assert "*Raised:* 3 · *open:* 2 · *resolved:* 1" in insider
    assert "*Median time to ack:* 6m 30s" in insider
    assert "*Ack SLA breached:* 1" in insider
    assert "tooling_gap 1" in insider and "*Decisions logged:* 1" in insider
    outsider = esc(world, SALES, "stats", team)
    assert "last 7 days" in outsider and "*Raised:* 2" in outsider and "vip" not in outsider
    world.clock.advance(timedelta(days=8))
    assert "*Raised:* 0" in esc(world, REPORTER, "stats 7d", team)
