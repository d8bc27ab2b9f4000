"""Deadlines end to end: the clock on the card, the owner's reminder, the page when it passes
unresolved, and the breach in `/esc stats` and the export, over signed requests."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from bot.cli import main
from schedules.scheduler import Scheduler
from tests.support.config import EXAMPLE
from tests.support.escalations import (
    card,
    esc,
    escalate_form,
    events,
    flatten,
    load,
    posts,
    raise_esc,
)
from tests.support.people import MEMBER, ONCALL, REPORTER, SALES
from tests.support.world import World

TCO = "EU TCO removal window"
LEGAL_CLOCK = "Legal response"


@pytest.fixture
def scheduler(world: World) -> Scheduler:
    """A scheduler over the world's bot, driven by hand at the fake clock's now."""
    return Scheduler(world.bot.services)


def run(world: World, scheduler: Scheduler, advance: timedelta = timedelta(0)) -> list[str]:
    """Move the clock, run a pass, wait for its Slack work; return the deadline pings sent."""
    world.clock.advance(advance)
    sent = scheduler.run_due().sent
    world.settle()
    return [k for k in sent if k.startswith("deadline_")]


def _removal_order(world: World) -> int:
    """Raise an EU terrorist-content removal order through the form: both clocks start."""
    view, values = escalate_form(
        world,
        REPORTER,
        "Removal order 2026/114 from the DE authority",
        "legal_request",
        region="emea",
        policy_area="community_standards",
    )
    world.driver.submit_view(REPORTER, view, values)
    world.settle()
    return 1


def _deadlines(world: World, number: int) -> dict[str, int]:
    with world.db.uow() as uow:
        return {d.name: d.id for d in uow.repos.escalations.deadlines(number)}


def _dms(world: World, user: str, containing: str) -> list[str]:
    return [
        c.args["text"]
        for c in world.emulator.calls_of("chat.postMessage")
        if c.ok and c.args.get("channel") == user and containing in c.args.get("text", "")
    ]


def _export(world: World) -> list[dict[str, str]]:
    result = CliRunner().invoke(
        main, ["export", "--since", "2026-03-01"], env={"DATABASE_URL": world.db.url}
    )
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


def test_a_removal_window_reminds_the_owner_then_pages_when_it_passes_acknowledged(
    world: World, scheduler: Scheduler
):
    number = _removal_order(world)
    row = load(world, number)
    ids = _deadlines(world, number)
    assert set(ids) == {TCO, LEGAL_CLOCK}
    shown = flatten(card(world, row))
    assert f":alarm_clock: *{TCO}* due" in shown and f":alarm_clock: *{LEGAL_CLOCK}* due" in shown
    assert run(world, scheduler) == []
    # acknowledged: paging stops, the clock does not (a deadline is about resolution)
    assert "Acknowledged" in esc(world, MEMBER, "ack", row.channel_id or "")
    assert run(world, scheduler, timedelta(minutes=44, seconds=59)) == []
    assert run(world, scheduler, timedelta(seconds=1)) == [f"deadline_reminder:{ids[TCO]}"]
    [reminder] = [p for p in posts(world, row.channel_id or "") if ":alarm_clock: <@" in p]
    assert f"<@{row.owner}>" in reminder and TCO in reminder and "in 15m" in reminder
    assert run(world, scheduler, timedelta(minutes=14, seconds=59)) == []
    assert run(world, scheduler, timedelta(seconds=1)) == [f"deadline_breach:{ids[TCO]}"]
    [page] = [p for p in posts(world, row.channel_id or "") if "unresolved — paging" in p]
    assert f"paging <@{ONCALL}>" in page and TCO in page
    [dm] = _dms(world, ONCALL, TCO)
    assert "You are paged" in dm and f"<#{row.channel_id}>" in dm
    assert f":rotating_light: *{TCO}* passed" in flatten(card(world, load(world, number)))
    assert [e.detail["deadline"] for e in events(world, number, "deadline_breached")] == [TCO]
    # once: later passes and a reconcile send nothing more
    for minutes in (1, 30):
        assert run(world, scheduler, timedelta(minutes=minutes)) == []
    assert len(_dms(world, ONCALL, TCO)) == 1

    stats = esc(world, REPORTER, "stats", world.config.team.channel)
    assert "*Deadlines breached:* 1 of 1 · by category: legal_request 1 · by region: emea 1" in (
        stats
    )
    [exported] = _export(world)
    assert exported["deadline_at"] == "2026-03-04T18:00:00Z"  # the soonest: the TCO hour
    assert exported["deadline_breached"] == "true"
    review = CliRunner().invoke(
        main,
        ["review", "ESC-1", "--format", "json"],
        env={"DATABASE_URL": world.db.url, "ESCALATION_CONFIG": str(EXAMPLE)},
    )
    assert review.exit_code == 0, review.output
    outcomes = {d["name"]: d["outcome"] for d in json.loads(review.output)["deadlines"]}
    assert set(outcomes) == {TCO, LEGAL_CLOCK} and outcomes[TCO] == "missed"  # the CLI's now
    markdown = CliRunner().invoke(
        main,
        ["review", "ESC-1"],
        env={"DATABASE_URL": world.db.url, "ESCALATION_CONFIG": str(EXAMPLE)},
    )
    assert "SLA and deadline outcome" in markdown.output
    assert f"Deadline {TCO} missed (due 2026-03-04 18:00 UTC)" in markdown.output


def test_resolving_in_time_stops_the_deadline_pings(world: World, scheduler: Scheduler):
    row = raise_esc(world, "SEV2 #legal_request Preservation order 26-114")
    ids = _deadlines(world, row.id)
    assert list(ids) == [LEGAL_CLOCK]  # global, not community standards: no TCO clock
    run(world, scheduler)
    assert run(world, scheduler, timedelta(hours=22)) == [f"deadline_reminder:{ids[LEGAL_CLOCK]}"]
    said = esc(world, MEMBER, "resolve --force Records handed over", row.channel_id or "")
    assert "Resolved" in said or "resolved" in said
    for hours in (2, 24):
        assert run(world, scheduler, timedelta(hours=hours)) == []
    assert not [p for p in posts(world, row.channel_id or "") if ":rotating_light:" in p]
    assert not _dms(world, ONCALL, LEGAL_CLOCK)
    assert f":white_check_mark: *{LEGAL_CLOCK}* met" in flatten(card(world, load(world, row.id)))
    assert "*Deadlines breached:* 0 of 1" in esc(world, REPORTER, "stats", row.channel_id or "")
    [exported] = _export(world)
    assert (exported["deadline_at"], exported["deadline_breached"]) == (
        "2026-03-05T17:00:00Z",
        "false",
    )


def test_an_escalation_no_deadline_matches_has_none(world: World, scheduler: Scheduler):
    row = raise_esc(world, "SEV2 #ads Counterfeit ads wave")
    assert _deadlines(world, row.id) == {}
    assert ":alarm_clock:" not in flatten(card(world, row))
    assert run(world, scheduler, timedelta(days=2)) == []
    [exported] = _export(world)
    assert (exported["deadline_at"], exported["deadline_breached"]) == ("", "")
    # stats count only the escalations that have a deadline
    assert "*Deadlines breached:* 0 of 0" in esc(world, SALES, "stats", row.channel_id or "")
