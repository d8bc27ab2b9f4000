"""The scheduler on a real database: claims, restarts, missed pings, two processes at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import kinds
from bot.app import build_services
from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.parsing.escalate import parse_escalate
from bot.pings import plan as pings
from bot.pings import stage
from bot.rotations import OnCall
from bot.sandbox.emulator import Emulator
from bot.sandbox.seed import seed
from bot.services import Services
from bot.settings import Settings
from bot.text import local_when
from bot.usecases.escalations import raise_escalation
from schedules import rotation as engine
from schedules.scheduler import Scheduler
from storage.db import Database
from storage.models import Escalation, OutboxItem, SentNotification, Signoff

T0 = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)


def test_claim_many_wins_each_key_once(db: Database):
    rows = [(f"page:{n}:0:0", "page", T0, "sent") for n in range(1500)]
    with db.uow() as uow:
        assert uow.repos.ledger.claim_many(rows[:10], T0) == {r[0] for r in rows[:10]}
        uow.commit()
    with db.uow() as uow:
        won = uow.repos.ledger.claim_many(rows, T0)  # crosses a batch boundary
        uow.commit()
    assert won == {r[0] for r in rows[10:]}
    with db.uow() as uow:
        assert len(uow.repos.ledger.keys("page:")) == 1500
        assert uow.repos.ledger.recent(["page"], T0) and not uow.repos.ledger.recent(
            ["page"], T0 + timedelta(seconds=1)
        )
        uow.repos.ledger.set_status("page:1:0:0", "skipped")
        uow.commit()


def test_concurrent_claims_split_the_keys(db: Database):
    keys = [f"handoff:r{n}:20260304T170000Z" for n in range(300)]
    results: list[set[str]] = []
    barrier = threading.Barrier(4)

    def claim(offset: int) -> None:
        other = second_database(db)
        try:
            barrier.wait()
            # each claimer sees the keys in its own order; the repository sorts them
            mine = keys[offset:] + keys[:offset]
            with other.uow() as uow:
                won = uow.repos.ledger.claim_many([(k, "handoff", T0, "sent") for k in mine], T0)
                uow.commit()
            results.append(won)
        finally:
            other.dispose()

    threads = [threading.Thread(target=claim, args=(i * 70,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 4
    assert sum(len(r) for r in results) == len(keys)
    assert set().union(*results) == set(keys)


def second_database(db: Database) -> Database:
    """Open another engine on the same database (and schema), as another process would."""
    if db.is_sqlite:
        return Database(db.url)
    with db.engine.connect() as conn:
        schema = conn.exec_driver_sql("SHOW search_path").scalar()
    return Database(db.url, connect_args={"options": f"-csearch_path={schema}"})


# -- a workspace and bot processes on one database --------------------------------------------


@pytest.fixture
def emulator(config: TeamConfig) -> Iterator[Emulator]:
    """An emulated workspace seeded from the example config, rate limits off."""
    emu = Emulator(rate_limits=False)
    emu.start()
    seed(emu, config)
    yield emu
    emu.stop()


@dataclass
class Node:
    """One bot process: its own engine, services, clock and scheduler."""

    svc: Services
    scheduler: Scheduler
    clock: FakeClock

    def pages(self, now: datetime) -> list[str]:
        """Tick and return the pages sent."""
        return [k for k in self.tick(now).sent if k.startswith("page:")]

    def tick(self, now: datetime) -> stage.Claimed:
        """Move this process's clock to `now`, run a pass and send what it claimed."""
        self.clock.set(now)
        tick = self.scheduler.run_due(now)
        self.svc.wait_idle()  # the outbox sends in its pool, as it does in production
        return stage.Claimed(tick.sent, tick.skipped, tick.empty, tick.taken, tick.outbox)

    def close(self) -> None:
        self.svc.outbox.pool.shutdown()
        self.svc.db.dispose()


def node(db: Database, config: TeamConfig, emulator: Emulator, now: datetime) -> Node:
    settings = Settings(
        slack_bot_token=emulator.bot_token,
        slack_signing_secret="s",
        slack_api_url=emulator.url,
        database_url=db.url,
        _env_file=None,
    )  # type: ignore[call-arg]
    clock = FakeClock(now)
    svc = build_services(settings, config, clock=clock, db=db)
    return Node(svc, Scheduler(svc), clock)


def raise_and_staff(n: Node, text: str) -> int:
    """Raise an escalation through the use case and staff its channel in the emulator."""
    raised = raise_escalation(n.svc, parse_escalate(text, n.svc.config), "U0ANA00001")
    assert n.svc.outbox.run_key(raised.outbox_key)
    return raised.number


def ledger(db: Database, prefix: str = "") -> dict[str, str]:
    with db.uow() as uow:
        rows = uow.session.scalars(
            select(SentNotification).where(SentNotification.key.startswith(prefix))
        )
        return {r.key: r.status for r in rows}


def tagged(emulator: Emulator) -> list[str]:
    """Return the ping key each successful chat.postMessage carried, in order (no cards)."""
    keys = []
    for call in emulator.calls_of("chat.postMessage"):
        meta = call.args.get("metadata")
        if isinstance(meta, str):
            import json

            meta = json.loads(meta)
        key = ((meta or {}).get("event_payload") or {}).get("key")
        if call.ok and key and key.split(":", 1)[0] in kinds.KINDS:
            keys.append(key)
    return keys


def dms(emulator: Emulator, user: str, containing: str = "") -> list[str]:
    return [
        c.args["text"]
        for c in emulator.calls_of("chat.postMessage")
        if c.ok and c.args.get("channel") == user and containing in c.args["text"]
    ]


def acknowledge(db: Database, number: int, at: datetime, by: str = "U0BEN00001") -> None:
    with db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        assert esc is not None
        esc.status, esc.acknowledged_at, esc.acknowledged_by = "acknowledged", at, by
        uow.commit()


