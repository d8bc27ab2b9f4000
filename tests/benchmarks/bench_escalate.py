"""Benchmark of /escalate over real HTTP against the Slack emulator.

Run: python tests/benchmarks/bench_escalate.py [--requests N] [--rounds N] [--sequential N]
     python tests/benchmarks/bench_escalate.py --without each    (what each mechanism buys)
     python tests/benchmarks/bench_escalate.py --calls-only       (just the Web API calls)

The bot runs as `escbot run` in its own process (as in production); two bare Bolt apps whose
only listener acks, on Bolt's own Starlette adapter, run the same way beside it: one with
Bolt's defaults, and one with `process_before_response` (the fair baseline: the listener on
the request thread, no 10 ms poll for the ack). A third, for reference and not the headline,
does what escbot must before its ack and the fair baseline does not: it saves each command
(one SQLAlchemy insert and commit on WAL SQLite, as the plain way to build it). They get the
process tuning `escbot run` applies (bot.fastack), so only the request paths differ. With
`--without M[,M…]` (or `each`), escbot also runs with those fast-ack mechanisms of bot.fastack
switched off, each in a process (and a database) of its own. All take turns over several
rounds. The emulator runs here; the 20 concurrent senders of the ack measurement run in a
process of their own, as Slack's delivery is apart from its Web API.

Prints the headline, ack p99 of escbot over the fair baseline's (target <= 1.5x), then for
each app the first request a fresh process answers (cold) and the warm p50 and p99, with the
load average, and each app's CPU time per request while the senders send (its event loop's
thread, and its other threads: so background work competing with the acks shows); then the
Web API calls staffing one escalation with 12 routed stakeholders (every call, the first
page's DM included, counted once the outbox is empty), and the time from request to a fully
staffed channel.
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
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import parse_config  # noqa: E402
from bot.sandbox.driver import Driver, deliver  # noqa: E402
from bot.sandbox.emulator import Emulator  # noqa: E402
from bot.sandbox.seed import seed  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Escalation, OutboxItem  # noqa: E402
from tests.benchmarks.stats import pct  # noqa: E402
from tests.support.process import bot_env, wired  # noqa: E402

SECRET = "bench-secret"
SENDERS = 20
STAKEHOLDERS = [f"U0STK{n:05d}" for n in range(1, 13)]
BARE_APP = """
import gc
import sys
import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette import SlackRequestHandler
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
app = App(client=WebClient(token="xoxb-sandbox", base_url=sys.argv[1]),
          signing_secret=sys.argv[2], token_verification_enabled=False,
          process_before_response=sys.argv[4] != "defaults")
if sys.argv[4] == "saving":  # the command saved before the ack, a commit each, as escbot must
    import json
    import sqlalchemy as sa
    engine = sa.create_engine(sys.argv[5])
    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection, _):
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=30000")
    table = sa.Table("commands", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("payload", sa.Text))
    table.metadata.create_all(engine)
    def save_then_ack(ack, command):
        with engine.begin() as connection:
            connection.execute(table.insert().values(payload=json.dumps(command)))
        ack("Raising")
    app.command("/escalate")(save_then_ack)
else:
    app.command("/escalate")(lambda ack: ack())
handler = SlackRequestHandler(app)
async def events(request):
    return await handler.handle(request)
async def healthz(_):
    return PlainTextResponse("ok")
web = Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                        Route("/healthz", healthz, methods=["GET"])])
# The process tuning `escbot run` has (bot.fastack), so only the request paths differ.
sys.setswitchinterval(0.0005)
gc.collect()
gc.freeze()
uvicorn.run(web, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning", access_log=False)
"""
# `escbot run` with some of its fast-ack mechanisms switched off (see bot/fastack.py), to
# measure what each one buys side by side with the others.
WITHOUT = """
import sys
off = set(filter(None, sys.argv[1].split(",")))
if "give_way" in off:  # background work no longer waits for requests being answered
    from bot.fastack import Foreground
    Foreground.give_way = lambda self: None
if "write_priority" in off:  # request transactions queue with background ones, FIFO
    from storage.db import Database
    Database.set_background = lambda self, background: None
if "group_commit" in off:  # each request saves its own outbox item, in its own commit
    from bot.delivery import intake
    from storage.db import WouldWait
    def add(self, item):
        accepted = intake._Accepted(item)
        self._save([accepted])
        if accepted.error is not None:
            raise accepted.error
        return accepted.created
    intake.Intake.add = add
    def add_later(self, item, then):  # where it would be saved: on the loop if it can be
        accepted = intake._Accepted(item)
        def elsewhere():
            self._save([accepted])
            then(accepted.created, accepted.error)
        try:
            self._save([accepted], on_loop=True)
        except WouldWait:
            self.writer.submit(elsewhere)
            return
        then(accepted.created, accepted.error)
    intake.Intake.add_later = add_later
if "loop_save" in off:  # a batch queued on the event loop is always saved on the intake's thread
    from bot.delivery import intake
    def add_later(self, item, then):
        accepted = intake._Accepted(item, then=then)
        with self._lock:
            self._queue.append(accepted)
            lead = not self._saving
            self._saving = True
        if lead:
            self._lead_elsewhere()
    intake.Intake.add_later = add_later
if "early_answer" in off:  # the answer leaves when the listener returns, as in Bolt
    from starlette.concurrency import run_in_threadpool
    from bot import web
    async def answer(bolt, request, listeners):
        return await run_in_threadpool(bolt.dispatch, request)
    web.answer_at_ack = answer
if "on_loop" in off:  # /escalate dispatched on the listener pool, as every other request
    from bot.fastack import OnLoop
    OnLoop.__call__ = lambda self, request: False
if "tuning" in off:  # no switch interval, no frozen heap
    from bot import fastack
    fastack.tune_process = fastack.freeze_heap = lambda: None
from bot.cli import main
main(["run"])
"""
MECHANISMS = (
    "give_way",
    "write_priority",
    "group_commit",
    "early_answer",
    "on_loop",
    "loop_save",
    "tuning",
)


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


def send_all(
    url: str, prepared: list[tuple[bytes, dict[str, str]]]
) -> tuple[list[float], float, float]:
    """Send prepared requests from 20 concurrent senders; return each answer's latency (s),
    and the wall-clock moments the first was sent and the last answered."""

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
            started = time.time()
            latencies = list(pool.map(one, prepared))
            return latencies, started, time.time()
    finally:
        gc.enable()


def thread_cpu(pid: int) -> dict[int, float]:
    """Return the CPU seconds each thread of a process has run (Linux schedstat, in ns)."""
    seconds = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
                seconds[int(tid)] = int(stat.read().split()[0]) / 1e9
        except OSError:  # the thread ended
            continue
    return seconds


class CpuWindow:
    """CPU time of a server's event-loop thread and of its other threads over the bursts,
    counted only while the senders were sending (sampled every 10 ms)."""

    def __init__(self) -> None:
        self.loop = self.others = 0.0
        self.requests = 0

    def record(
        self,
        pid: int,
        samples: list[tuple[float, dict[int, float]]],
        start: float,
        end: float,
        requests: int,
    ) -> None:
        inside = [s for s in samples if start <= s[0] <= end]
        if len(inside) < 2:
            return
        (_, first), (_, last) = inside[0], inside[-1]
        for tid, seconds in last.items():
            spent = seconds - first.get(tid, 0.0)
            if tid == pid:
                self.loop += spent
            else:
                self.others += spent
        # the requests answered within the sampled part of the window, pro rata
        self.requests += round(requests * (inside[-1][0] - inside[0][0]) / (end - start))

    def per_request(self) -> tuple[float, float]:
        n = max(1, self.requests)
        return self.loop / n, self.others / n


def fire(
    driver: Driver, texts: list[str], pid: int | None = None, cpu: CpuWindow | None = None
) -> list[float]:
    """Send the commands from 20 concurrent senders in a process of their own.

    The requests are prepared here (their response URLs and trigger IDs live in this
    process's emulator) and sent from there, so the emulator answering the bot's Web API
    calls does not slow down the senders timing the acks. With a `cpu` window, the server
    process `pid`'s threads are sampled while the senders send.
    """
    with driver.held() as prepared:
        for text in texts:
            driver.command("U0ANA00001", "/escalate", text)
    samples: list[tuple[float, dict[int, float]]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.time(), thread_cpu(pid)))  # type: ignore[arg-type]
            done.wait(0.01)

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as senders:
        senders.submit(int).result()  # the senders' process is up before sampling starts
        sampler = threading.Thread(target=sample, daemon=True)
        if cpu is not None and pid is not None:
            sampler.start()
        try:
            latencies, started, ended = senders.submit(send_all, driver.bot_url, prepared).result()
        finally:
            done.set()
            if sampler.is_alive():
                sampler.join()
    if cpu is not None and pid is not None:
        cpu.record(pid, samples, started, ended, len(texts))
    return latencies


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(
    args: list[str], env: dict[str, str], ready: str, *, bot: bool = False
) -> subprocess.Popen[bytes]:
    """Start a server in its own interpreter and wait until it answers HTTP (a bot: until it
    has wired itself, as `escbot run` serves liveness while it starts)."""
    proc = subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{args} exited with {proc.returncode}")
        if bot:
            if wired(ready.rsplit("/", 1)[0]):
                return proc
            time.sleep(0.05)
            continue
        try:
            urllib.request.urlopen(ready, timeout=1).read()
            return proc
        except urllib.error.HTTPError:
            return proc  # it answers
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{ready} did not come up")


class Target:
    """One app under measurement: its process, its driver, its database (escbot's kinds)."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], driver: Driver, db: Any):
        self.name, self.proc, self.driver, self.db = name, proc, driver, db
        self.cold = 0.0
        self.lat: list[float] = []
        self.cpu = CpuWindow()
        self.sent = 0  # escalations raised so far (escbot kinds)

    def settle(self) -> None:
        """Wait until every escalation sent is staffed and the outbox is empty."""
        if self.db is not None:
            settle(self.db, self.sent)
            quiesce(self.db)


def _count(db: Database, statement: Any) -> int | None:
    """Return a count read from the bot's database; None while the bot holds its lock."""
    try:
        with db.uow() as uow:
            return int(uow.session.scalar(statement) or 0)
    except OperationalError:  # the bot holds SQLite's write lock a moment: look again later
        return None


def settle(db: Database, count: int) -> None:
    """Wait until `count` escalations are fully staffed (the bot runs elsewhere)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        staffed = Escalation.staffed_at.is_not(None)
        done = _count(db, select(func.count()).select_from(Escalation).where(staffed))
        if done is not None and done >= count:
            return
        time.sleep(0.02)
    raise RuntimeError("escalations were not staffed in time")


def quiesce(db: Database) -> None:
    """Wait until the bot has no Slack work pending (pages of the burst, DMs…)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        pending = _count(
            db, select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending")
        )
        if pending == 0:
            return
        time.sleep(0.05)
    raise RuntimeError("the bot's outbox did not drain in time")


def main() -> None:
    """Run the measurements and print them with their targets."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="per app and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sequential", type=int, default=30)
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="MECHANISMS",
        help=f"also run escbot with these off (comma-separated of {', '.join(MECHANISMS)}"
        " or `each`); repeatable",
    )
    parser.add_argument("--calls-only", action="store_true", help="only count the Web API calls")
    args = parser.parse_args()
    variants: list[str] = []
    for spec in args.without:
        variants += list(MECHANISMS) if spec == "each" else [spec]
    config_text = bench_config_text()
    config = parse_config(config_text)
    tmp = Path(tempfile.mkdtemp())
    emulator = Emulator(rate_limits=False)
    emulator.start()
    seed(emulator, config)
    for user in STAKEHOLDERS:
        emulator.add_user(user, user.lower())
    config_path = tmp / "escalation.yaml"
    config_path.write_text(config_text)
    load_before = os.getloadavg()
    targets: list[Target] = []

    def spawn_bot(name: str, off: str | None) -> Target:
        db = Database(f"sqlite:///{tmp / f'bench-{len(targets)}.db'}")
        db.upgrade()
        port = free_port()
        env = bot_env(emulator.bot_token, SECRET, emulator.url, db.url, config_path, port)
        command = [sys.executable, "-m", "bot", "run"]
        if off is not None:
            command = [sys.executable, "-c", WITHOUT, off]
        proc = start_process(command, env, f"http://127.0.0.1:{port}/healthz", bot=True)
        driver = Driver(emulator, f"http://127.0.0.1:{port}/slack/events", SECRET)
        return Target(name, proc, driver, db)

    def spawn_bare(name: str, mode: str) -> Target:
        port = free_port()
        saved = f"sqlite:///{tmp / f'bare-{len(targets)}.db'}"
        proc = start_process(
            [sys.executable, "-c", BARE_APP, emulator.url, SECRET, str(port), mode, saved],
            {},
            f"http://127.0.0.1:{port}/healthz",
        )
        return Target(
            name, proc, Driver(emulator, f"http://127.0.0.1:{port}/slack/events", SECRET), None
        )

    try:
        bot = spawn_bot("escbot", None)
        targets.append(bot)
        if args.calls_only:
            for label in ("first after start", "next"):
                calls, invited, replies = count_calls(emulator, bot)
                print(
                    f"Web API calls for one escalation inviting {invited} users "
                    f"({len(STAKEHOLDERS)} routed stakeholders), first page included, {label}: "
                    f"{len(calls)}   (target <= 6)"
                )
                print(f"    {', '.join(calls)}")
                print(
                    f"    plus {replies} reply to the reporter through the command's response_url"
                )
            return
        targets.append(spawn_bare("bare Bolt", "defaults"))
        fair = spawn_bare("Bolt, process_before_response (fair)", "inline")
        targets.append(fair)
        targets.append(spawn_bare("Bolt, process_before_response, saving", "saving"))
        for off in variants:
            targets.append(spawn_bot(f"escbot without {off}", off))

        # The first request each fresh process answers: imports and caches on its path.
        for target in targets:
            text = "#other Cold first" if target.db is not None else "cold"
            target.cold = fire(target.driver, [text])[0]
            target.sent += target.db is not None
        for target in targets:  # warm up
            texts = [f"#other warm {i}" for i in range(SENDERS)]
            fire(target.driver, texts)
            target.sent += SENDERS if target.db is not None else 0
        for target in targets:
            target.settle()

        n, rounds = args.requests, args.rounds
        burst_seconds: list[float] = []
        # Rounds take turns, so a slower or faster spell of the machine falls on all apps
        # alike; each app's round ends with its staffing done, not weighing on the next app.
        for r in range(rounds):
            for target in targets:
                sent_at = time.time()
                texts = [f"SEV2 #other Bench escalation {r}.{i}" for i in range(n)]
                target.lat += fire(target.driver, texts, target.proc.pid, target.cpu)
                if target.db is not None:
                    target.sent += n
                    target.settle()
                if target is bot:
                    burst_seconds.append(time.time() - sent_at)

        staffed: list[float] = []  # request -> fully staffed, one escalation at a time
        for i in range(args.sequential):
            sent = time.time()
            bot.driver.command("U0ANA00001", "/escalate", f"SEV2 #other One at a time {i}")
            bot.sent += 1
            settle(bot.db, bot.sent)
            staffed.append(time.time() - sent)
        calls, invited, _ = count_calls(emulator, bot)
    finally:
        for target in targets:
            target.proc.terminate()
        for target in targets:
            try:
                target.proc.wait(30)
            except subprocess.TimeoutExpired:
                target.proc.kill()
        emulator.stop()
    load_after = os.getloadavg()

    fair_p99 = pct(fair.lat, 99)
    ratio = pct(bot.lat, 99) / fair_p99
    print(f"ack p99 escbot / Bolt with process_before_response: {ratio:.2f}x   (target <= 1.5x)")
    print(
        f"    {n * rounds} requests per app ({rounds} rounds taking turns) from {SENDERS}"
        f" concurrent senders; load average {load_before[0]:.2f} before, {load_after[0]:.2f}"
        f" after ({os.cpu_count()} CPUs)"
    )
    print(f"    {'':<44}  {'cold first':>10}  {'warm p50':>9}  {'warm p99':>9}  {'p99 / fair':>10}")
    for target in targets:
        print(
            f"    {target.name:<44}  {target.cold * 1000:7.1f} ms"
            f"  {pct(target.lat, 50) * 1000:6.1f} ms  {pct(target.lat, 99) * 1000:6.1f} ms"
            f"  {pct(target.lat, 99) / fair_p99:9.2f}x"
        )
    print(
        "    CPU per request while the senders send (the event loop's thread; the others:"
        " listeners, the outbox's lanes, the scheduler):"
    )
    for target in targets:
        loop_ms, others_ms = (1000 * x for x in target.cpu.per_request())
        print(
            f"    {target.name:<44}  {loop_ms + others_ms:5.2f} ms = loop {loop_ms:.2f}"
            f" + other threads {others_ms:.2f}"
        )
    with bot.db.uow() as uow:
        rows = [e for e in uow.repos.escalations.find() if e.title.startswith("Bench")]
    burst = [(e.staffed_at - e.created_at).total_seconds() for e in rows if e.staffed_at]
    print(
        f"Web API calls for one escalation inviting {invited} users "
        f"({len(STAKEHOLDERS)} routed stakeholders), first page included: {len(calls)}"
        "   (target <= 6)"
    )
    print(f"    {', '.join(calls)}")
    print(
        f"request -> fully staffed, one at a time ({len(staffed)} escalations, limits off):"
        f" p50 {statistics.median(staffed) * 1000:.1f} ms  p99 {pct(staffed, 99) * 1000:.1f} ms"
        "   (target p50 < 250 ms)"
    )
    print(
        f"    during the {n}-request bursts: each all staffed in "
        f"{statistics.median(burst_seconds):.2f} s (median); per escalation "
        f"p50 {statistics.median(burst) * 1000:.0f} ms  p99 {pct(burst, 99) * 1000:.0f} ms"
    )


def count_calls(emulator: Emulator, bot: Target) -> tuple[list[str], int, int]:
    """Raise one escalation with 12 routed stakeholders; return every Web API call it made
    until the outbox is empty (its first page included), users invited, replies."""
    quiesce(bot.db)
    before, replies = len(emulator.calls), len(emulator.responses)
    bot.driver.command("U0ANA00001", "/escalate", "#press Reporter asks about leak")
    bot.sent += 1
    settle(bot.db, bot.sent)
    quiesce(bot.db)
    made = emulator.calls[before:]
    invited = sum(
        len(c.args["users"].split(",")) for c in made if c.method == "conversations.invite"
    )
    return [c.method for c in made], invited, len(emulator.responses) - replies


if __name__ == "__main__":
    main()
