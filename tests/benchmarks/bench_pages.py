"""Pages during a burst: how long from each page's due moment until Slack has the DM.

Run: python tests/benchmarks/bench_pages.py [--escalations 200] [--senders 20]
         [--ack-within 2m] [--no-lane]

200 unacknowledged escalations arrive from 20 senders under Slack's real tiers (the emulator
enforces them, on simulated Slack time as in bench_load.py); each pages the policy's steps
every `--ack-within` (first at creation), while the burst's 200 channels are created at the
20 a minute Slack allows. A scheduler pass runs whenever the simulated clock moves. For each
page DM: due moment → the Web API call Slack accepted, p50/p99/max; and the same net of the
least Slack's one-message-a-second-per-channel limit allows when one person is paged many
times at once (the n-th DM to the same person cannot land before `n - 5` seconds). `--no-lane`
runs pages in the staffing pool, for comparison.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.blocks.pings import PAGES_PER_DM  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.delivery import pings  # noqa: E402
from bot.parsing.durations import parse_duration  # noqa: E402
from bot.sandbox.emulator import POST_MESSAGE_BURST, POST_MESSAGE_RATE, Emulator  # noqa: E402
from bot.slack import ChannelPacer  # noqa: E402
from schedules.scheduler import Scheduler  # noqa: E402
from storage.models import Escalation, OutboxItem  # noqa: E402
from tests.support.load import START, SimulatedTime  # noqa: E402
from tests.support.world import make_world  # noqa: E402

TARGET_P99 = 5.0
PASS_EVERY = 0.25  # simulated seconds: a pass at least this often (a commit pokes one at once)
IDLE = 0.05  # real seconds
OUTBOX_EVERY = 0.005  # real seconds between the outbox worker's looks for due items


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _earliest(dues: list[float]) -> list[float]:
    """Return the earliest moments Slack's per-channel limit lets DMs due at `dues` land."""
    tokens, last, out = float(POST_MESSAGE_BURST), None, []
    for due in sorted(dues):
        at = due if not out else max(due, out[-1])
        if last is not None:
            tokens = min(float(POST_MESSAGE_BURST), tokens + (at - last) * POST_MESSAGE_RATE)
        if tokens < 1.0:
            at += (1.0 - tokens) / POST_MESSAGE_RATE
            tokens = 1.0
        tokens -= 1.0
        last = at
        out.append(at)
    return out


def _keys(args: dict) -> list[str]:
    """Return the ledger keys a message is tagged with (a combined page DM carries several)."""
    meta = args.get("metadata")
    if isinstance(meta, str):
        meta = json.loads(meta)
    payload = (meta or {}).get("event_payload") or {}
    return [str(k) for k in payload.get("keys") or [payload.get("key") or ""]]


def page_dms(emulator: Emulator) -> list[tuple[Any, str, int, int, int]]:
    """Return (call, key, escalation, round, step) for each page a DM Slack accepted carried
    (a combined DM carries several)."""
    pages = []
    for call in emulator.calls_of("chat.postMessage"):
        if not call.ok:
            continue
        for key in _keys(call.args):
            if key.startswith("page:") and ":dm:" in key:
                _, number, round_, step, *_ = key.split(":")
                pages.append((call, key, int(number), int(round_), int(step)))
    return pages


def _outbox_waits(world: Any, clock: SimulatedTime, stop: threading.Event) -> None:
    """Wait on Slack's simulated time every PASS_EVERY, as the outbox worker looks for due
    items on the wall clock: without a wait of its own pending, the clock (which jumps to the
    earliest wait pending once nothing moved for IDLE) skips past items put off (`Later`) or
    waiting (`NotReady`) whenever a pass is running, up to a staffing thread's Retry-After of
    conversations.create, 40-odd seconds (`--trace` prints those jumps). No database read
    here: on SQLite it would queue behind the pass and leave the clock free to jump again."""
    while not stop.is_set():
        clock.sleep(PASS_EVERY)


