"""Benchmark of /escalate over real HTTP against the Slack emulator.

Run: python tests/benchmarks/bench_escalate.py [--requests N] [--rounds N] [--sequential N]
     python tests/benchmarks/bench_escalate.py --calls-only    (just (2), in seconds)

The bot runs as `escbot run` in its own process (as in production); two bare Bolt apps whose
only listener acks run the same way beside it, one with Bolt's defaults and one with
`process_before_response` (the listener on the request thread: no wait for the ack); they
get the process tuning `escbot run` applies, so only the request paths differ. The three
take turns over several rounds. The emulator runs here; the 20 concurrent senders of the ack
measurement run in a process of their own, as Slack's delivery is apart from its Web API.
Prints (1) ack latency p50/p99 of each and the ratios; (2) Web API calls staffing one
escalation with 12 routed stakeholders — every call, the first page's DM included, counted
once the bot's outbox is empty; (3) time from request to a fully staffed channel.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import parse_config  # noqa: E402
from bot.sandbox.driver import Driver, deliver  # noqa: E402
from bot.sandbox.emulator import Emulator  # noqa: E402
from bot.sandbox.seed import seed  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Escalation, OutboxItem  # noqa: E402
from tests.benchmarks.stats import pct  # noqa: E402

SECRET = "bench-secret"
SENDERS = 20
STAKEHOLDERS = [f"U0STK{n:05d}" for n in range(1, 13)]
BARE_APP = """
import gc
import sys
import uvicorn
from slack_bolt import App
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.routing import Route
from bot.web import Metrics, slack_endpoint
app = App(client=WebClient(token="xoxb-sandbox", base_url=sys.argv[1]),
          signing_secret=sys.argv[2], token_verification_enabled=False,
          process_before_response=sys.argv[4] == "inline")
