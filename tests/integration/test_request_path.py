"""The request path: the answer leaves when a listener acks, accepted work is saved in shared
commits, and background work gives way to requests being answered."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_bolt import Ack, App, BoltRequest
from slack_bolt.authorization import AuthorizeResult
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.clock import FakeClock
from bot.delivery.intake import Intake
from bot.executors import TrackedPool
from bot.fastack import ANSWER_LATER, Foreground, Mailbox, answer_at_ack, answer_on_loop
from storage.db import Database, WriteLock
from storage.repositories import NewItem, OutboxInsert


def test_background_work_waits_for_the_request_being_answered():
    foreground = Foreground(patience=30)
    pool = TrackedPool(1, "bg", initializer=foreground.mark_background)
    steps: list[str] = []
    with foreground.serving():
        started = threading.Event()

        def step() -> None:
            started.set()
            foreground.give_way()
            steps.append("background")

        future = pool.submit(step)
        started.wait(10)
        assert not future.done()  # held while the request is answered
        steps.append("answered")
    future.result(10)
    assert steps == ["answered", "background"]
    assert foreground.waited > 0
    pool.shutdown()


def test_background_work_never_waits_longer_than_its_patience():
    foreground = Foreground(patience=0.01)
    pool = TrackedPool(1, "bg", initializer=foreground.mark_background)
    with foreground.serving():  # a request that is never answered
        pool.submit(foreground.give_way).result(10)
    pool.shutdown()
    assert 0.01 <= foreground.waited < 1


def test_request_threads_never_give_way():
    foreground = Foreground(patience=30)
    with foreground.serving():
        foreground.give_way()  # this thread is not background: returns at once
    assert foreground.waited == 0


def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait for another thread to get somewhere; fail rather than hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        threading.Event().wait(0.001)


def test_background_transactions_queue_after_the_others():
    lock = WriteLock()
    background = threading.local()
    lock.background = lambda: getattr(background, "on", False)
    order: list[str] = []
    lock.acquire()  # a transaction under way

    def take(name: str, is_background: bool) -> None:
        background.on = is_background
        lock.acquire()
        order.append(name)
        lock.release()

    with ThreadPoolExecutor(2) as threads:
        first = threads.submit(take, "background", True)
        until(lambda: lock._free._waiters)  # the background transaction queues first
        second = threads.submit(take, "request", False)
        until(lambda: lock._urgent)
        lock.release()
        first.result(10), second.result(10)
    assert order == ["request", "background"]


def test_concurrent_accepts_share_commits_and_each_key_is_created_once(
    db: Database, clock: FakeClock
):
    intake = Intake(db, clock)
    keys = [f"raise:{n % 40}" for n in range(200)]  # each key arrives five times
    with ThreadPoolExecutor(20) as threads:
        created = list(threads.map(lambda k: intake.add(NewItem(k, "test.noop")), keys))
    assert sum(created) == 40
    assert {k for k, c in zip(keys, created, strict=True) if c} == set(keys)
    with db.uow() as uow:
        for key in set(keys):
            item = uow.repos.outbox.get(key)
            assert item is not None and item.status == "pending" and item.attempts == 0
    assert intake.add(NewItem("raise:0", "test.noop")) is False  # saved before


def test_an_accept_the_database_refuses_raises_in_the_request(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    intake = Intake(db, clock)
    assert intake.add(NewItem("before", "test.noop", payload={"n": 1}))

    def unreachable(*_: object, **__: object) -> set[str]:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr("storage.repositories.OutboxInsert.run", unreachable)
    with pytest.raises(OperationalError):
        intake.add(NewItem("during", "test.noop"))
    monkeypatch.undo()
    assert intake.add(NewItem("after", "test.noop"))
    with db.uow() as uow:
        assert uow.repos.outbox.get("during") is None
        saved = uow.repos.outbox.get("before")
        assert saved is not None and saved.payload == {"n": 1}


def _later(intake: Intake, key: str, outcomes: dict[str, tuple[bool, str | None]]) -> None:
    def then(created: bool, error: Exception | None) -> None:
        outcomes[key] = (created, type(error).__name__ if error else None)

    intake.add_later(NewItem(key, "test.noop"), then)


def test_saves_queued_without_waiting_are_made_on_the_intakes_thread_beside_waiting_ones(
    db: Database, clock: FakeClock
):
    intake = Intake(db, clock)
    outcomes: dict[str, tuple[bool, str | None]] = {}
    keys = [f"raise:{n % 30}" for n in range(120)]  # each key four times, half of them waiting

    def one(n: int) -> bool | None:
        if n % 2:
            return intake.add(NewItem(keys[n], "test.noop"))
        _later(intake, f"{keys[n]}#{n}", outcomes)  # a key of its own, for its outcome
        return None

    with ThreadPoolExecutor(20) as threads:
        waited = [c for c in threads.map(one, range(len(keys))) if c is not None]
    intake.writer.wait_idle()
    assert len(outcomes) == 60 and all(o == (True, None) for o in outcomes.values())
    assert sum(waited) == 15  # keys raise:1, 3, … 29, each created once by the waiting ones
    _later(intake, "raise:0#0", outcomes)  # saved before: not created again
    intake.writer.wait_idle()
    assert outcomes["raise:0#0"] == (False, None)
    with db.uow() as uow:
        assert uow.repos.outbox.get("raise:0#0") is not None
        assert uow.repos.outbox.get("raise:1") is not None


def test_a_save_queued_without_waiting_hears_the_databases_refusal(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    intake = Intake(db, clock)

    def unreachable(*_: object, **__: object) -> set[str]:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr("storage.repositories.OutboxInsert.run", unreachable)
    outcomes: dict[str, tuple[bool, str | None]] = {}
    _later(intake, "during", outcomes)
    intake.writer.wait_idle()
    assert outcomes == {"during": (False, "OperationalError")}
    monkeypatch.undo()
    _later(intake, "after", outcomes)
    intake.writer.wait_idle()
    assert outcomes["after"] == (True, None)
    with db.uow() as uow:
        assert uow.repos.outbox.get("during") is None
    intake.writer.shutdown()
    _later(intake, "shut", outcomes)  # no thread left to save it: told at once, not lost
    assert outcomes["shut"] == (False, "RuntimeError")


def test_on_the_event_loop_a_batch_is_saved_there_at_the_end_of_its_turn(
    sqlite_db: Database, clock: FakeClock
):
    intake = Intake(sqlite_db, clock)
    batches: list[int] = []
    run = intake.insert.run

    def counted(connection: object, items: list[NewItem], now: object) -> set[str]:
        batches.append(len(items))
        return run(connection, items, now)  # type: ignore[arg-type]

    intake.insert.run = counted  # type: ignore[method-assign]
    saved: dict[str, tuple[bool, str]] = {}

    def later(key: str) -> None:
        def then(created: bool, error: Exception | None) -> None:
            assert error is None
            saved[key] = (created, threading.current_thread().name)

        intake.add_later(NewItem(key, "test.noop"), then)

    async def turn() -> dict[str, tuple[bool, str]]:
        for key in ("a", "b", "c"):
            later(key)
        before = dict(saved)
        await asyncio.sleep(0)  # the loop's turn ends
        return before

    assert asyncio.run(turn()) == {}  # not saved while the requests of the turn were handled
    assert saved == {k: (True, "MainThread") for k in "abc"} and batches == [3]
    assert not intake.writer.busy()


def test_on_the_event_loop_a_database_being_written_is_not_waited_for_there(
    sqlite_db: Database, clock: FakeClock
):
    import sqlite3

    intake = Intake(sqlite_db, clock)
    saved: dict[str, str] = {}

    def later(key: str) -> None:
        def then(created: bool, error: Exception | None) -> None:
            assert created and error is None
            saved[key] = threading.current_thread().name

        intake.add_later(NewItem(key, "test.noop"), then)

    sqlite_db.write_lock.acquire()  # another thread of this process writes
    try:
        asyncio.run(_one_turn(later, "ours-busy"))
        assert saved == {}  # the loop went on; the intake's thread waits for the lock
    finally:
        sqlite_db.write_lock.release()
    intake.writer.wait_idle()
    other = sqlite3.connect(sqlite_db.engine.url.database or "", check_same_thread=False)
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's one write lock
    try:
        asyncio.run(_one_turn(later, "theirs-busy"))
        assert "theirs-busy" not in saved  # not waited for on the loop either
    finally:
        other.execute("COMMIT")
        other.close()
    intake.writer.wait_idle()
    assert saved["ours-busy"].startswith("intake") and saved["theirs-busy"].startswith("intake")
    with sqlite_db.uow() as uow:
        assert uow.repos.outbox.get("theirs-busy") is not None


async def _one_turn(later: Callable[[str], None], key: str) -> None:
    later(key)
    await asyncio.sleep(0)  # the loop's turn ends: the save is tried there, and handed on
    await asyncio.sleep(0)


def test_the_driver_level_insert_reads_back_as_the_orm_wrote_it(db: Database, clock: FakeClock):
    now = clock()
    payload = {"draft": {"title": "Vote-buying ads ‘BR’", "surfaces": ["ads"]}, "n": 1, "x": None}
    with db.driver_transaction() as connection:
        created = OutboxInsert.of(db.engine.dialect).run(
            connection,
            [NewItem("k1", "test.noop", None, payload), NewItem("k1", "test.other")],
            now,
        )
    assert created == {"k1"}  # repeated in one call: the first wins
    with db.uow() as uow:  # the ORM's own insert, on the same statement, skips a known key
        assert uow.repos.outbox.add_many([NewItem("k1", "x"), NewItem("k2", "x")], now) == {"k2"}
        uow.commit()
    with db.uow() as uow:
        item = uow.repos.outbox.get("k1")
        assert item is not None
        assert (item.kind, item.payload, item.status, item.attempts) == (
            "test.noop",
            payload,
            "pending",
            0,
        )
        assert item.next_attempt_at == now and item.created_at == now
        assert item.next_attempt_at.tzinfo is not None
        assert [i.key for i in uow.repos.outbox.due(now)] == ["k1", "k2"]


def test_driver_level_errors_are_sqlalchemy_errors_and_nothing_is_kept(
    db: Database, clock: FakeClock
):
    insert = OutboxInsert.of(db.engine.dialect)
    # No such escalation: the foreign key refuses the second row.
    with pytest.raises(IntegrityError), db.driver_transaction() as connection:
        insert.run(connection, [NewItem("ok", "test.noop")], clock())
        insert.run(connection, [NewItem("bad", "test.noop", 424242)], clock())
    with db.uow() as uow:
        assert uow.repos.outbox.get("ok") is None  # the whole transaction rolled back
    with db.driver_transaction() as connection:  # and the connection is fine afterwards
        assert insert.run(connection, [NewItem("ok", "test.noop")], clock()) == {"ok"}


def _bolt_app(listener: Callable[..., None]) -> App:
    app = App(
        signing_secret="secret",
        # Who the app is, without asking Slack (auth.test): this test is about answering.
        authorize=lambda **_: AuthorizeResult(
            enterprise_id=None, team_id="T0TEAM0001", bot_token="xoxb-test", bot_user_id="U0BOT"
        ),
        request_verification_enabled=False,
        process_before_response=True,
    )
    app.command("/escalate")(listener)
    return app


def _command() -> BoltRequest:
    body = "command=%2Fescalate&text=hi&user_id=U0ANA00001&team_id=T0TEAM0001"
    return BoltRequest(body=body, headers={"content-type": "application/x-www-form-urlencoded"})


def test_over_http_the_answer_leaves_at_the_ack_and_the_listener_goes_on():
    release, finished = threading.Event(), threading.Event()

    def listener(ack: Ack) -> None:
        ack("Raising…")
        release.wait(10)
        finished.set()

    pool = TrackedPool(2, "test")
    response = asyncio.run(answer_at_ack(_bolt_app(listener), _command(), pool))
    assert response.status == 200 and response.body == "Raising…"
    assert not finished.is_set()  # still working after Slack got its answer
    release.set()
    pool.wait_idle()
    assert finished.is_set()
    pool.shutdown()


def test_over_http_a_listener_that_fails_before_acking_answers_500():
    def listener(ack: Ack) -> None:
        raise RuntimeError("boom")

    pool = TrackedPool(2, "test")
    response = asyncio.run(answer_at_ack(_bolt_app(listener), _command(), pool))
    assert response.status == 500
    pool.shutdown()


def test_a_write_lock_held_elsewhere_fails_as_sqlalchemys_error_and_frees_ours(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
):
    import sqlite3

    import storage.db

    monkeypatch.setattr(storage.db, "REQUEST_BUSY_MS", 20)
    other = sqlite3.connect(sqlite_db.engine.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's one write lock
    try:
        with pytest.raises(OperationalError, match="database is locked"), sqlite_db.uow() as uow:
            uow.repos.outbox.get("none")
    finally:
        other.execute("ROLLBACK")
        other.close()
    with sqlite_db.uow() as uow:  # this process's own queue was left free
        assert uow.repos.outbox.get("none") is None


def test_on_the_loop_an_ack_made_in_the_listener_is_the_answer():
    seen: list[bool] = []

    def listener(ack: Ack, context: dict[str, object]) -> None:
        seen.append(ANSWER_LATER in context)
        ack("Usage: …")

    response = asyncio.run(answer_on_loop(_bolt_app(listener), _command()))
    assert (response.status, response.body, seen) == (200, "Usage: …", [True])


def test_on_the_loop_a_held_answer_is_the_ack_made_later_on_another_thread(
    caplog: pytest.LogCaptureFixture,
):
    done = threading.Event()

    def listener(ack: Ack, context: dict[str, object]) -> object:
        def save_then_ack() -> None:
            time.sleep(0.01)  # the save, elsewhere; dispatch has returned meanwhile
            ack("Raising…")
            done.set()

        threading.Thread(target=save_then_ack).start()
        return context[ANSWER_LATER].hold()  # type: ignore[attr-defined]

    with caplog.at_level("DEBUG", logger="slack_bolt"):
        response = asyncio.run(answer_on_loop(_bolt_app(listener), _command()))
    assert done.is_set() and (response.status, response.body) == (200, "Raising…")
    # Held, the request is handled: Bolt neither tries other listeners nor calls it unhandled
    assert not [r for r in caplog.records if "nhandled" in r.getMessage()]


def test_on_the_loop_a_listener_that_fails_answers_500_and_no_request_is_unhandled():
    def listener(ack: Ack) -> None:
        raise RuntimeError("boom")

    assert asyncio.run(answer_on_loop(_bolt_app(listener), _command())).status == 500


def test_answers_handed_over_together_wake_the_loop_once():
    async def main() -> tuple[list[int], int]:
        loop = asyncio.get_running_loop()
        wakes = 0
        real = loop.call_soon_threadsafe

        def counted(*args: object) -> object:
            nonlocal wakes
            wakes += 1
            return real(*args)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        box, got = Mailbox(loop), []
        posted = threading.Thread(target=lambda: [box.post(got.append, n) for n in range(5)])
        posted.start()
        posted.join()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return got, wakes

    got, wakes = asyncio.run(main())
    assert got == [0, 1, 2, 3, 4] and wakes == 1


def test_a_loops_mailbox_goes_with_the_loop():
    import gc
    import weakref

    loop = asyncio.new_event_loop()
    box = Mailbox.of(loop)
    assert Mailbox.of(loop) is box
    gone = weakref.ref(loop)
    loop.close()
    del loop, box
    gc.collect()
    assert gone() is None
