"""Acks over Socket Mode beside acks over HTTP: the same bot, the same burst of /escalate.

Run: python tests/benchmarks/bench_socket_mode.py [--senders 10] [--each 20] [--rounds 2]

Each round starts a fresh workspace and bot twice — once taking requests over signed HTTP,
once over Socket Mode (Bolt's SocketModeHandler on a real WebSocket) — sends the same burst
from concurrent senders and times each request to its acknowledgement as the emulator sees
it. Checks every escalation was recorded once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.clock import FakeClock  # noqa: E402
from bot.config import TeamConfig, load_config  # noqa: E402
from bot.runtime import start_local  # noqa: E402
from bot.sandbox.driver import Driver  # noqa: E402
from tests.support.socket_world import make_socket_world  # noqa: E402

SECRET = "bench-signing-secret"


def burst(config: TeamConfig, transport: str, senders: int, each: int) -> list[float]:
    """Send `senders` × `each` commands at once; return their ack latencies (seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(datetime(2026, 3, 4, 17, 0, tzinfo=UTC))
        world = make_socket_world(config, Path(tmp), clock)
        if transport == "http":  # the same bot again, on signed HTTP instead of the socket
            world.bot.stop()
            settings = world.bot.services.settings.model_copy(
                update={"slack_app_token": None, "slack_signing_secret": SECRET}
            )
            world.bot = start_local(
                settings, config, world.db, clock=clock, outbox_interval=None, scheduler=False
            )
            world.driver = Driver(world.emulator, world.bot.events_url, SECRET)
        acks: list[float] = []
        lock = threading.Lock()

        def send(sender: int) -> None:
            for n in range(each):
                reply = world.driver.command("U0ANA00001", "/escalate", f"SEV3 Load {sender}-{n}")
                if reply.status != 200:
                    raise SystemExit(f"{transport}: a command was not acknowledged: {reply}")
                with lock:
                    acks.append(reply.elapsed)

        threads = [threading.Thread(target=send, args=(s,)) for s in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        world.settle()
        with world.db.uow() as uow:
            recorded = len(uow.repos.escalations.find())
        world.bot.stop()
        world.emulator.stop()
        if recorded != senders * each or len(acks) != senders * each:
            raise SystemExit(f"{transport}: {recorded} recorded, {len(acks)} acked")
        return acks


def main() -> None:
    """Run the rounds and print ack p50 / p99 / max for each transport."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--each", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config = load_config(ROOT / "escalation.example.yaml")
    for round_ in range(1, args.rounds + 1):
        for transport in ("http", "socket"):
            acks = burst(config, transport, args.senders, args.each)
            q = statistics.quantiles(acks, n=100)
            print(
                f"round {round_} {transport:6}: {len(acks)} acks, p50 {q[49] * 1000:.0f} ms, "
                f"p99 {q[98] * 1000:.0f} ms, max {max(acks) * 1000:.0f} ms (window 3000 ms)"
            )
    print("every escalation recorded once")


if __name__ == "__main__":
    main()
