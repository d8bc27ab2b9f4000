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

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

#: Slack's answers to apps.connections.open that no retry will change.
REFUSED = frozenset({"invalid_auth", "not_allowed_token_type", "not_authed", "account_inactive"})


class AppTokenRefused(Exception):
    """Slack refused the app-level token (SLACK_APP_TOKEN)."""


class SocketLink:
    """The bot's Socket Mode connection: connect, report whether connected, close."""

    def __init__(self, app: App, app_token: str) -> None:
        self.handler = SocketModeHandler(app, app_token)

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

    def connected(self) -> bool:
        """Return True while the socket is open (a readiness check)."""
        return self.handler.client.is_connected()

    def close(self) -> None:
        """Close the socket and stop reconnecting."""
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
