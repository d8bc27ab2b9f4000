"""A burst of escalations against the emulator's real rate limits, on simulated Slack time.

Slack's tiers make a burst slow on purpose (conversations.create is Tier 2: 20 a minute), so
the emulator and the bot share one simulated clock: a thread told to wait (Retry-After, a
backoff) parks until the clock reaches its time, and the clock jumps to the earliest such
time as soon as nothing else moves it. Minutes of Slack time pass in seconds, and the
simulated total can be held against the least the tiers allow.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.sandbox.emulator import METHOD_TIERS, POST_MESSAGE_BURST, TIER_LIMITS, Emulator
from storage.models import Escalation, OutboxItem
from tests.support.world import World, make_world

START = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)
ACK_WINDOW = 3.0


class SimulatedTime(FakeClock):
    """A fake clock that waits move: `sleep` parks until the clock reaches its wake time."""

    def __init__(self, start: datetime, idle: float = 0.005):
        super().__init__(start)
        self._cond = threading.Condition()
        self._wakes: list[datetime] = []
        self._idle = idle  # real seconds without progress before the clock jumps ahead

    def time(self) -> float:
        """Return the simulated time as a POSIX timestamp (the emulator's clock)."""
        return self().timestamp()

    def jump_to(self, instant: datetime) -> None:
        """Move the clock forward to `instant` (never back) and wake whoever is due."""
        with self._cond:
            if instant > self():
                self.set(instant)
            self._cond.notify_all()

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of simulated time."""
        with self._cond:
            # Datetimes, not floats: the clock holds microseconds, and a float wake time can
            # sit a rounding error beyond every instant the clock can show.
            wake = self() + timedelta(seconds=seconds)
            heapq.heappush(self._wakes, wake)
            while self() < wake:
                if not self._cond.wait(self._idle) and self() < self._wakes[0]:
                    self.set(self._wakes[0])
                    self._cond.notify_all()
            self._wakes.remove(wake)
            heapq.heapify(self._wakes)
            self._cond.notify_all()


@dataclass
class LoadResult:
    """What a burst did, in real and simulated time."""

    escalations: int
    senders: int
    acks: list[float]
    wall: float
    simulated: float
    bound: float
    calls: Counter[str] = field(default_factory=Counter)
    throttled: int = 0
    told_pending: int = 0

    def report(self) -> str:
        """Return the figures, one per line."""
        acks = sorted(self.acks)
        p99 = acks[min(len(acks) - 1, math.ceil(0.99 * len(acks)) - 1)]
        return "\n".join(
            [
                f"escalations {self.escalations} from {self.senders} senders, Slack rate limits on",
                f"acks: max {max(acks):.3f} s, p99 {p99:.3f} s (window {ACK_WINDOW:.0f} s)",
                f"simulated Slack time {self.simulated / 60:.1f} min; the tiers allow no less "
                f"than {self.bound / 60:.1f} min ({self.simulated / self.bound:.2f}x)",
                f"wall time {self.wall:.1f} s",
                f"Web API calls {sum(self.calls.values())}, answered 429: {self.throttled}; "
                f"reporters told what was pending: {self.told_pending}",
            ]
        )


def tier_bound(ok_calls: Counter[str], feed_posts: int) -> float:
    """Return the least simulated time in which Slack's limits let these calls through."""
    bound = 0.0
    for method, count in ok_calls.items():
        tier = METHOD_TIERS.get(method)
        if tier is not None:  # at most `limit` calls in any 60 s window
            bound = max(bound, (math.ceil(count / TIER_LIMITS[tier]) - 1) * 60.0)
    return max(bound, float(feed_posts - POST_MESSAGE_BURST))  # one post a second per channel


def run_load(
    config: TeamConfig, tmp_path: Path, escalations: int, senders: int, wall_limit: float = 300
) -> tuple[LoadResult, World]:
    """Fire the burst, drive the outbox on simulated time until all are staffed; return both."""
    clock = SimulatedTime(START)
    emulator = Emulator(clock=clock.time, rate_limits=True)
    world = make_world(config, tmp_path, clock, emulator=emulator, sleep=clock.sleep)
    svc = world.bot.services
    started = time.perf_counter()

    def one(n: int) -> float:
        reply = world.driver.command("U0ANA00001", "/escalate", f"SEV3 Burst {n:04d}")
        assert reply.status == 200 and "Raising" in reply.body, reply.body
        return reply.elapsed

    with ThreadPoolExecutor(senders) as pool:
        acks = list(pool.map(one, range(1, escalations + 1)))

    deadline = time.monotonic() + wall_limit
    while True:
        assert time.monotonic() < deadline, "the burst did not finish in time"
        svc.listeners.wait_idle(wall_limit)
        svc.outbox.wait_idle(wall_limit)
        with world.db.uow() as uow:
            staffed = uow.session.scalar(
                select(func.count()).where(Escalation.staffed_at.is_not(None))
            )
            due = uow.session.scalar(
                select(func.min(OutboxItem.next_attempt_at)).where(OutboxItem.status == "pending")
            )
        if staffed == escalations and due is None:
            break
        if svc.outbox.dispatch_due():
            continue
        if due is not None:
            clock.jump_to(due)
    wall = time.perf_counter() - started

    calls = Counter(c.method for c in emulator.calls)
    ok = Counter(c.method for c in emulator.calls if c.ok)
    feed_posts = len(emulator.messages(config.team.feed_channel))
    result = LoadResult(
        escalations=escalations,
        senders=senders,
        acks=acks,
        wall=wall,
        simulated=clock.time() - START.timestamp(),
        bound=tier_bound(ok, feed_posts),
        calls=calls,
        throttled=len([c for c in emulator.calls if c.status == 429]),
        told_pending=len([r for r in emulator.responses if "is saved, but" in str(r)]),
    )
    return result, world


def check_all_staffed_once(world: World, escalations: int) -> None:
    """Assert every escalation of the burst exists once and is fully set up, once."""
    emulator = world.emulator
    with world.db.uow() as uow:
        rows = uow.repos.escalations.find()
        for row in rows:
            _ = list(row.participants)
    assert sorted(r.title for r in rows) == [f"Burst {n:04d}" for n in range(1, escalations + 1)]
    created = [c for c in emulator.calls_of("conversations.create") if c.ok]
    assert len(created) == escalations
    feed = Counter(
        m["text"].split("*")[1] for m in emulator.messages(world.config.team.feed_channel)
    )
    assert set(feed.values()) == {1} and len(feed) == escalations
    for row in rows:
        assert row.staffed_at and row.card_pinned and row.announce_ts
        channel = emulator.channel(row.channel_id or "")
        assert channel is not None and channel["pins"] == [row.card_ts]
        assert len(emulator.messages(row.channel_id or "")) == 1  # the card, nothing twice
        assert {p.user_id for p in row.participants} <= set(channel["members"])