def test_paging_walks_the_policy_and_acknowledgement_stops_it(db, config, emulator):
    a = node(db, config, emulator, T0)
    try:
        number = raise_and_staff(a, "SEV1 #election Vote buying")
        channel = _channel(db, number)
        assert a.pages(T0) == ["page:1:0:0"]
        # primary (Ben at 17:00 UTC) is DM'd; the card mentioned him in the channel
        assert len(dms(emulator, "U0BEN00001", "paged")) == 1
        assert sum("you are paged" in m["text"] for m in emulator.messages(channel)) == 0
        assert "Paging <@U0BEN00001>" in str(emulator.messages(channel)[0])
        assert a.pages(T0 + timedelta(minutes=4, seconds=59)) == []
        assert a.pages(T0 + timedelta(minutes=5)) == ["page:1:0:1"]
        assert "step 2" in dms(emulator, "U0EVE00001", "paged")[-1]  # secondary, Europe/Dublin
        acknowledge(db, number, T0 + timedelta(minutes=7))
        for minutes in (10, 15, 20, 30, 120):
            assert a.pages(T0 + timedelta(minutes=minutes)) == []
        assert set(ledger(db, "page:")) == {"page:1:0:0", "page:1:0:1"}
        with db.uow() as uow:
            events = [e.kind for e in uow.repos.escalations.timeline(number)]
        assert events.count("paged") == 2
    finally:
        a.close()


def test_pages_repeat_round_and_stop_after_the_last(db, config, emulator):
    a = node(db, config, emulator, T0)
    try:
        raise_and_staff(a, "SEV1 #election Vote buying")
        sent = []
        for minutes in range(0, 60, 5):
            sent += a.tick(T0 + timedelta(minutes=minutes)).sent
        pages = [k for k in sent if k.startswith("page:")]
        assert pages == [
            "page:1:0:0",
            "page:1:0:1",
            "page:1:0:2",
            "page:1:1:0",  # repeat: 1 → once more from the first step
            "page:1:1:1",
            "page:1:1:2",
        ]
        assert len(dms(emulator, "U0LEAD0001", "paged")) == 2  # group:leads, once per round
    finally:
        a.close()


def test_acknowledged_between_claim_and_send_sends_nothing(db, config, emulator):
    a = node(db, config, emulator, T0)
    try:
        number = raise_and_staff(a, "SEV1 #election Vote buying")
        a.tick(T0)
        before = len(emulator.calls_of("chat.postMessage"))
        a.clock.set(T0 + timedelta(minutes=5))
        tick = a.scheduler.run_due(T0 + timedelta(minutes=5), submit=False)
        assert tick.sent == ["page:1:0:1"]
        acknowledge(db, number, T0 + timedelta(minutes=5, seconds=1))
        for key in tick.outbox:
            assert a.svc.outbox.run_key(key)  # done: nothing left to send
        assert len(emulator.calls_of("chat.postMessage")) == before
    finally:
        a.close()


def test_restart_between_claim_and_send_delivers_once(db, config, emulator):
    a = node(db, config, emulator, T0)
    number = raise_and_staff(a, "SEV1 #election Vote buying")
    tick = a.scheduler.run_due(T0, submit=False)  # claimed and staged ...
    assert "page:1:0:0" in tick.sent
    a.close()  # ... and the process dies before sending
    assert tagged(emulator) == []

    b = node(second_database(db), config, emulator, T0 + timedelta(seconds=30))
    try:
        again = b.scheduler.recover(T0 + timedelta(seconds=30), submit=False)
        assert again.sent == [] and "page:1:0:0" in b.scheduler.known.claimed  # from the ledger
        assert b.svc.outbox.run_due() == len(tick.outbox)  # everything staged, from the outbox
        assert b.svc.outbox.run_due() == 0
        b.tick(T0 + timedelta(minutes=1))
        pages = sorted(k for k in tagged(emulator) if k.startswith("page:"))
        assert pages == ["page:1:0:0:dm:U0BEN00001"]  # the channel mention is the card's
        assert len(tagged(emulator)) == len(set(tagged(emulator))) == len(tick.outbox) - 1
        assert len(dms(emulator, "U0BEN00001", "paged")) == 1
        channel = _channel(db, number)
        assert sum("you are paged" in m["text"] for m in emulator.messages(channel)) == 0
    finally:
        b.close()


def test_every_step_missed_while_down_is_sent_once_on_start(db, config, emulator):
    a = node(db, config, emulator, T0)
    raise_and_staff(a, "SEV1 #election Vote buying")
    a.tick(T0)
    a.close()
    # Down from 17:00 to 17:12: steps 2 (17:05) and 3 (17:10) fell due; unacknowledged.
    # Steps add up: the secondary on-call must learn of it as well as the leads.
    b = node(second_database(db), config, emulator, T0 + timedelta(minutes=12))
    try:
        tick = b.scheduler.recover()  # as on start: what it claims goes to the outbox at once
        assert sorted(tick.sent) == ["page:1:0:1", "page:1:0:2"] and tick.skipped == []
        b.svc.wait_idle()
        assert ledger(db, "page:") == {
            "page:1:0:0": "sent",
            "page:1:0:1": "sent",
            "page:1:0:2": "sent",
        }
        assert len(dms(emulator, "U0EVE00001", "paged")) == 1  # secondary (Dublin), step 2
        assert len(dms(emulator, "U0LEAD0001", "paged")) == 1  # leads, step 3
        # a second restart sends nothing more
        assert b.scheduler.recover().sent == []
        # a day later, still unacknowledged, the second round goes out: pages never go stale
        b.clock.set(T0 + timedelta(days=1))
        tick = b.scheduler.recover()
        pages = sorted(k for k in tick.sent if k.startswith("page:"))
        assert pages == ["page:1:1:0", "page:1:1:1", "page:1:1:2"]
    finally:
        b.close()


