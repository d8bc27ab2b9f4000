"""Socket Mode: Slack's requests over a WebSocket the bot opens, instead of a public URL.

Bolt's `SocketModeHandler` (slack_sdk's own WebSocket client) turns each envelope into the
same `BoltRequest` an HTTP request becomes, so commands, buttons, forms and events go through
the same middleware (de-duplication included: a redelivered envelope carries the same
payload, and its `retry_attempt` reaches the listeners as `X-Slack-Retry-Num`), listeners and
outbox. Signatures are not checked: Slack authenticated the socket with the app token.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientNotConnectedError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

log = logging.getLogger(__name__)

#: Slack waits this long for an envelope's acknowledgement, on any of the app's connections.
ACK_WITHIN = 3.0

#: Slack's answers to apps.connections.open that no retry will change.
REFUSED = frozenset({"invalid_auth", "not_allowed_token_type", "not_authed", "account_inactive"})


class AppTokenRefused(Exception):
    """Slack refused the app-level token (SLACK_APP_TOKEN)."""


class _Handler(SocketModeHandler):
    """Bolt's handler, but an envelope Bolt cannot even read is acknowledged and logged in one
    line: a redelivery would fail the same way, and a traceback says nothing more."""

    def handle(self, client: Any, req: SocketModeRequest) -> None:
        start = time.time()
        try:
            response = run_bolt_app(self.app, req)
        except Exception as exc:
            log.warning(
                "Socket Mode: unreadable %s envelope %s acknowledged and dropped (%s: %s)",
                req.type,
                req.envelope_id,
                type(exc).__name__,
                exc,
            )
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        answer(client, req, response, start)


def answer(client: Any, req: SocketModeRequest, response: Any, start: float) -> None:
    """Acknowledge an envelope; if its socket closed under the listener (Slack sent
    `disconnect`), again on the next one while Slack still waits (the command's work is saved
    already, and the reporter should see its reply, not Slack's timeout)."""
    while True:
        try:
            send_response(client, req, response, start)
            return
        except SlackClientNotConnectedError:
            if time.time() - start >= ACK_WITHIN:
                log.warning(
                    "Socket Mode: no connection to acknowledge %s envelope %s within %.0f s",
                    req.type,
                    req.envelope_id,
                    ACK_WITHIN,
                )
                return
            time.sleep(0.05)  # the client is reconnecting: look again in a moment


class SocketLink:
    """The bot's Socket Mode connection: connect, report whether connected, close."""

    def __init__(self, app: App, app_token: str) -> None:
        # Its own client for apps.connections.open, without the gateway's retries: while Slack
        # cannot be reached, start() hands over to the background at once instead of waiting.
        opener = WebClient(base_url=app.client.base_url, timeout=10, logger=log)
        self.handler = _Handler(app, app_token, web_client=opener)
        self._closed = threading.Event()

    def connect(self) -> None:
        """Open the socket (apps.connections.open, then the WebSocket, then `hello`).

        Raises AppTokenRefused when Slack refuses the token; other failures propagate.
        Once connected, the client reconnects by itself on `disconnect` or a dropped socket.
        """
        try:
            self.handler.connect()
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error in REFUSED:
                raise AppTokenRefused(
                    f"SLACK_APP_TOKEN refused by apps.connections.open: {error}"
                ) from None
            raise

    def start(self, *, first_wait: float = 1.0, max_wait: float = 30.0) -> None:
        """Connect now, or keep trying in the background while Slack cannot be reached.

        A refused token raises AppTokenRefused at once: no retry will change Slack's mind.
        """
        try:
            self.connect()
            return
        except AppTokenRefused:
            raise
        except Exception as exc:
            log.warning("Socket Mode: cannot connect yet (%s); retrying in the background", exc)
        thread = threading.Thread(
            target=self._retry, args=(first_wait, max_wait), name="socket-connect", daemon=True
        )
        thread.start()

    def _retry(self, wait: float, max_wait: float) -> None:
        while not self._closed.wait(wait):
            self.handler.client.wss_uri = None  # a URL is good for one connection: ask anew
            try:
                self.connect()
            except AppTokenRefused as exc:
                log.error("%s; not retrying", exc)
                return
            except Exception as exc:
                wait = min(wait * 2, max_wait)
                log.warning("Socket Mode: still cannot connect (%s); next try in %.0f s", exc, wait)
                continue
            log.info("Socket Mode: connected")
            return

    def connected(self) -> bool:
        """Return True while the socket is open (a readiness check)."""
        return self.handler.client.is_connected()

    def close(self) -> None:
        """Close the socket and stop reconnecting."""
        self._closed.set()
        client = self.handler.client
        client.auto_reconnect_enabled = False
        # The client's reader holds the socket's lock in a recv() of up to 3 s, and closing
        # waits for that lock: shut its reading side down first so the recv() returns at once.
        sock = getattr(client.current_session, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
        # Its message loop waits up to 1 s for the next message: wake it to see it is closed.
        client.closed = True
        client.message_queue.put(None)
        self.handler.close()
