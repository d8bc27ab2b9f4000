"""Double clicks and simultaneous entries, on each database backend."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.blocks import Action
from bot.usecases.decisions import verify_all
from tests.support.escalations import decisions, events, load, raise_esc
from tests.support.people import LEAD, MEMBER, REPORTER
from tests.support.world import World


def _at_once(calls: list[Callable[[], object]]) -> None:
    barrier = threading.Barrier(len(calls))
    failures: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not failures, failures


def test_simultaneous_acks_apply_once(any_world: World):
    world = any_world
    row = raise_esc(world)
    clicks = [
        lambda user=user: world.driver.action(
            user, Action.ACK, str(row.id), channel_id=row.channel_id, message_ts=row.card_ts
        )
        for user in (MEMBER, LEAD, REPORTER, MEMBER)
    ]
    _at_once(clicks)
    world.settle()
    assert len(events(world, 1, "acknowledged")) == 1
    assert load(world, 1).acknowledged_by in (MEMBER, LEAD, REPORTER)


def test_simultaneous_decisions_chain_in_order(any_world: World):
    world = any_world
    row = raise_esc(world)
    commands = [
        lambda n=n: world.driver.command(
            MEMBER, "/decision", f"Entry from request {n}", channel_id=row.channel_id
        )
        for n in range(6)
    ]
    _at_once(commands)
    world.settle()
    chain = decisions(world, 1)
    assert [d.seq for d in chain] == [1, 2, 3, 4, 5, 6]
    assert len({d.text for d in chain}) == 6
    result = verify_all(world.db)
    assert (result.entries, result.chains, result.broken) == (6, 1, None)
