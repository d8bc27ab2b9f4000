"""Records the emulator keeps and raises: :class:`SlackError` (a Web API error answer),
:class:`Call` (one recorded request), injected faults, triggers and response URLs, and
the JSON response helper.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class SlackError(Exception):
    """A Web API refusal: ``{"ok": false, "error": error, **extra}`` with HTTP 200."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Call:
    """One Web API request as the emulator saw it."""

    method: str
    args: dict
    ok: bool
    error: str | None
    at: float
    status: int


@dataclass
class _Fault:
    error: str | None
    status: int | None
    remaining: int
    latency: float
    retry_after: int
    reset: bool


@dataclass
class _Trigger:
    issued: float
    user_id: str | None
    used: bool = False


@dataclass
class _ResponseUrl:
    issued: float
    channel_id: str | None
    user_id: str | None
    message_ts: str | None
    uses: int = 0


_RESET = object()  # route result: drop the connection without answering


def _json_response(status: int, payload: dict, headers: dict | None = None):
    body = json.dumps(payload).encode()
    out = {"Content-Type": "application/json; charset=utf-8"}
    out.update(headers or {})
    return status, out, body