def test_commit_of_a_new_escalation_pokes_a_pass(db, config, emulator):
    a = node(db, config, emulator, T0)
    a.scheduler.watch()
    try:
        raised = raise_escalation(
            a.svc, parse_escalate("SEV2 #ads Fake shop", config), "U0ANA00001"
        )
        a.svc.outbox.submit(raised.outbox_key)
        a.svc.wait_idle()
        assert "page:1:0:0" in ledger(db, "page:")
        # the page's DM waits for the channel, and is retried a moment later; its mention in
        # the channel is the card's
        a.clock.advance(timedelta(seconds=2))
        a.svc.outbox.run_due()
        a.svc.wait_idle()
        channel = _channel(db, raised.number)
        messages = emulator.messages(channel)
        assert messages[0]["text"].startswith("ESC-1") and "Paging <@" in str(messages[0])
        assert any("You are paged" in t for t in dms(emulator, "U0BEN00001"))
    finally:
        a.scheduler.unwatch()
        a.close()


def test_shift_start_reminder_in_the_incoming_persons_time_zone(db, config, emulator):
    a = node(db, config, emulator, T0)
    try:
        raise_and_staff(a, "SEV2 #ads Fake shop")  # owned by Ben, on call since 17:00 UTC
        a.tick(T0)
        # Chi takes primary on Thursday 09:00 PST (17:00 UTC); reminded 15 minutes before.
        a.tick(datetime(2026, 3, 5, 16, 44, tzinfo=UTC))
        assert not any("on-call shift" in t for t in dms(emulator, "U0CHI00001"))
        claimed = a.tick(datetime(2026, 3, 5, 16, 45, tzinfo=UTC))
        assert "shift_start:primary:U0CHI00001:20260305T170000Z" in claimed.sent
        [reminder] = [t for t in dms(emulator, "U0CHI00001") if "on-call shift" in t]
        # Chi is seeded in America/New_York
        assert "Thu 5 Mar 12:00 EST" in reminder and "Fri 6 Mar 12:00 EST" in reminder
        assert "ESC-1" in reminder and "Fake shop" in reminder  # inherited from Ben
        claimed = a.tick(datetime(2026, 3, 5, 17, 0, tzinfo=UTC))
        assert "handoff:primary:20260305T170000Z" in claimed.sent
        team = [m["text"] for m in emulator.messages(config.team.channel)]
        assert ":arrows_counterclockwise: `primary`: <@U0BEN00001> → <@U0CHI00001>" in team
        brief = [
            c.args
            for c in emulator.calls_of("chat.postMessage")
            if c.args.get("channel") == "U0CHI00001" and "on call for" in c.args["text"]
        ]
        assert len(brief) == 1
        buttons = [b["accessory"] for b in _blocks(brief[0]) if b.get("accessory")]
        assert [(b["action_id"], b["value"]) for b in buttons] == [("esc_take_ownership", "1")]
    finally:
        a.close()


def test_gap_warning_and_digest_at_nine_team_time(db, config, emulator):
    cfg = _with_night_rotation(config)
    a = node(db, cfg, emulator, T0)
    try:
        raise_and_staff(a, "SEV1 #election Vote buying")
        number = raise_and_staff(a, "SEV2 #content Graphic thing")
        with db.uow() as uow:
            restricted = uow.repos.escalations.get(number)
            restricted.restricted = True
            restricted.title = "Secret matter"
            uow.commit()
        acknowledge(db, 1, T0 + timedelta(minutes=9))  # after its 5-minute SLA
        monday = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
        a.tick(monday - timedelta(minutes=1))
        claimed = a.tick(monday)
        assert {"gaps:2026-03-09", "digest:2026-W11"} <= set(claimed.sent)
        team = [m for m in emulator.messages(cfg.team.channel)]
        [gaps] = [m["text"] for m in team if "Coverage gaps" in m["text"]]
        assert "`night`: Mon 9 Mar 20:00 +08 → Tue 10 Mar 08:00 +08" not in gaps  # team tz: UTC
        assert "`night`: Mon 9 Mar 12:00 UTC → Tue 10 Mar 00:00 UTC (12h)" in gaps
        [digest] = [m for m in team if "Weekly digest" in m["text"]]
        body = str(digest["blocks"])
        assert "2 escalation(s) raised (1 restricted)" in digest["text"]
        assert "SEV1 1, SEV2 1" in body and "*SLA breaches:* 2" in body
        assert "Vote buying" in body and "Secret" not in body
        assert "1 restricted escalation(s)" in body
        # the next day's check and next week's digest are new pings; today's are not repeated
        later = a.tick(monday + timedelta(hours=1)).sent
        assert not [k for k in later if k.startswith(("gaps:", "digest:"))]
    finally:
        a.close()


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    import json

    value = args.get("blocks") or []
    return json.loads(value) if isinstance(value, str) else value


def _channel(db: Database, number: int) -> str:
    with db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        assert esc is not None and esc.channel_id
        return esc.channel_id


def _with_night_rotation(config: TeamConfig, **extra: Any) -> TeamConfig:
    """The example plus `night`, covered only 08:00-20:00 Singapore time on weekdays."""
    night = {
        "timezone": "Asia/Singapore",
        "layers": [
            {
                "members": ["U0LEAD0001", "U0ANA00001"],
                "start": "2026-01-05 08:00",
                "shift": "12h",
                "restrict": {
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "from": "08:00",
                    "to": "20:00",
                },
            }
        ],
    }
    data = config.model_dump(by_alias=True)
    data["rotations"]["night"] = night
    data.update(extra)
    return TeamConfig.model_validate(data)


# -- two processes over a simulated day -------------------------------------------------------

DAY = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)  # a Monday: the digest and a gap check fall in it
STEP = timedelta(minutes=5)


@dataclass
class Plan:
    """What happens to one escalation during the day (all on the 5-minute grid)."""

    number: int
    severity: str
    created: datetime
    acked: datetime | None
    resolved: datetime | None
    signoff_at: datetime | None
    answered: datetime | None


def day_plan(config: TeamConfig) -> list[Plan]:
    plans = []
    for n in range(1, 51):
        created = DAY + timedelta(minutes=25 * n)
        acked = created + timedelta(minutes=10) if n % 3 == 0 else None
        resolved = created + timedelta(hours=3) if n % 5 == 0 else None
        signoff = created + timedelta(minutes=5) if n <= 8 else None
        answered = signoff + timedelta(hours=1) if signoff and n % 2 == 0 else None
        severity = config.severity_ids[n % 4]
        plans.append(Plan(n, severity, created, acked, resolved, signoff, answered))
    return plans


