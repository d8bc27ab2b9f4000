"""Outbox leases after a crash: dead workers' items come back, live workers' items do not."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.delivery.jobs import LEASE, MAX_WAIT, MIN_WAIT, WAITING, Job, NotReady
from bot.delivery.outbox import Outbox
from storage.db import Database
from storage.models import Escalation
from storage.models import OutboxItem as OutboxItemModel

HOST = socket.gethostname()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _held(db: Database, clock: FakeClock, owners: dict[str, str]) -> None:
    """Add one pending item per key, locked by the given worker for a full lease."""
    with db.uow() as uow:
        for key, owner in owners.items():
            uow.repos.outbox.add(key, "test.noop", clock())
            item = uow.repos.outbox.get(key)
            assert item is not None
            assert uow.repos.outbox.lock(item.id, clock() + LEASE, clock(), owner)
        uow.commit()


def _locked(db: Database) -> dict[str, str | None]:
    with db.uow() as uow:
        keys = ["dead", "earlier-me", "alive", "elsewhere", "mine"]
        items = {k: uow.repos.outbox.get(k) for k in keys}
        return {k: i.locked_by for k, i in items.items() if i is not None}


def _escalation(uow: Any, clock: FakeClock) -> int:
    """Add a plain escalation; return its number."""
    esc = uow.repos.escalations.add(
        Escalation(
            title="t",
            category="other",
            policy_area="other",
            severity="SEV2",
            region="global",
            reporter="U0REPORTER",
            created_at=clock(),
            ack_deadline=clock() + timedelta(minutes=15),
        )
    )
    uow.flush()
    return int(esc.id)


def test_recover_frees_only_items_of_workers_that_died_here(db: Database, clock: FakeClock):
    outbox = Outbox(db, clock)
    done: list[str] = []
    outbox.register("test.noop", lambda job: done.append(job.key))
    _, pid, _ = outbox.owner.rsplit(":", 2)
    assert int(pid) == os.getpid()
    owners = {
        "dead": f"{HOST}:{_dead_pid()}:aaaa0001",
        "earlier-me": f"{HOST}:{os.getpid()}:bbbb0002",  # this PID before a restart
        "alive": f"{HOST}:{os.getppid()}:cccc0003",  # another process, still running
        "elsewhere": f"other-host:{os.getpid()}:dddd0004",  # cannot tell: wait for the lease
        "mine": outbox.owner,
    }
    _held(db, clock, owners)
    assert outbox.run_due() == 0  # all held

    assert outbox.recover() == 2
    locked = _locked(db)
    assert locked["dead"] is None and locked["earlier-me"] is None
    assert locked["alive"] == owners["alive"] and locked["elsewhere"] == owners["elsewhere"]
    assert outbox.run_due() == 2
    assert sorted(done) == ["dead", "earlier-me"]
    outbox.pool.shutdown()


def test_a_running_worker_renews_its_lease_and_a_silent_one_loses_it(
    db: Database, clock: FakeClock
):
    outbox = Outbox(db, clock)
    renewed: list[int] = []

    def slow(job: Job) -> None:  # a long Slack wait: the loop renews meanwhile
        clock.advance(LEASE - timedelta(seconds=5))
        renewed.append(outbox.renew())
        clock.advance(timedelta(seconds=10))  # past the first lease
        with db.uow() as uow:
            due = [item.key for item in uow.repos.outbox.due(clock())]
        assert due == ["elsewhere"]  # the silent worker's lease ran out, not this one

    outbox.register("test.slow", slow)
    with db.uow() as uow:
        uow.repos.outbox.add("running", "test.slow", clock())
        uow.commit()
    _held(db, clock, {"elsewhere": "other-host:1:eeee0005"})
    assert outbox.run_due() == 1  # "running"; "elsewhere" is still held
    assert renewed == [1]  # only the item it was working on
    assert outbox.renew() == 0  # nothing held once done
    outbox.pool.shutdown()


def test_an_item_whose_finish_was_not_saved_is_not_renewed_forever(db: Database, clock: FakeClock):
    outbox = Outbox(db, clock)
    outbox.register("test.noop", lambda job: None)
    with db.uow() as uow:
        uow.repos.outbox.add("orphan", "test.noop", clock())
        uow.commit()
    real_finish = outbox._finish

    def lost(*args: object, **kwargs: object) -> None:
        raise OSError("the database went away")

    outbox._finish = lost  # type: ignore[method-assign]
    with pytest.raises(OSError):
        outbox.run_due()
    outbox._finish = real_finish  # type: ignore[method-assign]
    assert outbox.renew() == 0  # not held any more: its lease will run out
    clock.advance(LEASE + timedelta(seconds=1))
    assert outbox.run_due() == 1
    outbox.pool.shutdown()


def test_an_item_that_is_not_ready_waits_without_spending_attempts_and_wakes_at_once(
    db: Database, clock: FakeClock
):
    outbox = Outbox(db, clock)
    ready = {"channel": False}
    done: list[str] = []

    def needs_channel(job: Job) -> None:
        if not ready["channel"]:
            raise NotReady("ESC-1 has no channel yet")
        done.append(job.key)

    outbox.register("test.after", needs_channel)
    with db.uow() as uow:
        number = _escalation(uow, clock)
        uow.repos.outbox.add("after", "test.after", clock(), escalation_id=number)
        uow.commit()

    waits = []
    for step in range(12):  # eleven looks in the first minute, then one after twenty
        if step == 11:
            clock.advance(timedelta(minutes=20))
        assert not outbox.run_key("after")
        with db.uow() as uow:
            item = uow.repos.outbox.get("after")
            assert item is not None
            assert item.status == "pending" and item.attempts == 0
            assert item.last_error == WAITING + "ESC-1 has no channel yet"
            waits.append(item.next_attempt_at - clock())
        if step < 11:
            clock.advance(waits[-1])
    assert waits[0] == MIN_WAIT and waits == sorted(waits)
    assert waits[-1] == MAX_WAIT  # an old item looks once a minute, not once a second
    outbox.wake(number + 1)  # another escalation's news wakes nothing
    assert not outbox.run_key("after")
    ready["channel"] = True
    outbox.wake(number)
    outbox.pool.shutdown()  # wake hands the item to the pool; shutdown waits for it
    assert done == ["after"]
    with db.uow() as uow:
        item = uow.repos.outbox.get("after")
        assert item is not None and item.status == "done" and item.attempts == 1


def test_an_item_found_not_ready_while_its_escalation_is_woken_looks_again_at_once(
    db: Database, clock: FakeClock
):
    # The race: a page DM finds no channel; staffing saves the channel and wakes the
    # escalation's waiting items before the DM's attempt is recorded as waiting.
    outbox = Outbox(db, clock)
    done: list[str] = []
    tries = {"n": 0}

    with db.uow() as uow:
        number = _escalation(uow, clock)
        uow.repos.outbox.add("dm", "test.dm", clock(), escalation_id=number)
        uow.commit()

    def dm(job: Job) -> None:
        tries["n"] += 1
        if tries["n"] == 1:
            outbox.wake(number)  # staffing finishes meanwhile: the item is not waiting yet
            raise NotReady("ESC-1 has no channel yet")
        done.append(job.key)

    outbox.register("test.dm", dm)
    assert not outbox.run_key("dm")
    outbox.pool.shutdown()  # the looking again was handed to the pool at once
    assert done == ["dm"] and tries["n"] == 2
    with db.uow() as uow:
        item = uow.repos.outbox.get("dm")
        assert item is not None and item.status == "done"


def test_renewing_leases_never_waits_on_items_being_settled_so_they_cannot_deadlock(
    db: Database, clock: FakeClock
):
    """A worker settling items row by row while its process's loop renews every lease it
    holds: the renewal skips the rows being settled instead of taking locks in another order
    (PostgreSQL found such a cycle and aborted one of them under a burst of pages)."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer: no row locks, no cycle")
    owner = f"{HOST}:{os.getpid()}:aaaa0001"
    _held(db, clock, {"first": owner, "second": owner})
    with db.uow() as uow:
        first, second = (uow.repos.outbox.get(k) for k in ("first", "second"))
        assert first is not None and second is not None
        ids = [first.id, second.id]
    settling = db.uow()
    with settling as uow:  # the settling worker has changed the second item, not yet the first
        item = uow.session.get(OutboxItemModel, ids[1])
        assert item is not None
        item.status = "done"
        uow.flush()
        renewed: list[int] = []

        def renew() -> None:
            with db.uow() as other:
                renewed.append(other.repos.outbox.renew(owner, ids, clock() + LEASE))
                other.commit()

        renewal = threading.Thread(target=renew)
        renewal.start()
        renewal.join(timeout=10)
        assert not renewal.is_alive(), "the renewal waited for the row being settled"
        assert renewed == [1]  # the first item; the second is being settled
        item = uow.session.get(OutboxItemModel, ids[0])  # and the settle goes on, unblocked
        assert item is not None
        item.status = "done"
        uow.commit()
    with db.uow() as uow:
        assert {uow.repos.outbox.get(k).status for k in ("first", "second")} == {"done"}  # type: ignore[union-attr]
