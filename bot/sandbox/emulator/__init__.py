"""A Slack workspace emulator for the sandbox and the tests.

The package re-exports the public names: ``limits`` holds Slack's limits and rate-limit
tiers, ``records`` the errors and call records, ``args`` and ``blocks`` argument and Block
Kit validation, ``state`` the workspace records and shared helpers, ``dispatch`` the Web
API routing, faults, rate limits and response_url posts, ``conversations``, ``chat``,
``users`` and ``views`` the Web API methods by family, ``server`` the HTTP handler and
``workspace`` the :class:`Emulator` that combines them.

A Slack-compatible workspace served over real HTTP.

The emulator speaks the Slack Web API (``/api/<method>``) on an ephemeral
127.0.0.1 port, so the production code path (``slack_sdk.WebClient`` and
Bolt) is exercised unchanged: the bot only gets a different ``base_url``.

Behaviour follows Slack's documented contracts rather than what is convenient
for a test: validation errors, membership rules, trigger lifetimes, view
hashes, response_url limits and per-method rate-limit tiers all answer the way
Slack does, so a bot that passes against the emulator has handled the same
failures it will meet in production.

Everything runs on the standard library; state is guarded by one lock and the
server handles every request on its own daemon thread.
"""

from __future__ import annotations

from bot.sandbox.emulator.limits import (
    METHOD_TIERS,
    POST_MESSAGE_BURST,
    POST_MESSAGE_RATE,
    TIER_LIMITS,
)
from bot.sandbox.emulator.records import _RESET, Call, SlackError
from bot.sandbox.emulator.workspace import Emulator

__all__ = [
    "METHOD_TIERS",
    "POST_MESSAGE_BURST",
    "POST_MESSAGE_RATE",
    "TIER_LIMITS",
    "_RESET",
    "Call",
    "Emulator",
    "SlackError",
]
