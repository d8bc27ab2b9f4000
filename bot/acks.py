"""Answer Slack the moment a listener acks, while the listener goes on.

Over HTTP, the web endpoint runs Bolt's whole dispatch (listener included) on the listener
pool and gives its request a `SignallingAck` that hands the answer back to the event loop as
soon as it is called: the answer leaves at once and the work after `ack()` goes on, with no
thread in between.

In Socket Mode Bolt runs listeners on the pool itself and then looks every 10 ms whether the
listener has acked yet. There each request's `ack` sets an event, and the pool's `submit`,
which Bolt calls on the request thread just before it starts looking, returns once that event
is set (or the listener has finished): by the time Bolt looks, the answer is there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from slack_bolt import Ack, BoltContext, BoltResponse

from bot.executors import TrackedPool

ACK_TIMEOUT = 3.0  # Slack's window; Bolt gives up waiting for an ack after as long


class SignallingAck(Ack):
    """Bolt's `ack` that also sets an event, and passes its answer on, when called."""

    def __init__(self, on_ack: Callable[[BoltResponse], None] | None = None) -> None:
        super().__init__()
        self.done = threading.Event()
        self.on_ack = on_ack

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().__call__(*args, **kwargs)
        finally:
            self.done.set()
        if self.on_ack is not None:
            self.on_ack(response)
        return response


class ListenerPool(TrackedPool):
    """The pool Bolt runs listeners on; a request's submit waits for that request's ack."""

    def __init__(self, max_workers: int, name: str, ack_timeout: float = ACK_TIMEOUT):
        super().__init__(max_workers, name)
        self.ack_timeout = ack_timeout
        self._expected = threading.local()

    def expect_ack(self, context: BoltContext) -> None:
        """Give the request a signalling `ack`; its listener's submit (next on this thread)
        returns once it is called."""
        self._expected.__dict__.pop("ack", None)  # a request no listener took
        current = context.get("ack")
        if isinstance(current, SignallingAck):  # the web endpoint's: it answers by itself
            return
        if current is None or current.response is None:  # Bolt's own, not called yet
            ack = SignallingAck()
            context["ack"] = ack
            self._expected.ack = ack

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        ack: SignallingAck | None = self._expected.__dict__.pop("ack", None)
        future = super().submit(fn, *args, **kwargs)
        if ack is not None:
            future.add_done_callback(lambda _: ack.done.set())  # finished without acking
            ack.done.wait(self.ack_timeout)
        return future
