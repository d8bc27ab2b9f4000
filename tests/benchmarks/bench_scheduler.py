"""Benchmark of the scheduler with 10,000 open escalations and 100 rotations.

Run: python tests/benchmarks/bench_scheduler.py [--escalations N] [--rotations N]
     [--database-url URL] [--lag-seconds S]

Everything runs in this process against the Slack emulator over HTTP, on SQLite (a temporary
file) unless --database-url names a PostgreSQL database (a temporary schema is used). Prints:
(1) the first pass after start, cold (a new engine, nothing cached), over a backlog: the pages
missed by a bot that was down while they fell due; (2) reconcile passes in steady state, p50
and p99; (3) the hourly pass over the whole lookback; (4) a restart's recovery pass after
two minutes down, cold again; (5) the lag from each ping's due moment to its message reaching
the emulator, with the scheduler running on the wall clock (APScheduler date jobs and the
outbox pool). Cold means a new process's state;
the operating system's file cache stays warm.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.app import build_services  # noqa: E402
from bot.clock import FakeClock, system_clock  # noqa: E402
from bot.config import TeamConfig  # noqa: E402
from bot.kinds import CARD_EVENT  # noqa: E402
from bot.pings import plan as pings  # noqa: E402
from bot.sandbox.emulator import Emulator  # noqa: E402
from bot.sandbox.seed import ZONES  # noqa: E402
from bot.settings import Settings  # noqa: E402
from schedules.scheduler import LOOK_BACK_EVERY, RECONCILE_MARGIN, Scheduler  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    Escalation,
    OutboxItem,
    Participant,
    SentNotification,
    TimelineEvent,
)
from tests.benchmarks.stats import pct  # noqa: E402
from tests.support.databases import pg_schema_database  # noqa: E402

TEAM = ["U0LEAD0001", "U0ANA00001", "U0BEN00001", "U0CHI00001"]
PEOPLE = [f"U0P{n:07d}" for n in range(300)]
SEVERITIES = [
    {"id": "SEV1", "ack_within": "5m", "update_every": "30m"},
    {"id": "SEV2", "ack_within": "15m", "update_every": "2h"},
    {"id": "SEV3", "ack_within": "1h", "update_every": "8h"},
    {"id": "SEV4", "ack_within": "8h", "update_every": "24h"},
]
TARGETS = {
    "first pass after start": "<= 1 s",
    "first pass after start, warm": "<= 1 s",
    "reconcile pass": "p99 <= 200 ms",
    "pass at a due moment": "(within the lag)",
    "hourly look-back pass": "(off the request path)",
    "restart recovery": "<= 1 s",
    "lag p99": "< 1 s",
    "lag, slowest recipient": "(Slack takes about one message a second to one person)",
}


def team_config(rotations: int, rng: random.Random) -> TeamConfig:
    """A team with `rotations` rotations around the world; two are the paging policy's."""
    zones = [*ZONES, "UTC", "Pacific/Auckland"]
    rots: dict[str, Any] = {}
    for n in range(rotations):
        members = rng.sample(PEOPLE, rng.randint(2, 6))
        shift = rng.choice(["8h", "12h", "1d", "1w"])
        layers: list[dict[str, Any]] = [
            {"members": members, "start": "2026-01-05 09:00", "shift": shift}
        ]
        if n % 3 == 0:  # a weekend layer on top, as in the example
            layers.append(
                {
                    "members": rng.sample(PEOPLE, 2),
                    "start": "2026-01-03 09:00",
                    "shift": "1w",
                    "restrict": {"days": ["sat", "sun"], "from": "00:00", "to": "00:00"},
                }
            )
        if n % 10 == 9:  # business hours only: nightly coverage gaps
            layers = [
                {
                    "members": members,
                    "start": "2026-01-05 08:00",
                    "shift": "1d",
                    "restrict": {
                        "days": ["mon", "tue", "wed", "thu", "fri"],
                        "from": "08:00",
                        "to": "18:00",
                    },
                }
            ]
        name = "primary" if n == 0 else "secondary" if n == 1 else f"r{n:03d}"
        rots[name] = {"timezone": zones[n % len(zones)], "layers": layers}
    return TeamConfig.model_validate(
        {
            "team": {
                "name": "Bench",
                "timezone": "UTC",
                "channel": "C0TEAM0001",
                "feed_channel": "C0FEED0001",
                "members": TEAM,
                "remind_before": "15m",
                "signoff_remind_every": "30m",
            },
            "severities": SEVERITIES,
            "default_severity": "SEV3",
            "escalation_policy": {
                "steps": [
                    {"notify": ["rotation:primary"]},
                    {"notify": ["rotation:secondary"]},
                    {"notify": ["group:leads"]},
                ],
                "repeat": 1,
            },
            "rotations": rots,
            "stakeholders": {"leads": {"name": "Leads", "members": ["U0LEAD0001"]}},
            "categories": ["content", "ads", "other"],
        }
    )


