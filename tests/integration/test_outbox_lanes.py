"""The urgent lane: a page runs while every staffing worker is held up (by Slack's tiers)."""

from __future__ import annotations

import threading

from bot.clock import FakeClock
from bot.delivery.outbox import Outbox
from storage.db import Database
from storage.repositories import NewItem

WAIT = 10.0  # bounded: a failure shows as a timeout, never a hang


def _lanes(db: Database, clock: FakeClock) -> tuple[Outbox, threading.Event, list[str]]:
    outbox = Outbox(db, clock, workers=2)
    release = threading.Event()
    done: list[str] = []

    def staff(job) -> None:  # a channel creation waiting out a 429's Retry-After
        assert release.wait(WAIT)
        done.append(job.key)

    outbox.register("test.staff", staff)
    outbox.register("test.page", lambda job: done.append(job.key))
    outbox.prioritize("page:%:dm:%")
    return outbox, release, done


def test_a_page_accepted_behind_held_staffing_runs_at_once(db: Database, clock: FakeClock):
    outbox, release, done = _lanes(db, clock)
    for n in range(4):  # more than the pool has workers: two run, two queue
        assert outbox.accept(NewItem(f"staff:{n}", "test.staff", None, {}))
    assert outbox.accept(NewItem("page:1:0:0:dm:U1", "test.page", None, {}))
    outbox.urgent_pool.wait_idle(WAIT)
    assert done == ["page:1:0:0:dm:U1"]  # while all staffing still waits
    release.set()
    outbox.wait_idle(WAIT)
    assert sorted(done) == ["page:1:0:0:dm:U1", "staff:0", "staff:1", "staff:2", "staff:3"]
    outbox.stop()


def test_due_pages_go_to_the_urgent_lane_and_first(db: Database, clock: FakeClock):
    outbox, release, done = _lanes(db, clock)
    with db.uow() as uow:
        uow.repos.outbox.add_many(
            [NewItem(f"staff:{n}", "test.staff", None, {}) for n in range(3)]
            + [NewItem("page:2:0:1:dm:U2", "test.page", None, {})],
            clock(),
        )
        uow.commit()
    assert outbox.dispatch_due() == 4
    outbox.urgent_pool.wait_idle(WAIT)
    assert done == ["page:2:0:1:dm:U2"]
    release.set()
    outbox.wait_idle(WAIT)
    assert len(done) == 4
    outbox.stop()


def test_items_queued_here_do_not_hide_newer_due_items(db: Database, clock: FakeClock):
    outbox, release, done = _lanes(db, clock)
    with db.uow() as uow:
        uow.repos.outbox.add_many(
            [NewItem(f"staff:{n}", "test.staff", None, {}) for n in range(12)], clock()
        )
        uow.commit()
    assert outbox.dispatch_due(limit=5) == 5  # queued behind held workers, not yet locked
    assert outbox.dispatch_due(limit=5) == 5  # the next five, not the same five again
    assert outbox.dispatch_due(limit=5) == 2
    release.set()
    outbox.wait_idle(WAIT)
    assert len(done) == 12
    outbox.stop()