def _trace(outbox: Any, clock: SimulatedTime) -> dict[str, list[tuple[float, str]]]:
    """Record, per page DM item, on Slack's simulated time: each lease (`leased`, or `taken`
    along by another DM) and how each attempt ended (`later`, `waiting`, `done`, `failed`,
    `settled`). Wraps the outbox's methods; changes nothing they do."""
    events: dict[str, list[tuple[float, str]]] = defaultdict(list)
    lock = threading.Lock()

    def note(key: str, what: str) -> None:
        if ":dm:" in key:
            with lock:
                events[key].append((clock.time(), what))

    take, take_more, finish, settle = outbox._take, outbox.take_more, outbox._finish, outbox.settle

    def _take(item_id: int) -> Any:
        job = take(item_id)
        if job is not None:
            note(job.key, "leased")
        return job

    def _take_more(like: str, limit: int, **kw: Any) -> Any:
        jobs = take_more(like, limit, **kw)
        for job in jobs:
            note(job.key, "taken")
        return jobs

    def _finish(job: Any, error: str | None, **kw: Any) -> None:
        if kw.get("later") is not None:
            what = f"later {kw['later']:.2f}"
        elif error is None:
            what = "done"
        else:
            what = "waiting" if kw.get("waiting") else "failed"
        note(job.key, what)
        finish(job, error, **kw)

    def _settle(jobs: Any, *, done: bool, spent: bool = True) -> None:
        for job in jobs:
            note(job.key, "settled done" if done else "let go")
        settle(jobs, done=done, spent=spent)

    outbox._take, outbox.take_more, outbox._finish, outbox.settle = (
        _take,
        _take_more,
        _finish,
        _settle,
    )
    return events


def _print_trace(
    events: dict[str, list[tuple[float, str]]],
    slowest: list[tuple[float, str, datetime]],
    history: dict[str, Any],
    by_step: dict[str, list[float]],
) -> None:
    """Print where page DMs waited: staged → first lease → last lease → Slack, per step."""
    sent_at = {key: due.timestamp() + delay for delay, key, due in slowest}
    phases: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _delay, key, due in slowest:
        step = ":".join(key.split(":")[2:4])
        staged = history.get(key, (None,))[0]
        trail = events.get(key, [])
        leases = [at for at, what in trail if what in ("leased", "taken")]
        if staged is None or not leases:
            continue
        s = staged.timestamp()
        row = phases[step]
        row["due → staged"].append(s - due.timestamp())
        row["staged → first lease"].append(leases[0] - s)
        row["first → last lease"].append(leases[-1] - leases[0])
        row["last lease → Slack"].append(sent_at[key] - leases[-1])
        row["leases"].append(float(len(leases)))
        row["put off"].append(float(sum(w.startswith("later") for _, w in trail)))
        row["waited"].append(float(sum(w == "waiting" for _, w in trail)))
    print("where page DMs waited (simulated s; p50/p99 per step):")
    for step in sorted(phases):
        parts = [
            f"{name} {_pct(v, 0.5):.1f}/{_pct(v, 0.99):.1f}" for name, v in phases[step].items()
        ]
        print(f"  {step}: " + ", ".join(parts))
    for delay, key, due in sorted(slowest, reverse=True)[:3]:
        staged = history.get(key, (None,))[0]
        base = staged.timestamp() if staged else due.timestamp()
        trail = " ".join(f"+{at - base:.1f}:{what}" for at, what in events.get(key, []))
        print(f"  {key} ({delay:.1f} s): {trail}")