def expected_pings(config: TeamConfig, plans: list[Plan], end: datetime) -> set[str]:
    """Work out independently every ping due in (DAY, end]: the oracle."""
    out: set[str] = set()
    steps = len(config.escalation_policy.steps)
    total = steps * (config.escalation_policy.repeat + 1)
    for p in plans:
        severity = config.severity(p.severity)
        stop = min(t for t in (p.acked, p.resolved, end + STEP) if t is not None)
        for i in range(total):
            if p.created + severity.ack_within * i < stop:
                out.add(f"page:{p.number}:{i // steps}:{i % steps}")
        until = min(t for t in (p.resolved, end + STEP) if t is not None)
        at = p.created + severity.update_every
        while at < until:
            out.add(f"update_reminder:{p.number}:{pings.stamp(at)}")
            if config.required_roles(p.severity):  # nobody is given a role in the plan
                out.add(f"role_reminder:{p.number}:{pings.stamp(at)}")
            at += severity.update_every
        if p.signoff_at:
            until = min(t for t in (p.answered, p.resolved, end + STEP) if t is not None)
            at = p.signoff_at + config.team.signoff_remind_every
            while at < until:
                out.add(f"signoff_reminder:{p.number}:{pings.stamp(at)}")
                at += config.team.signoff_remind_every
    for rid, rot in OnCall(config).rotations.items():
        timeline = engine.timeline(rot, DAY - timedelta(days=2), end + timedelta(days=2))
        for seg in timeline[1:]:
            if seg.user is None:
                continue
            if DAY < seg.start <= end:
                out.add(f"handoff:{rid}:{pings.stamp(seg.start)}")
            if DAY < seg.start - config.team.remind_before <= end:
                out.add(f"shift_start:{rid}:{seg.user}:{pings.stamp(seg.start)}")
    out |= {"gaps:2026-03-09", "digest:2026-W11"}
    return out


def apply_changes(
    db: Database, emulator: Emulator, config: TeamConfig, plans: list[Plan], now: datetime
) -> None:
    """Create, acknowledge, resolve, ask and answer sign-offs as the plan says, at `now`."""
    with db.uow() as uow:
        for p in plans:
            if p.created == now:
                channel = f"C0ESC{p.number:05d}"
                emulator.add_channel(channel, f"esc-{p.number}", members=["U0ANA00001"])
                severity = config.severity(p.severity)
                uow.repos.escalations.add(
                    Escalation(
                        title=f"Drill {p.number}",
                        category="content",
                        policy_area="other",
                        severity=p.severity,
                        region="global",
                        reporter="U0ANA00001",
                        owner="U0ANA00001",
                        status="open",
                        channel_id=channel,
                        staffed_at=now,
                        created_at=now,
                        ack_deadline=now + severity.ack_within,
                    )
                )
            if p.signoff_at == now:
                uow.session.add(
                    Signoff(
                        escalation_id=p.number,
                        group="legal",
                        question="OK to remove?",
                        requested_by="U0ANA00001",
                        requested_at=now,
                    )
                )
            esc = uow.repos.escalations.get(p.number) if now in (p.acked, p.resolved) else None
            if esc is not None and p.acked == now:
                esc.status, esc.acknowledged_at, esc.acknowledged_by = (
                    "acknowledged",
                    now,
                    "U0BEN00001",
                )
            if esc is not None and p.resolved == now:
                esc.status, esc.resolved_at = "resolved", now
            if p.answered == now:
                for signoff in uow.repos.escalations.signoffs(p.number):
                    signoff.status, signoff.answered_at = "approved", now
        uow.commit()


@pytest.mark.timeout(600)
def test_two_schedulers_over_a_day_send_each_ping_exactly_once(db, config, emulator):
    cfg = _with_night_rotation(config)  # three rotations, one with nightly gaps
    plans = day_plan(cfg)
    end = DAY + timedelta(hours=24)
    nodes = [node(second_database(db), cfg, emulator, DAY) for _ in range(2)]
    # the first pass at DAY settles what was due before the day; compare from there on
    nodes[0].tick(DAY)
    before = len(tagged(emulator))
    barrier = threading.Barrier(3)
    failures: list[BaseException] = []
    won = {id(n): 0 for n in nodes}
    lost = {id(n): 0 for n in nodes}

    def run(n: Node) -> None:
        try:
            now = DAY + STEP
            while now <= end:
                barrier.wait(timeout=60)
                claimed = n.tick(now)
                won[id(n)] += len(claimed.sent)
                lost[id(n)] += len(claimed.taken)
                barrier.wait(timeout=60)
                now += STEP
        except BaseException as exc:  # surfaced below
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    now = DAY + STEP
    try:
        while now <= end:
            apply_changes(db, emulator, cfg, plans, now)
            barrier.wait(timeout=60)
            barrier.wait(timeout=60)
            now += STEP
    finally:
        for t in threads:
            t.join(timeout=60)
        for n in nodes:
            n.close()
    assert not failures, failures
    assert all(won.values()) and any(lost.values())  # they raced, and both won some

    with db.uow() as uow:
        rows = list(
            uow.session.scalars(select(SentNotification).where(SentNotification.due_at > DAY))
        )
        undone = list(uow.session.scalars(select(OutboxItem).where(OutboxItem.status != "done")))
    statuses = {r.status for r in rows}
    assert statuses <= {"sent"}, "nothing was missed, so nothing is stale"
    assert {r.key for r in rows} == expected_pings(cfg, plans, end)
    assert undone == []
    # Every Slack message a ping made carries its outbox key: none twice, none missing.
    keys = tagged(emulator)[before:]
    assert len(keys) == len(set(keys))
    for row in rows:
        assert any(k == row.key or k.startswith(row.key + ":") for k in keys), row.key
    assert {k.split(":dm:")[0].removesuffix(":brief") for k in keys} == {r.key for r in rows}


