"""Benchmark of start-up: wall time from spawning `escbot run` to its first 200 on /healthz,
and to the bot wired (its /readyz naming the real checks: it answers Slack from then on).

Run: python tests/benchmarks/bench_startup.py [--runs N]

Beside it, taking turns, a bare Bolt app served by Starlette and uvicorn (Bolt's own adapter,
a /healthz route) is started the same way. escbot gets a current SQLite schema, the example
config and a token the local Slack emulator takes (its one auth.test at start answers), as in
production. Prints the median (and spread) of each over N runs, the ratio, and the load.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import parse_config  # noqa: E402
from bot.sandbox.emulator import Emulator  # noqa: E402
from bot.sandbox.seed import seed  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.support.process import bot_env, wired  # noqa: E402

SECRET = "bench-secret"
BARE_APP = """
import sys
import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette import SlackRequestHandler
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
app = App(client=WebClient(token="xoxb-sandbox", base_url=sys.argv[1]),
          signing_secret=sys.argv[2], token_verification_enabled=False)
app.command("/escalate")(lambda ack: ack())
handler = SlackRequestHandler(app)
async def events(request):
    return await handler.handle(request)
async def healthz(_):
    return PlainTextResponse("ok")
web = Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                        Route("/healthz", healthz, methods=["GET"])])
uvicorn.run(web, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
"""


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_healthy(args: list[str], env: dict[str, str], port: int) -> tuple[float, float]:
    """Spawn a server; return seconds until /healthz answers 200 and until it has wired the
    bot (for the bare app, the same); stop it."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    live: float | None = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{args[:3]} exited with {proc.returncode}")
            if live is None:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                        if r.status == 200:
                            live = time.perf_counter() - started
                except (urllib.error.URLError, OSError):
                    time.sleep(0.005)
                    continue
            if "bot" not in args or wired(base):
                return live, time.perf_counter() - started
            time.sleep(0.005)
        raise RuntimeError(f"{args[:3]} did not come up")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    """Start each app N times, taking turns; print the medians, the ratio and the load."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    config_text = (ROOT / "escalation.example.yaml").read_text()
    tmp = Path(tempfile.mkdtemp())
    config_path = tmp / "escalation.yaml"
    config_path.write_text(config_text)
    emulator = Emulator(rate_limits=False)
    emulator.start()
    seed(emulator, parse_config(config_text))
    db = Database(f"sqlite:///{tmp / 'startup.db'}")
    db.upgrade()  # a current schema, as `escbot run` finds it in production
    db.dispose()
    load_before = os.getloadavg()
    escbot: list[float] = []
    escbot_wired: list[float] = []
    bare: list[float] = []
    try:
        for _ in range(args.runs):
            port = free_port()
            env = bot_env(emulator.bot_token, SECRET, emulator.url, db.url, config_path, port)
            live, wired_at = time_to_healthy([sys.executable, "-m", "bot", "run"], env, port)
            escbot.append(live)
            escbot_wired.append(wired_at)
            port = free_port()
            command = [sys.executable, "-c", BARE_APP, emulator.url, SECRET, str(port)]
            bare.append(time_to_healthy(command, {}, port)[0])
    finally:
        emulator.stop()
    load_after = os.getloadavg()
    ratio = statistics.median(escbot) / statistics.median(bare)
    print(f"start -> first 200 on /healthz, escbot run / bare Bolt + Starlette: {ratio:.2f}x")
    print("    (target <= 1.5x)")
    wired_ratio = statistics.median(escbot_wired) / statistics.median(bare)
    print(f"start -> bot wired (answers Slack, /readyz its real checks): {wired_ratio:.2f}x bare")
    for name, values in (
        ("escbot run /healthz", escbot),
        ("escbot run wired", escbot_wired),
        ("bare Bolt + Starlette", bare),
    ):
        print(
            f"    {name:<22}: median {statistics.median(values):.2f} s"
            f"  (min {min(values):.2f} s, max {max(values):.2f} s, {len(values)} runs)"
        )
    print(
        f"    load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
        f" ({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
