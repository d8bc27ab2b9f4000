"""Answering the invoker of a command or button once the request is acknowledged.

Bolt resets `ack.response` to None when a listener raises after calling ack(); if the
listener thread gets there before Bolt's request thread has seen the ack, Slack gets no
answer (a 404 after three seconds). So refusals and bad input of an acknowledged request
(UserError) are answered here, not raised to the app's error handler; anything unexpected
still goes there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from bot.errors import UsageError, user_message
from bot.services import Services

Reply = tuple[str, list[dict[str, Any]] | None]


class _Parsed(Protocol):
    @property
    def sub(self) -> str: ...


Parsed = TypeVar("Parsed", bound=_Parsed)


def parse_and_ack(
    ack: Callable[..., Any], parse: Callable[[], Parsed], help_text: Callable[[], str]
) -> Parsed | None:
    """Parse a command's text and acknowledge it: bad input and `help` are answered in the ack
    itself (None is returned); anything else is acknowledged empty and returned to run."""
    try:
        request = parse()
    except UsageError as exc:
        ack(str(exc))
        return None
    if request.sub == "help":
        ack(help_text())
        return None
    ack()
    return request


def request_key(command: dict[str, Any]) -> str:
    """Return the key that makes a command's effects happen once, however often it is sent."""
    return f"command:{command['trigger_id']}"


def answer(svc: Services, response_url: str | None, run: Callable[[], Reply | None]) -> None:
    """Run the use case and tell the invoker what it did (if anything), or why it refused."""
    try:
        reply = run()
    except Exception as exc:  # raising after the ack would lose Slack's answer (see above)
        message = user_message(exc)
        if message is None:
            raise
        reply = message, None
    if reply is not None and response_url:
        svc.slack.respond(response_url, reply[0], blocks=reply[1])
