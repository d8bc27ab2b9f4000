"""Capture a request the driver builds, then deliver that exact body again and again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from bot.sandbox.driver import Driver, Reply


@dataclass
class Captured:
    """A signed request as Slack would send it: body, content type and headers."""

    body: bytes
    content_type: str
    headers: dict[str, str]


def capture(driver: Driver, build: Callable[[], object]) -> Captured:
    """Build a request with the driver's real payload shapes without sending it."""
    with driver.held() as held:
        build()
    [(body, headers)] = held
    return Captured(body, headers["Content-Type"], headers)


def deliver(driver: Driver, request: Captured, retry_num: int | None = None) -> Reply:
    """Send the captured request again, as a Slack retry when `retry_num` is given."""
    headers = dict(request.headers)
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return driver.send_raw(request.body, request.content_type, headers, sign=False)


def at_once(calls: list[Callable[[], Reply]]) -> list[Reply]:
    """Run the calls in threads released together; return their replies in order."""
    barrier = threading.Barrier(len(calls))
    replies: list[Reply | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        replies[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(r is not None for r in replies), "a delivery did not finish"
    return [r for r in replies if r is not None]
