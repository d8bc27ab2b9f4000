"""The database unreachable: requests are refused plainly, nothing half-done, and it recovers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.blocks import Action
from bot.clock import FakeClock
from bot.config import TeamConfig
from storage.db import Database
from tests.support.escalations import escalate_form, load, raise_esc, said
from tests.support.people import MEMBER, REPORTER
from tests.support.world import World, make_world

NOT_SAVED = "Not saved"


class Outage:
    """Make every connection taken from the pool fail while `down` is set.

    `Engine.raw_connection` is where sessions, `engine.connect()` and the driver-level
    transactions all take theirs.
    """

    def __init__(self, db: Database):
        self.db = db
        self.down = False
        self.refused = 0
        self.fail_after: int | None = None  # go down after this many more connections
        self._connect = db.engine.raw_connection

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.fail_after is not None:
            self.down, self.fail_after = self.fail_after <= 0, self.fail_after - 1
        if self.down:
            self.refused += 1
            raise OperationalError("connect", {}, ConnectionRefusedError("database is down"))
        return self._connect(*args, **kwargs)


@pytest.fixture
def outage_world(
    db: Database, config: TeamConfig, tmp_path: Path, clock: FakeClock, monkeypatch
) -> Iterator[tuple[World, Outage]]:
    """A running workspace (on each backend) whose database can be taken away."""
    w = make_world(config, tmp_path, clock, db=db)
    outage = Outage(db)
    monkeypatch.setattr(db.engine, "raw_connection", outage.connect)
    yield w, outage
    outage.down = False
    w.bot.stop()
    w.emulator.stop()


def effects(world: World, since: int = 0) -> list[str]:
    """Return the Web API calls since `since` that change something (not the look-ups, nor
    in Socket Mode apps.connections.open)."""
    reads = ("auth.test", "usergroups.users.list", "apps.connections.open")
    return [c.method for c in world.emulator.calls[since:] if c.method not in reads]


def test_a_command_while_the_database_is_down_is_refused_and_retried_later(outage_world):
    world, outage = outage_world
    outage.down = True
    calls = len(world.emulator.calls)
    reply = world.driver.command(REPORTER, "/escalate", "SEV1 #ads Scam wave")
    assert reply.status == 200 and reply.elapsed < 3.0
    assert NOT_SAVED in reply.body and "try again" in reply.body
    world.settle()
    assert effects(world, calls) == []  # no half-done Slack effects
    assert outage.refused

    outage.down = False  # it comes back: the same command now works
    reply = world.driver.command(REPORTER, "/escalate", "SEV1 #ads Scam wave")
    assert NOT_SAVED not in reply.body
    world.settle()
    row = load(world, 1)
    assert row.title == "Scam wave" and row.staffed_at is not None


def test_a_form_while_the_database_is_down_stays_open_with_the_reason(outage_world):
    world, outage = outage_world
    view, values = escalate_form(
        world,
        REPORTER,
        "Leaked documents",
        "press",
        policy_area="other",
        severity="SEV2",
        region="global",
    )
    outage.down = True
    reply = world.driver.submit_view(REPORTER, view, values)
    assert reply.json["response_action"] == "errors"
    assert NOT_SAVED in reply.json["errors"]["title"]
    world.settle()
    assert world.emulator.open_views(REPORTER)  # the form is still there, filled in
    outage.down = False
    reply = world.driver.submit_view(REPORTER, view, values)
    assert reply.status == 200 and not reply.body
    world.settle()
    assert load(world, 1).staffed_at is not None


def test_work_on_an_escalation_while_the_database_is_down_says_not_saved(outage_world):
    world, outage = outage_world
    row = raise_esc(world)
    posted = len(world.emulator.messages(row.channel_id))
    before = len(world.emulator.responses)
    outage.down = True
    for text in ("update Takedown started", "ack", "decision Remove the ads"):
        reply = world.driver.command(MEMBER, "/esc", text, channel_id=row.channel_id)
        assert reply.status == 200 and reply.elapsed < 3.0
    click = world.driver.action(
        MEMBER, Action.ACK.value, str(row.id), channel_id=row.channel_id, message_ts=row.card_ts
    )
    assert click.status == 200 and click.elapsed < 3.0
    world.settle()
    replies = said(world, reply, before)
    assert replies.count(NOT_SAVED) == 4, replies
    assert "Something went wrong" not in replies
    assert len(world.emulator.messages(row.channel_id)) == posted
    outage.down = False
    world.driver.command(MEMBER, "/esc", "decision", channel_id=row.channel_id)  # the form
    world.settle()
    [form] = world.emulator.open_views(MEMBER)
    outage.down = True
    reply = world.driver.submit_view(MEMBER, form, {"decision": {"decision": "Remove the ads"}})
    assert NOT_SAVED in reply.json["errors"]["decision"]
    outage.down = False
    reply = world.driver.command(MEMBER, "/esc", "ack", channel_id=row.channel_id)
    world.settle()
    assert load(world, 1).status == "acknowledged"


def test_an_accepted_escalation_waits_out_an_outage_that_starts_after_the_ack(outage_world):
    world, outage = outage_world
    svc = world.bot.services
    svc.outbox.submit = lambda key: None  # type: ignore[method-assign]  # run it by hand
    reply = world.driver.command(REPORTER, "/escalate", "SEV2 Outage after the ack")
    assert "Raising" in reply.body
    outage.fail_after = 2  # the worker finds the item and takes it; then the database goes
    with pytest.raises(OperationalError):
        svc.outbox.run_due()
    assert effects(world) == []
    outage.fail_after, outage.down = None, False
    world.clock.advance(timedelta(minutes=2))  # past the lease of the interrupted attempt
    svc.outbox.run_due()
    world.settle()
    row = load(world, 1)
    assert row.title == "Outage after the ack" and row.staffed_at is not None
