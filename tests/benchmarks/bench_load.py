"""Load: a burst of escalations from many senders with Slack's rate limits on.

Run: python tests/benchmarks/bench_load.py [--escalations 200] [--senders 20]

The bot serves real HTTP, the emulator enforces every tier, and both run on simulated Slack
time (waits advance it), so ten minutes of rate limiting take seconds. Prints the ack
latencies against the 3 s window, the simulated Slack time against the least the tiers
allow, and checks every escalation ended fully staffed exactly once.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from tests.support.load import ACK_WINDOW, check_all_staffed_once, run_load  # noqa: E402


def main() -> None:
    """Run the burst and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--escalations", type=int, default=200)
    parser.add_argument("--senders", type=int, default=20)
    args = parser.parse_args()
    config = load_config(ROOT / "escalation.example.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        result, world = run_load(config, Path(tmp), args.escalations, args.senders, 900)
        try:
            check_all_staffed_once(world, args.escalations)
        finally:
            world.bot.stop()
            world.emulator.stop()
    print(result.report())
    print("every escalation fully staffed, none duplicated")
    late = [a for a in result.acks if a >= ACK_WINDOW]
    if late:
        sys.exit(f"{len(late)} acks missed the {ACK_WINDOW:.0f} s window")


if __name__ == "__main__":
    main()
