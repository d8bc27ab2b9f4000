"""Pages during a burst, measured on the production process and the wall clock.

Run: python tests/benchmarks/bench_pages_process.py [--escalations 40] [--ack-within 30s]
         [--senders 20]

bench_pages.py runs 200 escalations on simulated Slack time in this process (200 channels at
Slack's 20 a minute is ten real minutes); this runs a smaller burst the way production does:
`escbot run` in its own process (its outbox lanes and scheduler as they start there) against
the emulator with Slack's real tiers on the wall clock, the commands sent from 20 concurrent
senders in a process of their own. Each escalation is an unacknowledged SEV2 that pages the
policy's steps every `--ack-within` from its creation, while the burst's channels are still
being created at 20 a minute. For each page DM: due moment (from the bot's database) → the
Web API call Slack accepted, p50/p99/max, and what the bot added beyond Slack's
one-message-a-second-per-person limit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.parsing.durations import parse_duration  # noqa: E402
from bot.sandbox.driver import Driver  # noqa: E402
from bot.sandbox.emulator import Emulator  # noqa: E402
from bot.sandbox.seed import seed  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Escalation, OutboxItem  # noqa: E402
from tests.benchmarks.bench_escalate import SECRET, fire, free_port, start_process  # noqa: E402
from tests.benchmarks.bench_pages import TARGET_P99, _earliest, _pct, page_dms  # noqa: E402
from tests.support.process import bot_env  # noqa: E402

GRACE_S = 15.0  # after the last page falls due, for its DM to reach Slack


def main() -> None:
    """Run the burst against `escbot run` and print the page delays."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--escalations", type=int, default=40)
    parser.add_argument("--ack-within", default="30s")
    args = parser.parse_args()
    load_before = os.getloadavg()
    ack = parse_duration(args.ack_within)
    text = (ROOT / "escalation.example.yaml").read_text()
    sev2 = "{id: SEV2, ack_within: 15m,"
    text = text.replace(sev2, sev2.replace("15m", args.ack_within))
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "escalation.yaml"
    path.write_text(text)
    config = load_config(path)
    per_round = len(config.escalation_policy.steps)
    steps = per_round * (config.escalation_policy.repeat + 1)
    emulator = Emulator(rate_limits=True)  # Slack's tiers, on the wall clock
    emulator.start()
    seed(emulator, config)
    db = Database(f"sqlite:///{tmp / 'bench.db'}")
    db.upgrade()
    port = free_port()
    env = bot_env(emulator.bot_token, SECRET, emulator.url, db.url, path, port)
    proc = start_process(
        [sys.executable, "-m", "bot", "run"], env, f"http://127.0.0.1:{port}/healthz", bot=True
    )
    started = time.time()
    try:
        driver = Driver(emulator, f"http://127.0.0.1:{port}/slack/events", SECRET)
        acks = fire(driver, [f"SEV2 Burst {n:04d}" for n in range(1, args.escalations + 1)])
        created: dict[int, datetime] = {}
        end = float("inf")
        deadline = time.monotonic() + 900
        while True:
            assert time.monotonic() < deadline, "the burst did not finish in time"
            assert proc.poll() is None, f"escbot exited with {proc.returncode}"
            try:
                with db.uow() as uow:
                    if len(created) < args.escalations:
                        rows = uow.session.execute(select(Escalation.id, Escalation.created_at))
                        created = {number: _utc(at) for number, at in rows}
                        if len(created) == args.escalations:
                            last = max(created.values()).timestamp()
                            end = last + ack.total_seconds() * (steps - 1) + GRACE_S
                    staffed = uow.session.scalar(
                        select(func.count()).where(Escalation.staffed_at.is_not(None))
                    )
                    pending = uow.session.scalar(
                        select(func.count()).where(
                            OutboxItem.status == "pending", OutboxItem.key.like("page:%")
                        )
                    )
            except Exception:  # the bot holds SQLite's write lock a moment: look again
                time.sleep(0.05)
                continue
            if staffed == args.escalations and not pending and time.time() >= end:
                break
            time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except Exception:
            proc.kill()
        emulator.stop()
    wall = time.time() - started
    with db.uow() as uow:  # when each page DM was staged, for the slowest pages
        staged = {
            key: _utc(at).timestamp()
            for key, at in uow.session.execute(
                select(OutboxItem.key, OutboxItem.created_at).where(
                    OutboxItem.key.like("page:%:dm:%")
                )
            )
        }

    delays: list[float] = []
    net: list[float] = []
    by_channel: dict[str, list[tuple[float, float]]] = defaultdict(list)
    slowest: list[tuple[float, str, float]] = []
    pages = page_dms(emulator)
    messages = len({id(call) for call, *_ in pages})
    for call, key, number, round_, step in pages:
        # due moments are whole seconds, from the creation's (bot.pings.plan.seconds)
        due_at = created[number].replace(microsecond=0) + ack * (round_ * per_round + step)
        by_channel[str(call.args["channel"])].append((due_at.timestamp(), call.at))
        slowest.append((call.at - due_at.timestamp(), key, due_at.timestamp()))
    for sent in by_channel.values():
        ideal = _earliest([due_s for due_s, _ in sent])
        delays.extend(at - due_s for due_s, at in sorted(sent))
        ats = sorted(at for _, at in sent)
        net.extend(max(0.0, at - best) for at, best in zip(ats, ideal, strict=True))
    expected = args.escalations * steps
    creates = [c.at for c in emulator.calls_of("conversations.create") if c.ok]
    throttled = sum(c.status == 429 for c in emulator.calls)
    load_after = os.getloadavg()
    print(
        f"{args.escalations} escalations from 20 senders to `escbot run`, Slack's tiers on the"
        f" wall clock; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    print(
        f"acks: p50 {_pct(acks, 0.5) * 1000:.0f} ms, p99 {_pct(acks, 0.99) * 1000:.0f} ms;"
        f" channels created over {(max(creates) - min(creates)) / 60:.1f} min; wall {wall:.0f} s"
    )
    print(
        f"pages {len(delays)} of {expected} due ({steps} steps every {args.ack_within}) in"
        f" {messages} DMs to {len(by_channel)} people; {len(emulator.calls)} Web API calls,"
        f" {throttled} answered 429"
    )
    print(
        f"page delay, due → Slack: p50 {_pct(delays, 0.5):.1f} s, p99 {_pct(delays, 0.99):.1f} s,"
        f" max {max(delays):.1f} s (target p99 < {TARGET_P99:.0f} s)"
    )
    print(
        f"added by the bot beyond Slack's per-person limit: p50 {_pct(net, 0.5):.1f} s,"
        f" p99 {_pct(net, 0.99):.1f} s, max {max(net):.1f} s"
    )
    print("slowest pages (delay; staged after due):")
    for delay, key, due_s in sorted(slowest)[-6:]:
        print(f"  {key} {delay:.1f} s; staged +{staged.get(key, float('nan')) - due_s:.1f} s")
    limited = Counter(
        (c.method, str(c.args.get("channel", ""))) for c in emulator.calls if c.status == 429
    )
    print("answered 429, by method and channel:", dict(limited.most_common(6)))


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


if __name__ == "__main__":
    main()