def open_database(url: str | None) -> tuple[Database, Any, Any]:
    """Return an upgraded empty database, a function that drops it, and one that opens it
    again on a new engine (as a process starting would)."""
    opened: list[Database] = []
    if not url:
        tmp = tempfile.mkdtemp()
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.upgrade()

        def reopen() -> Database:
            opened.append(Database(db.url))
            return opened[-1]

        def drop() -> None:
            for other in opened:
                other.dispose()
            db.dispose()

        return db, drop, reopen
    db, drop_schema = pg_schema_database(url, prefix="bench")
    db.upgrade()
    with db.engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()

    def reopen_pg() -> Database:
        opened.append(Database(db.url, connect_args={"options": f"-csearch_path={schema}"}))
        return opened[-1]

    def drop_pg() -> None:
        for other in opened:
            other.dispose()
        drop_schema()

    return db, drop_pg, reopen_pg


def populate(db: Database, emulator: Emulator, count: int, now: datetime, rng: random.Random):
    """Insert `count` open escalations raised over the last three days, as a running bot
    would have left them: the latest update reminder of each in the ledger.

    A tenth are still unacknowledged (so paging); the rest acknowledged. Each has a channel.
    Most went without a status update for a while, so reminders fall due all the time.
    """
    rows = []
    ledger = []
    for n in range(1, count + 1):
        severity = SEVERITIES[n % 4]
        ack = _minutes(severity["ack_within"])
        every = _minutes(severity["update_every"])
        created = now - timedelta(minutes=rng.uniform(ack * 7, 3 * 24 * 60))
        unacked = n % 10 == 0
        updated = created + (now - created) * rng.random()
        channel = f"C1{n:08d}"
        emulator.add_channel(channel, f"esc-{n}", members=["U0ANA00001"])
        rows.append(
            {
                "id": n,
                "title": f"Escalation {n}",
                "description": "",
                "category": "content",
                "policy_area": "other",
                "severity": severity["id"],
                "region": "global",
                "surfaces": [],
                "links": [],
                "reporter": "U0ANA00001",
                "owner": rng.choice(PEOPLE),
                "status": "open" if unacked else "acknowledged",
                "restricted": n % 50 == 0,
                "graphic": False,
                "card_pinned": True,
                "channel_id": channel,
                "staffed_at": created,
                "created_at": created,
                "ack_deadline": created + timedelta(minutes=ack),
                "acknowledged_at": None if unacked else created + timedelta(minutes=ack / 2),
                "last_update_at": updated,
            }
        )
        base = pings.seconds(updated)
        age = pings.seconds(now) - base
        every_s = int(every * 60)
        if age >= every_s:
            latest = pings.seconds(now) - age % every_s
            ledger.append(
                {
                    "key": f"update_reminder:{n}:{pings.stamp(latest)}",
                    "kind": "update_reminder",
                    "due_at": pings.instant(latest),
                    "status": "sent",
                    "recorded_at": pings.instant(latest),
                }
            )
    with db.engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(Escalation), rows[start : start + 1000])
        for start in range(0, len(ledger), 1000):
            conn.execute(insert(SentNotification), ledger[start : start + 1000])
        conn.execute(
            text("INSERT INTO counters (name, value) VALUES ('escalation', :n)"), {"n": count}
        )


def _minutes(duration: str) -> float:
    return {"m": 1, "h": 60}[duration[-1]] * float(duration[:-1])


TABLES = (SentNotification, OutboxItem, Participant, TimelineEvent)


def _marks(db: Database) -> dict[Any, int]:
    """Return the highest id of each table a first pass writes to."""
    with db.engine.connect() as conn:
        return {
            t: conn.execute(select(func.coalesce(func.max(t.id), 0))).scalar_one() for t in TABLES
        }


def _undo(db: Database, marks: dict[Any, int]) -> None:
    """Delete the rows written since `marks`."""
    with db.engine.begin() as conn:
        for table, mark in marks.items():
            conn.execute(delete(table).where(table.id > mark))


