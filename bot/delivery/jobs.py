"""An outbox item as a handler sees it (`Job`), how a handler says it cannot finish yet
(`NotReady`, `Later`) or ever (`Permanent`), and the lease and retry timings."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# A worker holds an item for LEASE and renews it every RENEW_EVERY while it runs, so an item
# held by a process that died without a trace is free again within LEASE.
LEASE = timedelta(seconds=60)
RENEW_EVERY = 15.0
MAX_BACKOFF = timedelta(minutes=10)


def backoff(attempt: int) -> timedelta:
    """Return the wait before the next attempt: 1 s, 2 s, 4 s … capped at 10 minutes."""
    return min(timedelta(seconds=2 ** max(0, attempt - 1)), MAX_BACKOFF)


URGENT_WORKERS = 8  # the urgent lane's threads (pages; mostly waiting out per-person limits)


WAITING = "waiting: "  # how last_error starts while an item waits for another one
MIN_WAIT = timedelta(seconds=1)
MAX_WAIT = timedelta(minutes=1)


class Permanent(Exception):
    """The side effect can never succeed; stop retrying it."""


class NotReady(Exception):
    """What the item builds on (an escalation's channel, its card) is not done yet.

    The item waits without spending an attempt: it is tried again soon (the older the item,
    the less often, up to once a minute) and at once when `wake` says its escalation moved on.
    `within` (seconds) bounds the wait: the moment the item stops waiting for it anyway.
    """

    def __init__(self, reason: str = "", within: float | None = None):
        super().__init__(reason)
        self.within = within


class Later(Exception):
    """Not now, but in `seconds` (a rate limit Slack would otherwise answer with a 429).

    The item is released without spending an attempt and is due again then; no worker
    thread waits for it meanwhile.
    """

    def __init__(self, seconds: float, reason: str = "rate limited"):
        super().__init__(f"{reason}: again in {seconds:.2f} s")
        self.seconds = max(0.0, seconds)


def waiting_time(age: timedelta) -> timedelta:
    """Return how long an item of this age waits before looking again: a tenth of its age."""
    return min(max(age / 10, MIN_WAIT), MAX_WAIT)


@dataclass(frozen=True)
class Job:
    """An outbox item as handed to its handler."""

    id: int
    key: str
    kind: str
    escalation_id: int | None
    payload: dict[str, Any]
    attempt: int  # 1 on the first try

    @classmethod
    def of(cls, item: Any) -> Job:
        """Return the job of an outbox row (`OutboxItem`) whose attempt is counted."""
        return cls(
            item.id, item.key, item.kind, item.escalation_id, dict(item.payload), item.attempts
        )

    @property
    def retrying(self) -> bool:
        """Return True when an earlier attempt may have done part of the work."""
        return self.attempt > 1


Handler = Callable[[Job], None]


def worker_name() -> str:
    """Return this process's worker name, `host:pid:token` (the token tells restarts apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _split(owner: str) -> tuple[str, int, str] | None:
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


def _running(pid: int) -> bool:
    """Return True when the process exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
