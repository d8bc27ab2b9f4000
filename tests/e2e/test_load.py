"""A burst of escalations under Slack's real rate limits: all staffed once, acks in time.

The full-size run (200 escalations, 20 senders) is tests/benchmarks/bench_load.py.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import TeamConfig
from tests.support.load import ACK_WINDOW, check_all_staffed_once, run_load


def test_a_burst_beyond_the_tier_limits_is_staffed_once_within_the_bound(
    config: TeamConfig, tmp_path: Path
):
    result, world = run_load(config, tmp_path, escalations=45, senders=9)
    try:
        check_all_staffed_once(world, 45)
    finally:
        world.bot.stop()
        world.emulator.stop()
    print("\n" + result.report())
    assert max(result.acks) < ACK_WINDOW
    assert result.throttled > 0  # the limits were really hit
    assert result.bound == 120.0  # 45 channels at 20 a minute: two full minutes at least
    assert result.bound <= result.simulated <= 3 * result.bound