app.command("/escalate")(lambda ack: ack())
web = Starlette(routes=[Route("/slack/events", slack_endpoint(app, Metrics()), methods=["POST"])])
# The process tuning `escbot run` has, so the comparison is of the request path alone.
sys.setswitchinterval(0.0005)
gc.collect()
gc.freeze()
uvicorn.run(web, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning", access_log=False)
"""


def bench_config_text() -> str:
    """Return the example config plus a 12-person group routed for category `press`."""
    text = (ROOT / "escalation.example.yaml").read_text()
    text = text.replace(
        "  sales:         {name: Sales, members: [U0SAL00001]}",
        "  sales:         {name: Sales, members: [U0SAL00001]}\n"
        f"  press_desk:    {{name: Press desk, members: [{', '.join(STAKEHOLDERS)}]}}",
    )
    return text.replace(
        "routing:", "routing:\n  - {when: {category: [press]}, invite: [press_desk]}"
    )


def send_all(url: str, prepared: list[tuple[bytes, dict[str, str]]]) -> list[float]:
    """Send prepared requests from 20 concurrent senders; return each answer's latency (s)."""

    def one(request: tuple[bytes, dict[str, str]]) -> float:
        reply = deliver(url, *request)
        if reply.status != 200:
            raise RuntimeError(f"HTTP {reply.status}: {reply.body}")
        return reply.elapsed

    # The senders' own collector stays out of the timings: a full pass over this process's
    # heap would stop all 20 senders at once and lengthen whichever app's tail it fell in.
    gc.collect()
    gc.disable()
    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            return list(pool.map(one, prepared))
    finally:
        gc.enable()


def fire(driver: Driver, texts: list[str]) -> list[float]:
    """Send the commands from 20 concurrent senders in a process of their own.

    The requests are prepared here (their response URLs and trigger IDs live in this
    process's emulator) and sent from there, so the emulator answering the bot's Web API
    calls does not slow down the senders timing the acks.
    """
    with driver.held() as prepared:
        for text in texts:
            driver.command("U0ANA00001", "/escalate", text)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as senders:
        return senders.submit(send_all, driver.bot_url, prepared).result()


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(args: list[str], env: dict[str, str], ready: str) -> subprocess.Popen[bytes]:
    """Start a server in its own interpreter and wait until it answers HTTP."""
    proc = subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{args} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(ready, timeout=1).read()
            return proc
        except urllib.error.HTTPError:
            return proc  # it answers
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{ready} did not come up")


def main() -> None:
    """Run the three measurements and print them with their targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400, help="per app and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sequential", type=int, default=50)
    parser.add_argument("--calls-only", action="store_true", help="only count the Web API calls")
    args = parser.parse_args()
    config_text = bench_config_text()
    config = parse_config(config_text)
    tmp = Path(tempfile.mkdtemp())
    emulator = Emulator(rate_limits=False)
    emulator.start()
    seed(emulator, config)
    for user in STAKEHOLDERS:
        emulator.add_user(user, user.lower())
    db = Database(f"sqlite:///{tmp / 'bench.db'}")
    db.upgrade()
    config_path = tmp / "escalation.yaml"
    config_path.write_text(config_text)
    bot_port, bare_port, inline_port = free_port(), free_port(), free_port()
    env = {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": emulator.url,
        "DATABASE_URL": db.url,
        "ESCALATION_CONFIG": str(config_path),
        "PORT": str(bot_port),
    }
    bot = start_process(
        [sys.executable, "-m", "bot", "run"], env, f"http://127.0.0.1:{bot_port}/healthz"
    )
    bare = start_process(
        [sys.executable, "-c", BARE_APP, emulator.url, SECRET, str(bare_port), "defaults"],
        {},
        f"http://127.0.0.1:{bare_port}/healthz",
    )
    inline = start_process(
        [sys.executable, "-c", BARE_APP, emulator.url, SECRET, str(inline_port), "inline"],
        {},
        f"http://127.0.0.1:{inline_port}/healthz",
    )
    bot_driver = Driver(emulator, f"http://127.0.0.1:{bot_port}/slack/events", SECRET)
    bare_driver = Driver(emulator, f"http://127.0.0.1:{bare_port}/slack/events", SECRET)
    inline_driver = Driver(emulator, f"http://127.0.0.1:{inline_port}/slack/events", SECRET)

    def settle(count: int) -> None:
        """Wait until `count` escalations are fully staffed (the bot runs elsewhere)."""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with db.uow() as uow:
                done = uow.session.scalar(
                    select(func.count())
                    .select_from(Escalation)
                    .where(Escalation.staffed_at.is_not(None))
                )
            if (done or 0) >= count:
                return
            time.sleep(0.02)
        raise RuntimeError("escalations were not staffed in time")

    def quiesce() -> None:
        """Wait until the bot has no Slack work pending (pages of the burst, DMs…)."""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with db.uow() as uow:
                pending = uow.session.scalar(
                    select(func.count())
                    .select_from(OutboxItem)
                    .where(OutboxItem.status == "pending")
                )
            if not pending:
                return
            time.sleep(0.05)
        raise RuntimeError("the bot's outbox did not drain in time")

    def count_calls() -> tuple[list[str], int, int]:
        """Raise one escalation with 12 routed stakeholders; return every Web API call it
        made until the outbox is empty (its first page included), users invited, replies."""
        with db.uow() as uow:
            count = len(uow.repos.escalations.find())
        quiesce()
        before, replies = len(emulator.calls), len(emulator.responses)
        bot_driver.command("U0ANA00001", "/escalate", "#press Reporter asks about leak")
        settle(count + 1)
        quiesce()
        made = emulator.calls[before:]
        invited = sum(
            len(c.args["users"].split(",")) for c in made if c.method == "conversations.invite"
        )
        return [c.method for c in made], invited, len(emulator.responses) - replies

    if args.calls_only:
        try:
            cold = count_calls()  # the first after start: the process's own look-ups too
            warm = count_calls()
        finally:
            for proc in (bot, bare, inline):
                proc.terminate()
                proc.wait(10)
            emulator.stop()
        for name, (calls, invited, replies) in (("first after start", cold), ("next", warm)):
            print(
                f"Web API calls for one escalation inviting {invited} users "
                f"({len(STAKEHOLDERS)} routed stakeholders), first page included, {name}: "
                f"{len(calls)}   (target <= 6)"
            )
            print(f"    {', '.join(calls)}")
            print(f"    plus {replies} reply to the reporter through the command's response_url")
        return

    try:
        fire(bare_driver, ["warm"] * SENDERS)  # warm the servers up
        fire(inline_driver, ["warm"] * SENDERS)
        fire(bot_driver, [f"#other warm {i}" for i in range(SENDERS)])
        settle(SENDERS)
        quiesce()  # the bot's pages and DMs are not sent while the bare apps are measured

        n, rounds = args.requests, args.rounds
        bare_lat: list[float] = []
        inline_lat: list[float] = []
        bot_lat: list[float] = []
        burst_seconds: list[float] = []
        burst_calls = 0
        # Rounds take turns, so a slower or faster spell of the machine falls on all three
        # apps alike; each round ends with the bot done, its staffing not weighing on the next.
        for r in range(rounds):
            bare_lat += fire(bare_driver, [f"bare {r}.{i}" for i in range(n)])
            inline_lat += fire(inline_driver, [f"inline {r}.{i}" for i in range(n)])
            started_calls = len(emulator.calls)
            sent_at = time.time()
            bot_lat += fire(bot_driver, [f"SEV2 #other Bench escalation {r}.{i}" for i in range(n)])
            settle(SENDERS + n * (r + 1))
            burst_seconds.append(time.time() - sent_at)
            quiesce()
            burst_calls += len(emulator.calls) - started_calls
        with db.uow() as uow:
            rows = [e for e in uow.repos.escalations.find() if e.title.startswith("Bench")]
        burst = [(e.staffed_at - e.created_at).total_seconds() for e in rows if e.staffed_at]
        total = SENDERS + n * rounds

        staffed: list[float] = []  # request -> fully staffed, one escalation at a time
        for i in range(args.sequential):
            sent = time.time()
            bot_driver.command("U0ANA00001", "/escalate", f"SEV2 #other One at a time {i}")
            settle(total + i + 1)
            staffed.append(time.time() - sent)

        calls, invited, _ = count_calls()
    finally:
        for proc in (bot, bare, inline):
            proc.terminate()
            proc.wait(10)
        emulator.stop()

    print(
        f"(1) ack latency, {n * rounds} requests per app ({rounds} rounds taking turns) "
        f"from {SENDERS} concurrent senders:"
    )
    rows = [
        ("bare Bolt app", bare_lat),
        ("bare Bolt app, process_before_response", inline_lat),
        ("escbot", bot_lat),
    ]
    for name, lat in rows:
        print(
            f"    {name:<40}: p50 {pct(lat, 50) * 1000:6.1f} ms  p99 {pct(lat, 99) * 1000:6.1f} ms"
        )
    ratio = pct(bot_lat, 99) / pct(bare_lat, 99)
    strict = pct(bot_lat, 99) / pct(inline_lat, 99)
    print(f"    p99 ratio escbot/bare: {ratio:.2f}x   (targets: <= 1.5x, p99 < 300 ms)")
    print(f"    p99 ratio escbot/bare with process_before_response: {strict:.2f}x")
    print(
        f"(2) Web API calls for one escalation inviting {invited} users "
        f"({len(STAKEHOLDERS)} routed stakeholders), first page included: {len(calls)}"
        "   (target <= 6)"
    )
    print(f"    {', '.join(calls)}")
    print(
        f"(3) request -> fully staffed, one at a time ({len(staffed)} escalations, limits off):"
        f" p50 {statistics.median(staffed) * 1000:.1f} ms  p99 {pct(staffed, 99) * 1000:.1f} ms"
        "   (target p50 < 250 ms)"
    )
    print(
        f"    during the {n}-request bursts: each all staffed in "
        f"{statistics.median(burst_seconds):.2f} s (median; {burst_calls // rounds} Web API calls);"
        " per escalation "
        f"p50 {statistics.median(burst) * 1000:.0f} ms  p99 {pct(burst, 99) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
