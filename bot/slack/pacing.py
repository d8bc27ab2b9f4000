"""Pacing chat.postMessage per channel, a little under what Slack allows."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


# chat.postMessage: Slack allows about one message a second in a channel (a DM is a channel),
# with short bursts. The pacer keeps a little under that so the bot is seldom answered 429.
CHANNEL_RATE = 1.0
CHANNEL_BURST = 4


class ChannelPacer:
    """A token bucket per channel, so a send that would be rate-limited is known before it is
    made and can be put off (not slept through on a worker's thread); other channels' sends
    are never held up by it. Times are seconds on the caller's clock."""

    def __init__(self, rate: float = CHANNEL_RATE, burst: int = CHANNEL_BURST):
        self.rate, self.burst = rate, float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._booked: dict[str, float] = {}  # channel: when a put-off send comes back
        self._lock = threading.Lock()

    def reserve(self, channel: str, now: float) -> float:
        """Take a send for `channel` at `now` and return 0, or return how many seconds to
        wait before one is allowed (nothing taken)."""
        with self._lock:
            tokens, last = self._buckets.get(channel, (self.burst, now))
            tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[channel] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[channel] = (tokens - 1.0, now)
            booked = self._booked.get(channel)
            if booked is not None and booked <= now:
                del self._booked[channel]  # the booked send is this one (or came before it)
            return 0.0

    def book(self, channel: str, at: float) -> float:
        """Book the channel's next send at `at` for a caller who will come back then, unless
        one is booked already; return the moment booked (the caller's or the earlier one)."""
        with self._lock:
            booked = self._booked.get(channel)
            if booked is None or booked < at - 1.0 / self.rate:  # none, or one long gone
                self._booked[channel] = booked = at
            return booked

    def spare(self, channel: str) -> bool:
        """Return True when another send to `channel` could go now (as of the last reserve)."""
        with self._lock:
            tokens, _ = self._buckets.get(channel, (self.burst, 0.0))
            return tokens >= 1.0

    def refund(self, channel: str) -> None:
        """Give back a send reserved but not made."""
        with self._lock:
            if channel in self._buckets:
                tokens, last = self._buckets[channel]
                self._buckets[channel] = (min(self.burst, tokens + 1.0), last)
