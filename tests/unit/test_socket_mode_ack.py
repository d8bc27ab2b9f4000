"""Acknowledging an envelope whose socket closed under the listener."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt import BoltResponse
from slack_sdk.errors import SlackClientNotConnectedError
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.socket_mode import ACK_WITHIN, answer


class Client:
    """A Socket Mode client whose connection is gone for the first `down` sends."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.logger = logging.getLogger("socket-mode-client")
        self.sent: list[Any] = []
        self.tries = 0

    def send_socket_mode_response(self, response: Any) -> None:
        self.tries += 1
        if self.tries <= self.down:
            raise SlackClientNotConnectedError("the connection is no longer active")
        self.sent.append(response)


def request() -> SocketModeRequest:
    return SocketModeRequest(type="slash_commands", envelope_id="env-1", payload={})


def test_the_ack_goes_out_on_the_next_connection_while_slack_waits():
    client = Client(down=2)
    answer(client, request(), BoltResponse(status=200, body="Raising"), time.time())
    assert client.tries == 3
    assert [r.envelope_id for r in client.sent] == ["env-1"]
    assert "Raising" in str(client.sent[0].payload)


def test_past_slacks_wait_the_ack_is_given_up_and_logged(caplog):
    client = Client(down=10**6)
    started = time.time() - ACK_WITHIN  # Slack has stopped waiting for it
    answer(client, request(), BoltResponse(status=200, body="Raising"), started)
    assert client.tries == 1 and client.sent == []
    assert "no connection to acknowledge slash_commands envelope env-1" in caplog.text
