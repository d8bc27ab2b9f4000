"""Answering the invoker: the one translation of errors into replies, and the answer of a
command or button once the request is acknowledged.

`reply_for` is where every error becomes what its user reads: a domain error (UserError)
says it itself, a database out of reach says "Not saved … try again" (bot.errors), Slack's
refusal is logged and told, and anything else is logged with its traceback and told that
nothing was lost. Bolt's error handler (`on_error`, registered by bot.app) and `answer` both
go through it; forms show the same message inline (handlers.actions).

Bolt resets `ack.response` to None when a listener raises after calling ack(); if the
listener thread gets there before Bolt's request thread has seen the ack, Slack gets no
answer (a 404 after three seconds). So refusals and bad input of an acknowledged request
(UserError) are answered here, not raised to the app's error handler; anything unexpected
still goes there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from slack_bolt import BoltResponse

from bot.errors import UsageError, user_message
from bot.services import Services
from bot.slack import SlackError

log = logging.getLogger(__name__)

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


def reply_for(error: Exception, body: dict[str, Any]) -> str | None:
    """Return what the user is told about an error (None: nobody waits to be told).

    Logs Slack's refusals in one line and unexpected errors with their context.
    """
    message = user_message(error)
    if message is None and isinstance(error, SlackError):  # Slack's refusal, not our bug
        log.warning("Slack refused a call for %s: %s", _kind(body), error)
        if body.get("type") == "event_callback":  # nobody to tell; a redelivery fares no better
            return None
        message = f":warning: Slack did not take that ({error.error}). Try again."
    if message is None:
        log.exception("unhandled error for %s", _kind(body), exc_info=error)
        message = ":warning: Something went wrong on our side; nothing was lost. Try again."
    return message


def on_error(error: Exception, body: dict[str, Any], respond: Any) -> BoltResponse | None:
    """Bolt's error handler: tell the user `reply_for` the error, ephemerally."""
    message = reply_for(error, body)
    if message is None:
        return BoltResponse(status=200, body="")
    try:
        if respond is not None and respond.response_url:
            respond(text=message, response_type="ephemeral", replace_original=False)
    except Exception as exc:  # Slack (its response_url) not answering: one line
        log.warning("could not tell the user about an error: %s: %s", type(exc).__name__, exc)
    return None


def _kind(body: dict[str, Any]) -> Any:
    return body.get("type") or body.get("command") or "an acknowledged request"


def answer(svc: Services, response_url: str | None, run: Callable[[], Reply | None]) -> None:
    """Run the use case and tell the invoker what it did (if anything), or why it refused."""
    try:
        reply = run()
    except Exception as exc:  # raising after the ack would lose Slack's answer (see above)
        message = reply_for(exc, {})
        reply = (message, None) if message else None
    if reply is not None and response_url:
        svc.slack.respond(response_url, reply[0], blocks=reply[1])
