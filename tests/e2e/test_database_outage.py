"""A real database outage, on each backend: every surface says "Not saved … try again" within
Slack's 3 s, with no Slack effect and no traceback, and works again once the database is back.

PostgreSQL goes away behind a proxy (connections refused, open ones cut); SQLite is held
locked by another process's connection. Neither is a fake inside the bot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.blocks import Action
from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.errors import database_unreachable
from bot.kinds import RAISE
from storage.db import Database
from tests.support.config import PG_URL
from tests.support.escalations import escalate_form, load, raise_esc, said
from tests.support.logs import caught_logs
from tests.support.outage import Outage, postgres_behind_proxy, sqlite_outage
from tests.support.people import MEMBER, REPORTER
from tests.support.world import World, make_world

ANSWER_WITHIN = 3.0  # Slack's window


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def down_world(
    request: pytest.FixtureRequest, config: TeamConfig, tmp_path: Path, clock: FakeClock
) -> Iterator[tuple[World, Outage]]:
    """A running workspace whose database can really go away."""
    with _database(request.param, tmp_path) as (db, outage):
        world = make_world(config, tmp_path, clock, db=db)
        try:
            yield world, outage
        finally:
            outage.up()
            world.bot.stop()
            world.emulator.stop()


def _database(kind: str, tmp_path: Path) -> Any:
    if kind == "postgresql":
        if not PG_URL:
            pytest.skip("TEST_DATABASE_URL is not set")
        return postgres_behind_proxy(PG_URL)
    from contextlib import contextmanager

    @contextmanager
    def sqlite() -> Iterator[tuple[Database, Outage]]:
        path = tmp_path / "outage.db"
        db = Database(f"sqlite:///{path}")
        db.upgrade()
        try:
            yield db, sqlite_outage(str(path))
        finally:
            db.dispose()

    return sqlite()


def effects(world: World, since: int) -> list[str]:
    """Return the Web API calls since `since` that change something."""
    return [c.method for c in world.emulator.calls[since:] if c.method != "auth.test"]


def timed(world: World, send: Callable[[], Any]) -> tuple[Any, str, float]:
    """Send a request; return its reply, what the user was told and when the last of it came."""
    before = len(world.emulator.responses)
    started = time.perf_counter()
    reply = send()
    world.settle()
    elapsed = time.perf_counter() - started
    return reply, said(world, reply, before), elapsed


def test_every_surface_says_not_saved_in_time_while_the_database_is_down(down_world):
    world, outage = down_world
    row = raise_esc(world)
    view, values = escalate_form(
        world, REPORTER, "Leaked documents", "press", policy_area="other", severity="SEV2",
        region="global",
    )  # fmt: skip
    d = world.driver
    world.driver.command(MEMBER, "/esc", "decision", channel_id=row.channel_id)
    world.settle()
    decision_form = world.emulator.open_views(MEMBER)[-1]
    surfaces: dict[str, Callable[[], Any]] = {
        "/escalate": lambda: d.command(REPORTER, "/escalate", "SEV1 #ads Scam wave"),
        "/esc ack": lambda: d.command(MEMBER, "/esc", "ack", channel_id=row.channel_id),
        "/esc update": lambda: d.command(
            MEMBER, "/esc", "update Working", channel_id=row.channel_id
        ),
        "/decision": lambda: d.command(
            MEMBER, "/decision", "Remove them", channel_id=row.channel_id
        ),
        "Acknowledge button": lambda: d.action(
            MEMBER, Action.ACK.value, str(row.id), channel_id=row.channel_id, message_ts=row.card_ts
        ),
        "/escalate form": lambda: d.submit_view(REPORTER, view, values),
        "decision form": lambda: d.submit_view(
            MEMBER, decision_form, {"decision": {"decision": "Remove the ads"}}
        ),
    }
    calls = len(world.emulator.calls)
    answers: dict[str, tuple[float, str]] = {}
    with caught_logs() as logs, outage.during():
        for name, send in surfaces.items():
            reply, told, elapsed = timed(world, send)
            assert reply.status == 200, (name, reply.status, reply.body)
            if isinstance(reply.json, dict) and reply.json.get("response_action") == "errors":
                told = " ".join(reply.json["errors"].values())
            answers[name] = (elapsed, told)
    for name, (elapsed, told) in answers.items():
        assert "Not saved" in told and "try again" in told, (name, told)
        assert elapsed < ANSWER_WITHIN, (name, elapsed)
    assert effects(world, calls) == []  # nothing half-done reached Slack
    assert not logs.tracebacks(), logs.tracebacks()[0]
    assert world.emulator.open_views(REPORTER)  # the form is still there, filled in
    print({name: round(elapsed, 2) for name, (elapsed, _) in answers.items()})

    # back: the same requests now work
    _, told, _ = timed(world, surfaces["/esc ack"])
    assert "Not saved" not in told
    reply, _, _ = timed(world, surfaces["/escalate form"])
    assert reply.status == 200 and not reply.body
    assert load(world, 2).staffed_at is not None
    assert load(world, 1).status == "acknowledged"


def test_an_outage_in_the_middle_of_the_job_delays_it_by_one_pass_only(down_world):
    """Taken by the worker, the database gone mid-job: no waiting out the lease once it is back."""
    world, outage = down_world
    svc = world.bot.services
    keys: list[str] = []
    svc.outbox.submit = keys.append  # run it by hand
    reply = world.driver.command(REPORTER, "/escalate", "SEV2 Accepted, then the outage")
    assert "Raising" in reply.body
    raise_handler = svc.outbox.handlers[RAISE]

    def cut_short(job: Any) -> None:
        outage.down()  # the item is taken (leased); now the database goes
        raise_handler(job)

    svc.outbox.handlers[RAISE] = cut_short
    with caught_logs() as logs, pytest.raises(Exception) as failed:
        svc.outbox.run_key(keys[0])
    assert database_unreachable(failed.value)
    assert not logs.tracebacks()
    svc.outbox.handlers[RAISE] = raise_handler
    outage.up()
    svc.outbox.run_due()  # the next pass, at the same instant: the lease does not hold it
    world.settle()
    assert load(world, 1).staffed_at is not None


def test_a_scheduler_pass_the_outage_stops_is_tried_again_within_seconds(down_world):
    from datetime import timedelta

    from schedules.scheduler import NEXT_JOB, OUTAGE_RETRY, Scheduler

    world, outage = down_world
    timer = Scheduler(world.bot.services, reconcile_every=3600)  # no reconcile to fall back on
    timer.start(watch=False)
    try:
        with caught_logs() as logs, outage.during():
            assert timer.reconcile(full=True) is None  # the pass fails
            job = timer._aps.get_job(NEXT_JOB) if timer._aps else None
            assert job is not None, "no retry scheduled"
            wall = timer._wall()
            assert job.next_run_time - wall <= OUTAGE_RETRY + timedelta(seconds=1)
        assert not logs.tracebacks(), logs.tracebacks()[0]
    finally:
        timer.shutdown()


def test_a_burst_while_the_database_is_down_is_told_not_saved_in_time(down_world):
    """Twenty requests at once share their save (group commit): they fail together, fast."""
    from tests.support.replay import at_once

    world, outage = down_world
    with outage.during():
        replies = at_once(
            [
                lambda i=i: world.driver.command(REPORTER, "/escalate", f"SEV2 Burst {i}")
                for i in range(20)
            ]
        )
    slowest = max(r.elapsed for r in replies)
    assert all(r.status == 200 and "Not saved" in r.body for r in replies)
    assert slowest < ANSWER_WITHIN, slowest
    print(f"\n20 at once, database down: slowest answer {slowest:.2f} s")