def main() -> None:
    """Run the burst with paging on and print the page delays."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--escalations", type=int, default=200)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--ack-within", default="2m")
    parser.add_argument("--no-lane", action="store_true", help="pages share the staffing pool")
    parser.add_argument(
        "--one-dm-each",
        action="store_true",
        help="one DM per page, sent at once (Slack's 429 waited out), as before combining",
    )
    parser.add_argument(
        "--jumpy-clock",
        action="store_true",
        help="as before: no wait on simulated time for the outbox's next due item",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="record each page DM item's leases and outcomes; print the slowest ones' history",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run one DM per page, then combined, one after the other",
    )
    args = parser.parse_args()
    variants = [True, False] if args.compare else [args.one_dm_each]
    for one_each in variants:
        args.one_dm_each = one_each
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        run(args)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n", flush=True)


def run(args: argparse.Namespace) -> None:
    """One burst."""
    pings.PAGES_PER_DM = 1 if args.one_dm_each else PAGES_PER_DM
    pacer = ChannelPacer(burst=10**9) if args.one_dm_each else ChannelPacer()
    ack = parse_duration(args.ack_within)
    text = (ROOT / "escalation.example.yaml").read_text()
    sev2 = "{id: SEV2, ack_within: 15m,"
    text = text.replace(sev2, sev2.replace("15m", args.ack_within))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "escalation.yaml"
        path.write_text(text)
        config = load_config(path)
        per_round = len(config.escalation_policy.steps)
        steps = per_round * (config.escalation_policy.repeat + 1)
        # The clock jumps only after IDLE real seconds in which no wait ended: long enough for
        # the bot's own work (which takes real time) not to be billed as Slack time.
        clock = SimulatedTime(START, idle=IDLE)
        emulator = Emulator(clock=clock.time, rate_limits=True)
        world = make_world(config, Path(tmp), clock, emulator=emulator, sleep=clock.sleep)
        svc = world.bot.services
        svc.slack.pacer = pacer
        if args.no_lane:
            svc.outbox._urgent, svc.outbox._urgent_re = (), None
        timer = Scheduler(svc)
        trace = _trace(svc.outbox, clock) if args.trace else None
        jumps: list[tuple[float, float, float, bool]] = []  # (at, by, pass real s, in a pass)
        in_pass: list[float] = []
        if args.trace:
            moved = clock.set

            def _set(instant: datetime) -> None:
                before = clock.time()
                moved(instant)
                if instant.timestamp() - before > 1.0:
                    busy = time.perf_counter() - in_pass[0] if in_pass else 0.0
                    jumps.append((before, instant.timestamp() - before, busy, bool(in_pass)))

            clock.set = _set  # type: ignore[method-assign]
        svc.outbox.start(OUTBOX_EVERY)  # the production worker loop, as `escbot run` has
        waits = threading.Event()
        waiter = threading.Thread(target=_outbox_waits, args=(world, clock, waits), daemon=True)
        if not args.jumpy_clock:
            waiter.start()
        started = time.perf_counter()
        try:

            def one(n: int) -> None:
                reply = world.driver.command("U0ANA00001", "/escalate", f"SEV2 Burst {n:04d}")
                assert reply.status == 200, reply.body

            with ThreadPoolExecutor(args.senders) as pool:
                list(pool.map(one, range(1, args.escalations + 1)))
            created: dict[int, datetime] = {}
            end = clock() + ack * steps  # until every escalation is recorded
            stop = threading.Event()

            def passes() -> None:  # the scheduler, on Slack's simulated time
                while not stop.is_set():
                    in_pass.append(time.perf_counter())
                    tick = timer.run_due()
                    in_pass.clear()
                    wait = PASS_EVERY
                    if tick.next_at is not None:
                        wait = min(wait, max(0.001, (tick.next_at - clock()).total_seconds()))
                    clock.sleep(wait)

            passer = threading.Thread(target=passes, daemon=True)
            passer.start()
            deadline = time.monotonic() + 900
            while True:
                assert time.monotonic() < deadline, "the burst did not finish in time"
                with world.db.uow() as uow:
                    if len(created) < args.escalations:
                        rows = uow.session.execute(select(Escalation.id, Escalation.created_at))
                        created = {number: at for number, at in rows}
                        if len(created) == args.escalations:
                            end = max(created.values()) + ack * (steps - 1)
                    staffed = uow.session.scalar(
                        select(func.count()).where(Escalation.staffed_at.is_not(None))
                    )
                    pending = uow.session.scalar(
                        select(func.count()).where(OutboxItem.status == "pending")
                    )
                if staffed == args.escalations and not pending and clock() >= end:
                    break
                time.sleep(0.05)  # real time: the bot and the passes move the clock
            stop.set()
            passer.join(timeout=30)
            waits.set()
            if waiter.is_alive():
                waiter.join(timeout=30)
            wall = time.perf_counter() - started
            with world.db.uow() as uow:  # each page DM item's history, for the slowest pages
                history = {
                    key: (created_at, attempts, error)
                    for key, created_at, attempts, error in uow.session.execute(
                        select(
                            OutboxItem.key,
                            OutboxItem.created_at,
                            OutboxItem.attempts,
                            OutboxItem.last_error,
                        ).where(OutboxItem.key.like("page:%:dm:%"))
                    )
                }
        finally:
            world.bot.stop()
            emulator.stop()

    by_step: dict[str, list[float]] = defaultdict(list)
    delays: list[float] = []
    net: list[float] = []
    by_channel: dict[str, list[tuple[float, float]]] = defaultdict(list)
    slowest: list[tuple[float, str, datetime]] = []
    pages = page_dms(emulator)
    messages = len({id(call) for call, *_ in pages})
    for call, key, number, round_, step in pages:
        due_at = created[number] + ack * (round_ * per_round + step)
        by_channel[str(call.args["channel"])].append((due_at.timestamp(), call.at))
        by_step[f"{round_}:{step}"].append(call.at - due_at.timestamp())
        slowest.append((call.at - due_at.timestamp(), key, due_at))
    floor: list[float] = []
    for sent in by_channel.values():
        ideal = _earliest([due_s for due_s, _ in sent])
        for (due_s, at), best in zip(sorted(sent), ideal, strict=True):
            delays.append(at - due_s)
            floor.append(best - due_s)
        # What the bot added: each DM against the earliest Slack's limit lets the same rank go.
        ats = sorted(at for _, at in sent)
        net.extend(max(0.0, at - best) for at, best in zip(ats, ideal, strict=True))
    for name, values in sorted(by_step.items()):
        round_, step = name.split(":")
        print(
            f"  round {int(round_) + 1} step {int(step) + 1}: {len(values)} DMs, "
            f"p50 {_pct(values, 0.5):.1f} s, p99 {_pct(values, 0.99):.1f} s"
        )
    print("slowest pages (delay, key, staged after due, attempts, last error):")
    for delay, key, due_at in sorted(slowest, reverse=True)[:6]:
        staged, attempts, error = history.get(key, (None, None, None))
        late = f"{(staged - due_at).total_seconds():.1f} s" if staged else "?"
        print(f"  {delay:.1f} s {key} staged +{late} attempts {attempts} {(error or '')[:80]}")
    if trace is not None:
        _print_trace(trace, slowest, history, by_step)
        during = [j for j in jumps if j[3]]
        print(
            f"clock jumps over 1 s: {len(jumps)}, {sum(j[1] for j in jumps):.0f} s in all; "
            f"{len(during)} of them ({sum(j[1] for j in during):.0f} s) while a pass ran "
            "(no wait of the passes' thread pending)"
        )
        for at, by, busy, _ in sorted(during, key=lambda j: -j[1])[:5]:
            print(f"  +{at - START.timestamp():.1f} s jumped {by:.1f} s, pass running {busy:.2f} s")
    throttled = Counter(c.method for c in emulator.calls if c.status == 429)
    every = Counter(c.method for c in emulator.calls)
    print(f"Web API calls: {len(emulator.calls)} {dict(every.most_common())}")
    print(f"answered 429: {dict(throttled.most_common())}")
    creates = [c.at for c in emulator.calls_of("conversations.create") if c.ok]
    lane = "pages in the staffing pool" if args.no_lane else "pages in their own lane"
    lane += ", one DM per page" if args.one_dm_each else ", a person's due pages in one DM"
    print(f"{args.escalations} escalations from {args.senders} senders, Slack's tiers on, {lane}")
    print(
        f"pages {len(delays)} in {messages} DMs to {len(by_channel)} people over {steps} steps "
        f"every {args.ack_within}"
    )
    print(
        f"page delay, due → Slack: p50 {_pct(delays, 0.5):.1f} s, p99 {_pct(delays, 0.99):.1f} s, "
        f"max {max(delays):.1f} s (target p99 < {TARGET_P99:.0f} s)"
    )
    print(
        f"one DM per page, Slack's per-person limit (1 a second, bursts of {POST_MESSAGE_BURST}) "
        f"allows "
        f"no less than p50 {_pct(floor, 0.5):.1f} s, p99 {_pct(floor, 0.99):.1f} s"
    )
    print(
        f"added by the bot beyond that limit: p50 {_pct(net, 0.5):.1f} s, "
        f"p99 {_pct(net, 0.99):.1f} s, max {max(net):.1f} s"
    )
    print(
        f"channels created over {(max(creates) - min(creates)) / 60:.1f} min of Slack time; "
        f"simulated {(clock.time() - START.timestamp()) / 60:.1f} min, wall {wall:.1f} s"
    )


if __name__ == "__main__":
    main()
