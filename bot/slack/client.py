"""The slack_sdk Web API client the gateway uses, with its retry handlers: rate limits waited
out (Retry-After), brief connection and server failures retried, on a clock that tests set."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.fastack import Foreground

log = logging.getLogger(__name__)


Sleep = Callable[[float], None]


class _Waiting(RetryHandler):
    """A retry handler that waits through an injected `sleep` (a fake clock in drills)."""

    sleep: Sleep = time.sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.retrying(request)
        self.sleep(self.wait(state, response))
        state.increment_current_attempt()

    def retrying(self, request: HttpRequest) -> None:
        """Note that `request` is about to be tried again (nothing by default)."""

    def wait(self, state: RetryState, response: HttpResponse | None) -> float:
        """Return how long to wait before the next attempt."""
        return float(self.interval_calculator.calculate_sleep_duration(state.current_attempt))


class RateLimited(_Waiting, RateLimitErrorRetryHandler):
    on_retry: Callable[[str], None] = staticmethod(lambda url: None)  # counts each 429

    def retrying(self, request: HttpRequest) -> None:
        self.on_retry(request.url)

    def wait(self, state: RetryState, response: HttpResponse | None) -> float:
        headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
        retry_after = (headers.get("retry-after") or ["1"])[0]
        # Jitter, so workers told the same Retry-After do not all come back at once.
        return float(int(retry_after)) + random.random()


class Brief(_Waiting):
    """On a request's thread, Slack down is retried once, not waited out: the user is told."""

    foreground: Foreground | None = None  # set by the gateway; None: every thread waits
    REQUEST_RETRIES = 1

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        on_request = self.foreground is not None and self.foreground.on_request()
        if on_request and state.current_attempt >= self.REQUEST_RETRIES:
            return False
        return super().can_retry(state=state, request=request, response=response, error=error)


class _Disconnected(Brief, ConnectionErrorRetryHandler):
    pass


class _ServerFailed(Brief, ServerErrorRetryHandler):
    pass


def make_client(
    token: str,
    base_url: str,
    *,
    retries: int = 5,
    timeout: int = 10,
    sleep: Sleep = time.sleep,
) -> WebClient:
    """Build a WebClient that retries rate limits, connection errors and 5xx, waiting by `sleep`."""
    handlers: list[RetryHandler] = []
    for kind in (RateLimited, _Disconnected, _ServerFailed):
        handler = kind(max_retry_count=retries)
        handler.sleep = sleep
        handlers.append(handler)
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=handlers)