def test_a_paged_user_group_is_messaged_member_by_member_once(db, config, emulator):
    data = config.model_dump(by_alias=True)
    data["escalation_policy"] = {
        "steps": [{"notify": ["group:public_policy"]}],  # a Slack user group
        "repeat": 0,
    }
    cfg = TeamConfig.model_validate(data)
    a = node(db, cfg, emulator, T0)
    try:
        raise_and_staff(a, "SEV2 #election Ballot rumours")
        tick = a.scheduler.run_due(T0, submit=False)
        fan_out = "page:1:0:0:dm:S0PUBPOL01"
        assert fan_out in tick.outbox
        assert a.svc.outbox.run_key(fan_out)
        a.svc.wait_idle()
        members = emulator.calls_of("usergroups.users.list")
        assert members
        paged = [k for k in tagged(emulator) if k.startswith(fan_out + ":")]
        assert len(paged) == len(set(paged)) == 3
        # Run the fan-out again as a retry would: nobody is messaged twice.
        with db.uow() as uow:
            item = uow.repos.outbox.get(fan_out)
            assert item is not None
            item.status = "pending"
            uow.commit()
        assert a.svc.outbox.run_key(fan_out)
        a.svc.wait_idle()
        assert sorted(k for k in tagged(emulator) if k.startswith(fan_out + ":")) == sorted(paged)
    finally:
        a.close()


def test_an_unreachable_person_is_given_up_on_not_retried_forever(db, config, emulator):
    data = config.model_dump(by_alias=True)
    data["rotations"]["primary"]["layers"] = [
        {"members": ["U0GONE0001"], "start": "2026-01-05 09:00", "shift": "1d"}
    ]
    a = node(db, TeamConfig.model_validate(data), emulator, T0)
    try:
        raise_and_staff(a, "SEV2 #ads Fake shop")
        tick = a.scheduler.run_due(T0, submit=False)
        assert not a.svc.outbox.run_key("page:1:0:0:dm:U0GONE0001")
        with db.uow() as uow:
            item = uow.repos.outbox.get("page:1:0:0:dm:U0GONE0001")
            assert item is not None and item.status == "dead"
            assert "channel_not_found" in (item.last_error or "") or "user_not_found" in (
                item.last_error or ""
            )
        assert "page:1:0:0" in tick.sent
    finally:
        a.close()


def _override(n: Node, text: str, key: str) -> None:
    from bot.parsing.oncall import parse_oncall
    from bot.usecases import oncall

    request = parse_oncall(text, list(n.svc.config.rotations))
    oncall.create_override(n.svc, "U0LEAD0001", request, request_key=key)


def test_shift_start_of_an_override_made_now_shows_its_whole_window(db, config, emulator):
    start = datetime(2026, 3, 4, 18, 13, 27, 512000, tzinfo=UTC)  # `now` is not a whole second
    a = node(db, config, emulator, start)
    try:
        _override(a, "override <@U0DAN00001> now +4h primary", "now")
        claimed = a.tick(start + timedelta(seconds=1))
        assert "shift_start:primary:U0DAN00001:20260304T181327Z" in claimed.sent
        [dm] = [t for t in dms(emulator, "U0DAN00001") if "on-call shift" in t]
        # Dan is in Europe/Berlin: 19:13 → 23:13, not a zero-length 19:13 → 19:13
        assert "Wed 4 Mar 19:13 CET" in dm and "Wed 4 Mar 23:13 CET" in dm
    finally:
        a.close()


def test_shift_start_of_an_override_across_daylight_saving(db, config, emulator):
    # Los Angeles springs forward on Sunday 8 March 2026: a 24 h cover there is 23 h of UTC.
    # Legal's Leo is on no rotation, so the override is his whole stretch.
    a = node(db, config, emulator, datetime(2026, 3, 7, 17, 0, tzinfo=UTC))
    try:
        _override(a, "override <@U0LEG00001> 2026-03-07 10:00 2026-03-08 10:00 primary", "dst")
        claimed = a.tick(datetime(2026, 3, 7, 17, 45, tzinfo=UTC))  # 15 min before 18:00Z
        assert "shift_start:primary:U0LEG00001:20260307T180000Z" in claimed.sent
        [dm] = [t for t in dms(emulator, "U0LEG00001") if "on-call shift" in t]
        tz = a.svc.slack.user_timezone("U0LEG00001")
        start, end = datetime(2026, 3, 7, 18, tzinfo=UTC), datetime(2026, 3, 8, 17, tzinfo=UTC)
        assert f"*{local_when(start, tz)}* → *{local_when(end, tz)}*" in dm
    finally:
        a.close()


def test_a_fresh_install_posts_nothing_for_shifts_that_began_before_it_first_ran(
    db, config, emulator
):
    # primary hands off daily at 17:00 UTC (09:00 Los Angeles); the bot first runs at 20:00
    first = T0 + timedelta(hours=3)
    a = node(db, config, emulator, first)
    try:
        tick = a.scheduler.recover(first)
        a.svc.wait_idle()
        assert not [k for k in [*tick.sent, *tick.outbox] if "20260304T170000Z" in k]
        assert tagged(emulator) == []  # no handoff post, no shift-start DM
        # the next handoff, after the first start, goes out as usual (its reminder too)
        sent = a.tick(T0 + timedelta(days=1)).sent
        assert "handoff:primary:20260305T170000Z" in sent
        assert "shift_start:primary:U0CHI00001:20260305T170000Z" in ledger(db, "shift_start:")
    finally:
        a.close()


def test_a_handoff_missed_while_down_after_the_first_start_is_still_sent(db, config, emulator):
    a = node(db, config, emulator, T0 - timedelta(hours=1))
    a.tick(T0 - timedelta(hours=1))  # first ran at 16:00
    a.close()
    b = node(second_database(db), config, emulator, T0 + timedelta(hours=1))  # down over 17:00
    try:
        assert "handoff:primary:20260304T170000Z" in b.scheduler.recover().sent
    finally:
        b.close()


# -- deadlines --------------------------------------------------------------------------------

LEGAL_ORDER = "SEV2 #legal_request Preservation order 26-114"  # Legal response: 24 h, 2 h ahead