def settle_outbox(db: Database) -> int:
    """Mark every staged ping as sent (what a long-running bot would have done)."""
    with db.engine.begin() as conn:
        result = conn.execute(
            update(OutboxItem).where(OutboxItem.status == "pending").values(status="done")
        )
        return int(result.rowcount)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print figures and targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--escalations", "--open", type=int, default=10_000)
    parser.add_argument("--rotations", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    rng = random.Random(7)

    emulator = Emulator(rate_limits=False)
    emulator.start()
    for i, user in enumerate([*TEAM, *PEOPLE]):
        emulator.add_user(user, user.lower(), tz=ZONES[i % len(ZONES)])
    emulator.add_channel("C0TEAM0001", "escalations-team", members=TEAM)
    emulator.add_channel("C0FEED0001", "escalations-feed", members=TEAM)
    config = team_config(args.rotations, rng)
    db, drop, reopen = open_database(args.database_url)
    backend = db.engine.dialect.name
    settings = Settings(
        slack_bot_token=emulator.bot_token,
        slack_signing_secret="s",
        slack_api_url=emulator.url,
        database_url=db.url,
        _env_file=None,
    )  # type: ignore[call-arg]
    results: dict[str, str] = {}
    try:
        # ---------------------------------------------------------------- steady state
        start = system_clock()
        clock = FakeClock(start)
        populate(db, emulator, args.escalations, start, rng)
        svc = build_services(settings, config, clock=clock, db=reopen())
        marks = _marks(db)
        scheduler = Scheduler(svc)
        t = time.perf_counter()
        first = scheduler.run_due(submit=False)  # what start does: Known.load, a full pass
        cold = time.perf_counter() - t
        # The same first pass again in this process (engine, statements and caches warm):
        # what it wrote is taken back, and a new scheduler starts over the same backlog.
        _undo(db, marks)
        t = time.perf_counter()
        Scheduler(svc).run_due(submit=False)
        warm = time.perf_counter() - t
        staged = settle_outbox(db)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(
            f"{backend}: {args.escalations} open escalations, {args.rotations} rotations, "
            f"{len(first.sent) + len(first.skipped)} pings missed while down"
        )
        results["first pass after start"] = (
            f"{cold * 1000:.0f} ms, cold ({len(first.sent)} sent, {len(first.skipped)} "
            f"skipped, {staged} outbox items)"
        )
        results["first pass after start, warm"] = f"{warm * 1000:.0f} ms (the same backlog)"
        full: list[float] = []
        quick: list[float] = []
        for n in range(200):
            clock.advance(timedelta(seconds=1))
            tick = scheduler.run_due(submit=False, full=n % 2 == 0)
            (full if n % 2 == 0 else quick).append(tick.seconds)
            settle_outbox(db)
        results["reconcile pass"] = (
            f"p50 {pct(full, 50) * 1000:.0f} ms, p99 {pct(full, 99) * 1000:.0f} ms, "
            f"max {max(full) * 1000:.0f} ms (the periodic one, since the previous one and "
            f"{RECONCILE_MARGIN.seconds // 60} min before; {len(full)} passes)"
        )
        results["pass at a due moment"] = (
            f"p50 {pct(quick, 50) * 1000:.0f} ms, p99 {pct(quick, 99) * 1000:.0f} ms "
            "(reminders due since the last pass)"
        )
        deep: list[float] = []
        for _ in range(3):  # the periodic pass that looks over the whole lookback, hourly
            clock.advance(LOOK_BACK_EVERY)
            deep.append(scheduler.run_due(submit=False, full=True).seconds)
            settle_outbox(db)
        results["hourly look-back pass"] = (
            f"{statistics.median(deep) * 1000:.0f} ms median of {len(deep)} "
            "(the periodic pass over the whole lookback, once an hour)"
        )

        # ---------------------------------------------------------------- restart
        clock.advance(timedelta(minutes=2))  # down for two minutes: some pings were missed
        restarted = Scheduler(build_services(settings, config, clock=clock, db=reopen()))
        t = time.perf_counter()
        tick = restarted.run_due(submit=False)
        recovery = time.perf_counter() - t
        results["restart recovery"] = (
            f"{recovery * 1000:.0f} ms, cold ({len(tick.sent)} missed sent, "
            f"{len(tick.skipped)} stale skipped, {len(tick.taken)} already in the ledger)"
        )
        settle_outbox(db)
        restarted.svc.outbox.pool.shutdown()

        # ---------------------------------------------------------------- lag, wall clock
        # From here the service clock runs at wall speed, continuing from where it was.
        offset = system_clock() - clock()

        def live_clock() -> datetime:
            return system_clock() - offset

        live = build_services(settings, config, clock=live_clock, db=db)
        timer = Scheduler(live)
        timer.recover(submit=False)
        settle_outbox(db)
        soon = live_clock() + timedelta(seconds=2)
        # Unacknowledge 200 escalations so that their second page falls due over the next
        # seconds, spread evenly: each is a due moment the date jobs must hit.
        with db.engine.begin() as conn:
            ids = list(
                conn.execute(
                    select(Escalation.id)
                    .where(Escalation.status == "acknowledged", Escalation.severity == "SEV1")
                    .limit(200)
                ).scalars()
            )
            for i, number in enumerate(ids):
                due = soon + timedelta(seconds=args.lag_seconds * i / len(ids))
                conn.execute(
                    update(Escalation)
                    .where(Escalation.id == number)
                    .values(
                        status="open",
                        acknowledged_at=None,
                        created_at=due - timedelta(minutes=5),
                        ack_deadline=due,
                        last_update_at=due - timedelta(minutes=5),
                    )
                )
                conn.execute(
                    insert(SentNotification),
                    {
                        "key": f"page:{number}:0:0",
                        "kind": "page",
                        "due_at": due - timedelta(minutes=5),
                        "status": "sent",
                        "recorded_at": due - timedelta(minutes=5),
                    },
                )
        before = len(emulator.calls)
        live.outbox.start()
        timer.start(watch=False)
        deadline = time.monotonic() + args.lag_seconds + 30
        expected = {f"page:{n}:0:1" for n in ids}
        seen: dict[str, float] = {}
        while time.monotonic() < deadline and not expected <= set(seen):
            time.sleep(0.2)
            for call in emulator.calls[before:]:
                for key in _keys(call) if call.ok else ():
                    seen.setdefault(key, call.at)
        timer.shutdown()
        live.outbox.stop()
        with db.uow() as uow:
            due_at = dict(
                uow.session.execute(
                    select(SentNotification.key, SentNotification.due_at).where(
                        SentNotification.status == "sent"
                    )
                ).all()
            )
        lags = []
        late: dict[str, list[float]] = {}  # by whom the message went to
        for key, at in seen.items():
            base = key.split(":dm:")[0].removesuffix(":brief")
            if base in due_at and due_at[base] >= soon - timedelta(seconds=1):
                lags.append(at - (due_at[base] + offset).timestamp())
                late.setdefault(key.partition(":dm:")[2] or "channel", []).append(lags[-1])
        # The pages fall due ten a second, many of them to one person, whose DMs Slack takes
        # at about one a second (the outbox combines those that queue): name the slowest.
        slowest = max(late.items(), key=lambda kv: max(kv[1]), default=None)
        missing = len(expected - set(seen))
        figures = (
            f"p50 {pct(lags, 50) * 1000:.0f} ms, p99 {pct(lags, 99) * 1000:.0f} ms "
            if lags
            else "no message timed "
        )
        results["lag p99"] = (
            figures
            + f"over {len(lags)} messages"
            + (f" ({missing} pages missing!)" if missing else "")
        )
        if slowest is not None:
            whom, theirs = slowest
            results["lag, slowest recipient"] = (
                f"{whom}: max {max(theirs) * 1000:.0f} ms over {len(theirs)} messages to them"
            )
    finally:
        drop()
        emulator.stop()

    width = max(len(k) for k in results)
    for name, figure in results.items():
        print(f"  {name:<{width}}  {figure:<70} target {TARGETS[name]}")
    return 0


def _keys(call: Any) -> list[str]:
    """Return the ledger keys a message is tagged with (a combined page DM carries several)."""
    if call.method != "chat.postMessage":
        return []
    meta = call.args.get("metadata")
    if isinstance(meta, str):
        import json

        meta = json.loads(meta)
    if not isinstance(meta, dict) or meta.get("event_type") != CARD_EVENT:
        return []
    payload = meta.get("event_payload") or {}
    return [str(k) for k in payload.get("keys") or [payload.get("key")] if k]


if __name__ == "__main__":
    sys.exit(main())
