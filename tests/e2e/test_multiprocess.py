"""Several real processes on one PostgreSQL database: three web, two schedulers, two SIGKILLs.

Three `escbot run --no-scheduler` and two `escbot scheduler` processes share one schema and
one emulated workspace. 100 escalations arrive spread over the web processes, with routed
stakeholders (a Slack user group among them); SEV1 pages every few seconds through every
step of the policy, and an override makes a shift start and a handoff fall due. Mid-way, one
web process and one scheduler are SIGKILLed with work in flight, and later restarted. The
emulator is the oracle: each escalation staffed once (one channel, one card, one pin, one
announcement), each message key posted once, nobody invited twice.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.seed import seed
from storage.db import Database
from storage.models import Escalation, OutboxItem
from tests.support.commands import Proc, wait_until
from tests.support.config import EXAMPLE, PG_URL
from tests.support.databases import pg_schema_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]

SECRET = "multiprocess-secret"
ESCALATIONS = 100
REPORTERS = ["U0ANA00001", "U0BEN00001", "U0CHI00001", "U0LEAD0001"]
FEED = "C0FEED0001"
SEV1_STEPS = 3  # the example's policy, run once (repeat: 0 below)
SETTLE_TIMEOUT = 120.0  # a scheduler sees work of the web processes within its 30 s reconcile


def _config(tmp_path: Path) -> Path:
    """The example config, with SEV1 paging a step every 5 s and no repeat."""
    text = EXAMPLE.read_text()
    text = text.replace("{id: SEV1, ack_within: 5m,", "{id: SEV1, ack_within: 5s,")
    text = text.replace("  repeat: 1 ", "  repeat: 0 ")
    assert "ack_within: 5s" in text and "repeat: 0" in text
    path = tmp_path / "escalation.yaml"
    path.write_text(text)
    return path


def _command(i: int) -> str:
    if i % 4 == 0:
        return f"SEV1 #crisis mp{i:03d} Coordinated harm"  # secondary, legal, leads, comms…
    if i % 4 == 1:
        return f"SEV2 #ads mp{i:03d} Scam ads"  # sales, core policy
    return f"SEV2 #election mp{i:03d} Vote buying"  # a user group and comms


def _key(args: dict[str, Any]) -> str:
    meta = args.get("metadata")
    if isinstance(meta, str):
        import json

        meta = json.loads(meta)
    return str(((meta or {}).get("event_payload") or {}).get("key") or "")


def _keys(args: dict[str, Any]) -> list[str]:
    """Every key a message is tagged with: a DM of several pages carries them in `keys`."""
    meta = args.get("metadata")
    if isinstance(meta, str):
        import json

        meta = json.loads(meta)
    payload = (meta or {}).get("event_payload") or {}
    return [str(k) for k in payload.get("keys") or [_key(args)] if k]


def _posted(emulator: Emulator) -> Counter[str]:
    return Counter(
        key
        for call in emulator.calls_of("chat.postMessage")
        if call.ok
        for key in _keys(call.args)
    )


def test_three_web_processes_and_two_schedulers_survive_kills_and_do_everything_once(
    config, tmp_path: Path
):
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    emulator = Emulator(rate_limits=False)
    emulator.start()
    assert emulator._server is not None  # answers to a killed process break their pipe
    emulator._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    seed(emulator, config)
    procs: list[Proc] = []
    began = time.monotonic()
    try:
        with pg_schema_url(PG_URL, prefix="mp") as url:
            env = {
                "SLACK_BOT_TOKEN": emulator.bot_token,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": emulator.url,
                "DATABASE_URL": url,
                "ESCALATION_CONFIG": str(_config(tmp_path)),
            }
            escbot = [sys.executable, "-m", "bot"]
            release = Proc([*escbot, "db", "upgrade"], env, tmp_path, "release").run()
            assert release.returncode == 0, release.stderr
            webs = [
                Proc([*escbot, "run", "--no-scheduler"], env, tmp_path, f"web{n}") for n in range(3)
            ]
            clocks = [Proc([*escbot, "scheduler"], env, tmp_path, f"clock{n}") for n in range(2)]
            procs.extend(webs + clocks)
            for web in webs:
                web.start()
            for clock in clocks:
                clock.start(http=False, ready="scheduler running")
            drivers = [
                Driver(emulator, f"http://127.0.0.1:{web.port}/slack/events", SECRET)
                for web in webs
            ]

            def raise_one(i: int, alive: list[int]) -> None:
                driver = drivers[alive[i % len(alive)]]
                reply = driver.command(REPORTERS[i % len(REPORTERS)], "/escalate", _command(i))
                assert reply.status == 200, reply.body

            def burst(numbers: range, alive: list[int]) -> None:
                with ThreadPoolExecutor(6) as pool:
                    list(pool.map(lambda i: raise_one(i, alive), numbers))

            burst(range(0, 50), [0, 1, 2])
            # Mid-burst: web0 has staffing of its escalations in flight, clock0 its pages.
            webs[0].kill()
            clocks[0].kill()
            killed_at = time.monotonic()
            burst(range(50, 75), [1, 2])
            webs[0].start()
            clocks[0].start(http=False, ready="scheduler running")
            restarted_in = time.monotonic() - killed_at
            burst(range(75, ESCALATIONS), [0, 1, 2])
            override = drivers[1].command(
                "U0LEAD0001", "/oncall", "override <@U0DAN00001|dan> now +3h primary", FEED
            )
            assert override.status == 200, override.body

            db = Database(url)
            try:

                def settled() -> bool:
                    keys = _posted(emulator)
                    with db.uow() as uow:
                        staffed = uow.session.scalar(
                            select(func.count())
                            .select_from(Escalation)
                            .where(Escalation.staffed_at.is_not(None))
                            .where(Escalation.card_pinned.is_(True))
                            .where(Escalation.announce_ts.is_not(None))
                        )
                        sev1 = uow.session.scalars(
                            select(Escalation.id).where(Escalation.severity == "SEV1")
                        ).all()
                        pending = uow.session.scalar(
                            select(func.count())
                            .select_from(OutboxItem)
                            .where(OutboxItem.status == "pending")
                        )
                    last = {f"page:{n}:0:{SEV1_STEPS - 1}:" for n in sev1}
                    paged = len(sev1) == ESCALATIONS // 4 and all(
                        any(k.startswith(step) for k in keys) for step in last
                    )
                    rotated = any(k.startswith("shift_start:primary:U0DAN00001:") for k in keys)
                    handed = any(k.startswith("handoff:primary:") for k in keys)
                    state.update(staffed=staffed, pending=pending, paged=paged)
                    state.update(rotated=rotated, handed=handed)
                    return staffed == ESCALATIONS and not pending and paged and rotated and handed

                state: dict[str, object] = {}
                try:
                    wait_until(settled, "settled", SETTLE_TIMEOUT, every=0.5)
                except AssertionError:
                    raise AssertionError(f"not settled in time: {state}") from None
                with db.uow() as uow:
                    rows = list(uow.session.scalars(select(Escalation).order_by(Escalation.id)))
                    dead = uow.session.scalars(
                        select(OutboxItem.key).where(OutboxItem.status == "dead")
                    ).all()
            finally:
                db.dispose()
            for proc in procs:
                proc.kill()
            took_back = [line for line in webs[0].log().splitlines() if "took back" in line]
    finally:
        for proc in procs:
            proc.kill()
        emulator.stop()
    took = time.monotonic() - began

    assert len(rows) == ESCALATIONS and not dead, dead
    created = [c for c in emulator.calls_of("conversations.create") if c.ok]
    assert len(created) == ESCALATIONS  # one channel each, never a second
    posted = _posted(emulator)
    twice = {k: n for k, n in posted.items() if n > 1}
    assert not twice, f"posted more than once: {twice}"
    invited: dict[str, list[str]] = {}
    for call in emulator.calls_of("conversations.invite"):  # asked, whatever the answer
        invited.setdefault(call.args["channel"], []).extend(call.args["users"].split(","))
    feed = emulator.messages(FEED)
    for row in rows:
        channel = emulator.channel(row.channel_id)
        assert channel is not None and channel["name"].startswith(f"esc-{row.id}-mp"), row.ref
        assert posted[f"card:{row.id}"] == 1 and posted[f"announce:{row.id}"] == 1, row.ref
        assert channel["pins"] == [row.card_ts], row.ref
        assert len([m for m in feed if f"*{row.ref}*" in m["text"]]) <= 1, row.ref
        people = invited.get(row.channel_id, [])
        assert people and len(people) == len(set(people)), f"{row.ref}: invited twice: {people}"
    pages = [k for k in posted if k.startswith("page:")]
    created_at = {row.id: row.created_at.timestamp() for row in rows}
    first = sorted(
        call.at - created_at[int(_key(call.args).split(":")[1])]
        for call in emulator.calls_of("chat.postMessage")
        if call.ok and _key(call.args).startswith("page:") and ":0:0:dm:" in _key(call.args)
    )
    print(
        f"\n{ESCALATIONS} escalations over 3 web processes and 2 schedulers on PostgreSQL, "
        f"web0 and clock0 SIGKILLed mid-burst and back in {restarted_in:.1f} s: "
        f"{len(posted)} message keys each posted once ({len(pages)} page messages; first page "
        f"DM after raising p50 {first[len(first) // 2]:.1f} s, max {first[-1]:.1f} s), "
        f"{sum(map(len, invited.values()))} invites, none twice; {took:.0f} s in all; "
        f"web0 on restart: {took_back[0].split(': ', 1)[-1] if took_back else 'nothing held'}"
    )