def _deadline_keys(claimed: stage.Claimed, outcome: str = "sent") -> list[str]:
    return [k for k in getattr(claimed, outcome) if k.startswith("deadline_")]


def _breach_paged(db: Database, number: int) -> list[str]:
    with db.uow() as uow:
        found = uow.repos.escalations.timeline(number)
    return [u for e in found if e.kind == "deadline_breached" for u in e.detail["users"]]


def test_deadline_pings_go_once_across_two_schedulers_and_a_restart(db, config, emulator):
    a = node(db, config, emulator, T0)
    b = node(second_database(db), config, emulator, T0)
    number = raise_and_staff(a, LEGAL_ORDER)
    acknowledge(db, number, T0 + timedelta(minutes=1))
    with db.uow() as uow:
        [deadline] = uow.repos.escalations.deadlines(number)
    assert deadline.due_at == T0 + timedelta(hours=24)
    assert deadline.remind_at == T0 + timedelta(hours=22)
    reminder, breach = f"deadline_reminder:{deadline.id}", f"deadline_breach:{deadline.id}"
    try:
        for at in (T0, T0 + timedelta(hours=21, minutes=59, seconds=59)):
            assert _deadline_keys(a.tick(at)) == _deadline_keys(b.tick(at)) == []
        at = T0 + timedelta(hours=22)
        sent = _deadline_keys(a.tick(at)) + _deadline_keys(b.tick(at))
        assert sent == [reminder]
        assert _deadline_keys(b.tick(at + timedelta(seconds=30))) == []
        a.close()  # a restart: the new process learns what was claimed from the ledger
        a = node(second_database(db), config, emulator, T0 + timedelta(hours=23))
        assert _deadline_keys(a.scheduler.recover()) == []
        at = T0 + timedelta(hours=24)
        sent = _deadline_keys(b.tick(at)) + _deadline_keys(a.tick(at))
        assert sent == [breach]  # acknowledged, not resolved: it still passes
        for later in (1, 60):
            t = at + timedelta(minutes=later)
            assert _deadline_keys(a.tick(t)) == _deadline_keys(b.tick(t)) == []
        assert ledger(db, "deadline_") == {reminder: "sent", breach: "sent"}
        assert [k for k in tagged(emulator) if k.startswith("deadline_")].count(reminder) == 1
        [paged] = _breach_paged(db, number)
        assert len(dms(emulator, paged, "Legal response")) == 1
        channel = [m["text"] for m in emulator.messages(_channel(db, number))]
        assert sum("Legal response* for *ESC-1* passed" in t for t in channel) == 1
        assert sum(":alarm_clock:" in t for t in channel) == 1
    finally:
        a.close()
        b.close()


def test_a_deadline_that_passed_while_down_skips_its_reminder_and_still_pages(db, config, emulator):
    a = node(db, config, emulator, T0)
    number = raise_and_staff(a, LEGAL_ORDER)
    a.tick(T0)
    a.close()
    # Down from 17:00 to 18:00 the next day: the reminder (at 22 h) and the deadline (24 h)
    # both fell due. Reminding of a deadline already gone is no use; the page still goes.
    b = node(second_database(db), config, emulator, T0 + timedelta(hours=25))
    try:
        tick = b.scheduler.recover()
        b.svc.wait_idle()
        assert [k.split(":")[0] for k in tick.sent if k.startswith("deadline_")] == [
            "deadline_breach"
        ]
        assert [k.split(":")[0] for k in tick.skipped if k.startswith("deadline_")] == [
            "deadline_reminder"
        ]
        assert sorted(ledger(db, "deadline_").values()) == ["sent", "skipped"]
        channel = [m["text"] for m in emulator.messages(_channel(db, number))]
        assert not [t for t in channel if ":alarm_clock:" in t]
        assert sum("passed" in t and "paging" in t for t in channel) == 1
        assert b.scheduler.recover().sent == []  # a second restart sends nothing more
    finally:
        b.close()


def test_resolving_stops_deadline_pings_even_between_claim_and_send(db, config, emulator):
    a = node(db, config, emulator, T0)
    try:
        first = raise_and_staff(a, LEGAL_ORDER)
        second = raise_and_staff(a, "SEV2 #legal_request Subpoena 26-201")
        a.tick(T0)
        # the first is resolved before its deadline: nothing of it falls due any more
        with db.uow() as uow:
            esc = uow.repos.escalations.get(first)
            assert esc is not None
            esc.status, esc.resolved_at = kinds.STATUS_RESOLVED, T0 + timedelta(hours=1)
            uow.commit()
        at = T0 + timedelta(hours=24)
        a.clock.set(at)
        tick = a.scheduler.run_due(at, submit=False)
        assert [k.split(":")[0] for k in tick.sent if k.startswith("deadline_")] == [
            "deadline_breach"  # the second's; its reminder, found late, is skipped
        ]
        # the second is resolved after its breach was claimed, before it was sent
        with db.uow() as uow:
            esc = uow.repos.escalations.get(second)
            assert esc is not None
            esc.status, esc.resolved_at = kinds.STATUS_RESOLVED, at + timedelta(seconds=1)
            uow.commit()
        before = len(emulator.calls_of("chat.postMessage"))
        for key in tick.outbox:
            assert a.svc.outbox.run_key(key)
        posted = [c.args.get("text", "") for c in emulator.calls_of("chat.postMessage")[before:]]
        assert not [t for t in posted if "Legal response" in t]
        with db.uow() as uow:
            [resolved_in_time] = uow.repos.escalations.deadlines(first)
            [resolved_late] = uow.repos.escalations.deadlines(second)
        assert not [k for k in ledger(db, "deadline_") if k.endswith(f":{resolved_in_time.id}")]
        assert ledger(db, f"deadline_breach:{resolved_late.id}") == {
            f"deadline_breach:{resolved_late.id}": "sent"  # claimed once; the send found it moot
        }
    finally:
        a.close()


