"""The edges against the real process (`python -m bot run`): hostile requests, the database
away, Slack away, a refused token — no 500, no hang, no traceback in its output.

Each test starts the bot as production does, against the emulator, and reads what the
process printed at the end.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.config import TeamConfig
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.seed import seed
from storage.db import Database
from storage.models import Base
from tests.support.config import EXAMPLE, PG_URL
from tests.support.fuzz import FORM, bodies, form_template, signed_headers
from tests.support.outage import postgres_behind_proxy
from tests.support.process import BotProcess, free_port
from tests.support.replay import capture

pytestmark = pytest.mark.slow

SECRET = "edges-process-secret"
REPORTER = "U0ANA00001"
ANSWER_WITHIN = 3.0


@pytest.fixture(scope="module")
def emulator(config: TeamConfig) -> Iterator[Emulator]:
    """One emulated workspace for the module's processes."""
    emu = Emulator(rate_limits=False)
    emu.start()
    seed(emu, config)
    yield emu
    emu.stop()


def bot_env(emulator: Emulator, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a production process wired to the emulator."""
    return {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": emulator.url,
        "DATABASE_URL": database_url,
        "ESCALATION_CONFIG": str(EXAMPLE),
        **extra,
    }


@pytest.fixture
def running(emulator: Emulator, tmp_path: Path) -> Iterator[tuple[BotProcess, Database]]:
    """`python -m bot run` on a fresh SQLite database."""
    db = Database(f"sqlite:///{tmp_path / 'process.db'}")
    bot = BotProcess(bot_env(emulator, db.url), tmp_path).start()
    yield bot, db
    bot.stop()
    db.dispose()


def rows(db: Database) -> dict[str, int]:
    with db.uow() as uow:
        return {
            t.name: uow.session.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }


def no_traceback(bot: BotProcess) -> None:
    output = bot.output()
    assert "Traceback" not in output, output[-3000:]


def test_hostile_requests_to_the_process_get_no_500_and_leave_no_traceback(running, emulator):
    bot, _ = running
    driver = Driver(emulator, bot.url + "/slack/events", SECRET)
    templates = [
        form_template(capture(driver, lambda: driver.command(REPORTER, "/escalate", "x")).body),
        form_template(capture(driver, lambda: driver.action(REPORTER, "esc_ack", "1")).body),
    ]
    statuses: list[int] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data(), signing=st.sampled_from(["signed", "unsigned", "badly signed"]))
    def attack(data: st.DataObject, signing: str) -> None:
        body, content_type = data.draw(
            bodies(templates).filter(lambda b: b"text=x" not in b[0] and b"esc_ack" not in b[0])
        )  # not the real requests unchanged (mutated ones may still be valid, and act)
        headers = signed_headers(SECRET, body, content_type, signing, int(time.time()))
        reply = driver.send_raw(body, content_type, headers, sign=False)
        statuses.append(reply.status)
        assert reply.status < 500, (reply.status, body)
        if signing != "signed":
            assert reply.status == 401

    attack()
    for body in (b"payload={not json", b"payload=[]", b"{broken"):
        for sign in (False, True):
            reply = driver.send_raw(body, FORM, sign=sign)
            assert reply.status == (400 if sign else 401), (body, sign, reply.body)
    assert set(statuses) <= {200, 400, 401, 404}, set(statuses)
    bot.stop()  # what its listeners were still doing is in the log now
    no_traceback(bot)


def test_the_process_says_not_saved_in_time_while_its_database_is_locked(running, emulator):
    bot, db = running
    driver = Driver(emulator, bot.url + "/slack/events", SECRET)
    path = db.url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, timeout=5)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with ThreadPoolExecutor(1) as reporter:
            pending = reporter.submit(
                driver.command, REPORTER, "/escalate", "SEV2 While the database is locked"
            )
            meanwhile = []  # the event loop does not wait for the lock: it serves on
            while not pending.done() or not meanwhile:
                started = time.monotonic()
                assert bot.get("/healthz")[0] == 200
                meanwhile.append(time.monotonic() - started)
            locked = pending.result()
        assert locked.status == 200 and locked.elapsed < ANSWER_WITHIN, locked
        assert "Not saved" in locked.body and "try again" in locked.body
        assert max(meanwhile) < 0.5, meanwhile
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    reply = driver.command(REPORTER, "/escalate", "SEV2 After the lock")
    assert "Raising" in reply.body
    no_traceback(bot)
    print(f"\nSQLite locked: answered in {locked.elapsed:.2f} s")


@pytest.mark.postgres
def test_the_process_with_postgres_gone_says_not_saved_and_readyz_says_503(emulator, tmp_path):
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    with postgres_behind_proxy(PG_URL) as (db, outage):
        with db.engine.connect() as conn:
            schema = conn.exec_driver_sql("SHOW search_path").scalar()
        url = f"{db.url}?options=-csearch_path%3D{schema}"
        bot = BotProcess(bot_env(emulator, url), tmp_path).start()
        driver = Driver(emulator, bot.url + "/slack/events", SECRET)
        try:
            outage.down()
            reply = driver.command(REPORTER, "/escalate", "SEV2 While PostgreSQL is away")
            assert reply.status == 200 and reply.elapsed < ANSWER_WITHIN, reply
            assert "Not saved" in reply.body
            status, ready = bot.get("/readyz")
            assert status == 503 and ready["checks"]["database"] == "failing", ready
            assert bot.get("/healthz")[0] == 200
            print(f"\nPostgreSQL refused: answered in {reply.elapsed:.2f} s")
            outage.up()
            reply = driver.command(REPORTER, "/escalate", "SEV2 After PostgreSQL is back")
            assert "Raising" in reply.body, reply.body
            status, ready = bot.get("/readyz")
            assert ready["checks"]["database"] == "ok", ready  # (the scheduler's pass may lag)
        finally:
            outage.up()
            bot.stop()
        no_traceback(bot)


@pytest.mark.parametrize("fault", ["Slack unreachable", "token refused"])
def test_the_process_with_slack_away_answers_at_once(emulator, tmp_path, fault):
    db = Database(f"sqlite:///{tmp_path / 'away.db'}")
    extra = (
        {"SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"}
        if fault == "Slack unreachable"
        else {"SLACK_BOT_TOKEN": "xoxb-refused-by-slack"}
    )
    started = time.perf_counter()
    bot = BotProcess(bot_env(emulator, db.url, **extra), tmp_path).start()
    came_up = time.perf_counter() - started
    driver = Driver(emulator, bot.url + "/slack/events", SECRET)
    try:
        before = len(emulator.responses)
        oncall = driver.command(REPORTER, "/oncall", "")
        assert oncall.status == 200 and oncall.elapsed < ANSWER_WITHIN, oncall
        reply = driver.command(REPORTER, "/escalate", "SEV3 Raised while Slack is away")
        assert reply.status == 200 and "Raising" in reply.body and reply.elapsed < ANSWER_WITHIN
        status, ready = bot.get("/readyz")
        assert status == 503 and ready["checks"]["slack_token"] == "failing", ready
        assert ready["checks"]["database"] == "ok"
        assert bot.get("/healthz")[0] == 200
        assert rows(db)["outbox"] >= 1  # accepted: saved before the answer said so
    finally:
        bot.stop()
        db.dispose()
    output = bot.output()
    no_traceback(bot)
    if fault == "token refused":
        assert output.count("SLACK_BOT_TOKEN was refused by Slack (invalid_auth)") == 1
        told = [json.dumps(r["payload"]) for r in emulator.responses[before:]]
        assert told, "the invoker was answered"
    print(
        f"\n{fault}: up in {came_up:.2f} s, /oncall answered in {oncall.elapsed:.2f} s, "
        f"/escalate in {reply.elapsed:.2f} s"
    )