def test_the_weekly_digest_counts_deadline_breaches_by_category_and_region(db, config, emulator):
    a = node(db, config, emulator, T0)
    try:
        in_time = raise_and_staff(a, LEGAL_ORDER)
        raise_and_staff(a, "SEV2 #legal_request Subpoena 26-201")  # never resolved
        raise_and_staff(a, "SEV2 #ads Counterfeit ads wave")  # no deadline
        with db.uow() as uow:
            esc = uow.repos.escalations.get(in_time)
            assert esc is not None
            esc.status, esc.resolved_at = kinds.STATUS_RESOLVED, T0 + timedelta(hours=3)
            uow.commit()
        monday = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
        assert "digest:2026-W11" in a.tick(monday).sent
        [digest] = [
            m for m in emulator.messages(config.team.channel) if "Weekly digest" in m["text"]
        ]
        assert (
            "*Deadlines breached:* 1 of 2 · by category: legal_request 1 · by region: global 1"
            in str(digest["blocks"])
        )
    finally:
        a.close()


# -- role reminders ----------------------------------------------------------------------------


def _role_reminders(tick: stage.Claimed) -> list[str]:
    return [k for k in tick.sent if k.startswith("role_reminder:")]


def _role_nudges(emulator: Emulator, channel: str) -> list[str]:
    return [m["text"] for m in emulator.messages(channel) if "Assign with `/esc role" in m["text"]]


def test_an_empty_required_role_reminds_the_owner_once_a_moment_until_filled(db, config, emulator):
    from bot.results import Where
    from bot.usecases import roles

    assert config.required_roles("SEV1") == ["lead", "comms"]
    a = node(db, config, emulator, T0)
    b = node(second_database(db), config, emulator, T0)
    c: Node | None = None
    try:
        number = raise_and_staff(a, "SEV1 #election Vote buying")
        acknowledge(db, number, T0 + timedelta(minutes=1))  # no pages in the way
        channel = _channel(db, number)
        assert _role_reminders(a.tick(T0 + timedelta(minutes=29))) == []
        # at update_every (30m for SEV1): one process claims and dies before sending ...
        due = T0 + timedelta(minutes=30)
        a.clock.set(due)
        claimed = a.scheduler.run_due(due, submit=False)
        assert [k for k in claimed.sent if k.startswith("role_reminder:")] == [
            "role_reminder:1:20260304T173000Z"
        ]
        assert _role_reminders(b.tick(due)) == []  # ... the other finds it taken
        a.close()
        assert _role_nudges(emulator, channel) == []
        # ... and the restarted one sends it from the outbox, once
        c = node(second_database(db), config, emulator, due + timedelta(seconds=20))
        assert _role_reminders(c.scheduler.recover(due + timedelta(seconds=20))) == []
        c.svc.outbox.run_due()
        c.svc.wait_idle()
        [nudge] = _role_nudges(emulator, channel)
        assert nudge.startswith(":busts_in_silhouette: <@U0BEN00001> — *ESC-1*")  # the owner
        assert "*Escalation lead*" in nudge and "*Comms liaison*" in nudge and "for 30m" in nudge
        assert _role_reminders(c.tick(due + timedelta(minutes=1))) == []
        assert _role_reminders(b.tick(due + timedelta(minutes=1))) == []

        # the lead is given: the next moment reminds of the comms liaison alone, once
        roles.assign_role(
            c.svc, "U0CHI00001", Where(number, None), "lead", "U0EVE00001", request_key="r1"
        )
        c.svc.wait_idle()
        nxt = T0 + timedelta(minutes=60)
        sent = _role_reminders(b.tick(nxt)) + _role_reminders(c.tick(nxt))
        assert sent == ["role_reminder:1:20260304T180000Z"]
        latest = _role_nudges(emulator, channel)[-1]
        assert len(_role_nudges(emulator, channel)) == 2
        assert "Comms liaison" in latest and "Escalation lead" not in latest

        # every required role held: nothing more
        roles.assign_role(
            c.svc, "U0CHI00001", Where(number, None), "comms", "U0COM00001", request_key="r2"
        )
        c.svc.wait_idle()
        for minutes in (90, 120, 150):
            at = T0 + timedelta(minutes=minutes)
            assert _role_reminders(b.tick(at)) + _role_reminders(c.tick(at)) == []
        assert len(_role_nudges(emulator, channel)) == 2
        assert ledger(db, "role_reminder:") == {
            "role_reminder:1:20260304T173000Z": "sent",
            "role_reminder:1:20260304T180000Z": "sent",
        }
    finally:
        b.close()
        if c is not None:
            c.close()


def test_role_reminders_stop_when_the_escalation_is_resolved(db, config, emulator):
    from bot.results import Where
    from bot.usecases import lifecycle

    a = node(db, config, emulator, T0)
    b = node(second_database(db), config, emulator, T0)
    try:
        number = raise_and_staff(a, "SEV1 #crisis Flood of reports")
        other = raise_and_staff(a, "SEV3 #ads Counterfeit ads wave")  # SEV3 requires no role
        acknowledge(db, number, T0 + timedelta(minutes=1))
        acknowledge(db, other, T0 + timedelta(minutes=1))
        due = T0 + timedelta(minutes=30)
        assert _role_reminders(a.tick(due)) + _role_reminders(b.tick(due)) == [
            f"role_reminder:{number}:20260304T173000Z"
        ]
        lifecycle.resolve(a.svc, "U0CHI00001", Where(number, None), "Contained")
        a.svc.wait_idle()
        for minutes in (60, 90, 8 * 60, 9 * 60):
            at = T0 + timedelta(minutes=minutes)
            assert _role_reminders(a.tick(at)) + _role_reminders(b.tick(at)) == []
        assert list(ledger(db, "role_reminder:")) == [f"role_reminder:{number}:20260304T173000Z"]
        assert len(_role_nudges(emulator, _channel(db, number))) == 1
        assert _role_nudges(emulator, _channel(db, other)) == []
    finally:
        a.close()
        b.close()


def test_the_periodic_pass_looks_back_since_the_last_and_the_whole_day_once_an_hour(
    db, config, emulator, monkeypatch
):
    from bot.pings import sweep
    from schedules import scheduler as scheduling

    windows: list[datetime | None] = []
    real = sweep.run_due

    def spy(svc: Services, known: Any, now: datetime, **kwargs: Any) -> Any:
        windows.append(kwargs.get("since"))
        return real(svc, known, now, **kwargs)

    monkeypatch.setattr(scheduling.sweep, "run_due", spy)
    a = node(db, config, emulator, T0)
    try:
        a.scheduler.run_due(submit=False)  # the first: the whole lookback
        a.clock.advance(timedelta(seconds=30))
        a.scheduler.run_due(submit=False, full=True)  # periodic: since the last, and a margin
        a.clock.advance(timedelta(seconds=5))
        a.scheduler.run_due(submit=False)  # at a due moment: since the previous pass
        a.clock.advance(scheduling.LOOK_BACK_EVERY)
        a.scheduler.run_due(submit=False, full=True)  # an hour on: the whole lookback again
        a.clock.advance(timedelta(seconds=30))
        a.scheduler.run_due(submit=False, full=True)
        a.scheduler.recover()  # as on start
    finally:
        a.close()
    margin = scheduling.RECONCILE_MARGIN
    assert windows == [
        None,
        T0 - margin,
        T0 + timedelta(seconds=30) - scheduling.SINCE_MARGIN,
        None,
        T0 + scheduling.LOOK_BACK_EVERY + timedelta(seconds=35) - margin,
        None,
    ]


def test_a_pass_at_a_due_moment_goes_on_beside_a_long_pass(db, config, emulator, monkeypatch):
    """The first pass after start (seconds long at scale) holds back no page falling due
    while it runs; each page is still claimed once."""
    from bot.pings import sweep
    from schedules import scheduler as scheduling

    a = node(db, config, emulator, T0)
    long_started, release = threading.Event(), threading.Event()
    real = sweep.run_due

    def slow_long(svc: Services, known: Any, now: datetime, **kwargs: Any) -> Any:
        if kwargs.get("since") is None:  # the long pass: held until released
            long_started.set()
            assert release.wait(30)
        return real(svc, known, now, **kwargs)

    try:
        number = raise_and_staff(a, "SEV1 #election Vote buying")
        monkeypatch.setattr(scheduling.sweep, "run_due", slow_long)
        long_ticks: list[Any] = []
        long = threading.Thread(target=lambda: long_ticks.append(a.scheduler.run_due(T0)))
        long.start()
        assert long_started.wait(30)
        beside: list[Any] = []
        at = T0 + timedelta(minutes=5)  # the policy's second step falls due meanwhile
        a.clock.set(at)
        quick = threading.Thread(target=lambda: beside.append(a.scheduler.run_due(at)))
        quick.start()
        quick.join(30)
        assert not quick.is_alive() and long.is_alive()  # it did not wait for the long pass
        assert f"page:{number}:0:1" in beside[0].sent
        release.set()
        long.join(30)
        # Each page claimed by one of the two (the long one's too, if the other was first).
        both = beside[0].sent + long_ticks[0].sent
        pages = sorted(k for k in both if k.startswith("page:"))
        assert pages == [f"page:{number}:0:0", f"page:{number}:0:1"]
        assert f"page:{number}:0:1" not in long_ticks[0].sent  # due after its moment
        a.svc.wait_idle()
        again = a.scheduler.run_due(at)  # the next pass: nothing claimed twice
        assert not [k for k in again.sent if k.startswith("page:")]
        assert set(ledger(db, "page:")) == {f"page:{number}:0:0", f"page:{number}:0:1"}
        with db.uow() as uow:  # and sent: the page's item is done
            item = uow.repos.outbox.get(f"page:{number}:0:1")
            assert item is not None and item.status == "done"
    finally:
        release.set()
        a.close()


def test_without_a_long_pass_under_way_passes_take_turns(db, config, emulator, monkeypatch):
    """A pass at a due moment waits for another short one (no pass beside it)."""
    from bot.pings import sweep
    from schedules import scheduler as scheduling

    a = node(db, config, emulator, T0)
    try:
        a.scheduler.run_due(T0)  # the first, long, pass is over
        inside = threading.Event()
        release = threading.Event()
        real = sweep.run_due
        windows: list[datetime | None] = []

        def held(svc: Services, known: Any, now: datetime, **kwargs: Any) -> Any:
            windows.append(kwargs.get("since"))
            if len(windows) == 1:
                inside.set()
                assert release.wait(30)
            return real(svc, known, now, **kwargs)

        monkeypatch.setattr(scheduling.sweep, "run_due", held)
        first = threading.Thread(target=lambda: a.scheduler.run_due(T0 + timedelta(seconds=1)))
        first.start()
        assert inside.wait(30)
        second = threading.Thread(target=lambda: a.scheduler.run_due(T0 + timedelta(seconds=2)))
        second.start()
        second.join(0.2)
        assert second.is_alive()  # waiting its turn
        release.set()
        first.join(30)
        second.join(30)
        assert len(windows) == 2
        assert windows[1] == T0 + timedelta(seconds=1) - scheduling.SINCE_MARGIN
    finally:
        release.set()
        a.close()


def test_a_poked_pass_runs_while_every_staffing_thread_is_busy(db, config, emulator):
    """Passes stage the pages falling due: they never queue behind staffing (whose threads
    may be waiting out Slack's limits)."""
    a = node(db, config, emulator, T0)
    release = threading.Event()
    try:
        number = raise_and_staff(a, "SEV1 #election Vote buying")
        for _ in range(8):  # more than the staffing pool's threads, all held
            a.svc.outbox.pool.submit(release.wait, 30)
        a.scheduler.poke()
        deadline = time.monotonic() + 30
        while a.scheduler.last_tick is None:
            assert time.monotonic() < deadline, "the pass waited for the staffing threads"
            threading.Event().wait(0.01)
        assert f"page:{number}:0:0" in a.scheduler.last_tick.sent
        assert a.svc.outbox.pool.busy()  # staffing still held all along
    finally:
        release.set()
        a.close()
