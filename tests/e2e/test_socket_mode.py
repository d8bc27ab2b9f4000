"""Socket Mode end to end: the bot's real Bolt SocketModeHandler over a real WebSocket.

The same product checks as over HTTP — a command, a button, a form, an event — arrive as
envelopes from the emulator; plus what only Socket Mode has: app tokens, acknowledgements
with payloads, redelivery of an unacknowledged event, and reconnects on `disconnect`.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot.blocks import Action
from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.runtime import start_local
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.socket_mode import SocketMode
from bot.settings import Settings
from bot.socket_mode import AppTokenRefused, SocketLink
from tests.support.escalations import card, click, escalate_form, events, flatten, load, raise_esc
from tests.support.people import ONCALL, REPORTER
from tests.support.replay import capture, deliver
from tests.support.socket_world import SocketWorld, make_socket_world

READY = {"database": "ok", "slack_token": "ok", "socket_mode": "ok"}  # all checks passing


@pytest.fixture
def sworld(config: TeamConfig, tmp_path: Path, clock: FakeClock) -> Iterator[SocketWorld]:
    """A running workspace whose bot is connected over Socket Mode."""
    w = make_socket_world(config, tmp_path, clock)
    yield w
    w.stop()


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as failure:
        status, body = failure.code, failure.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


def _open_home(world: SocketWorld, user: str, **kwargs: Any) -> Any:
    return world.driver.event(
        {"type": "app_home_opened", "user": user, "channel": "D0HOME0001", "tab": "home"},
        **kwargs,
    )


def test_escalate_over_socket_mode_staffs_the_channel(sworld: SocketWorld):
    reply = sworld.driver.command(REPORTER, "/escalate", "SEV2 #ads Counterfeit ads wave")
    assert reply.status == 200 and "Raising" in reply.json["text"]
    [envelope] = sworld.socket.sent
    assert envelope.type == "slash_commands" and envelope.accepts_response_payload
    assert envelope.payload["command"] == "/escalate"
    sworld.settle()
    esc = load(sworld, 1)
    assert (esc.severity, esc.category, esc.title) == ("SEV2", "ads", "Counterfeit ads wave")
    channel = sworld.emulator.channel(esc.channel_id)
    assert channel is not None and channel["name"] == "esc-1-counterfeit-ads-wave"
    [invite] = sworld.emulator.calls_of("conversations.invite")
    assert {REPORTER, "U0SAL00001", "U0CPO00001"} <= set(invite.args["users"].split(","))
    assert card(sworld, esc)["pinned"]
    [announcement] = sworld.emulator.messages(sworld.config.team.feed_channel)
    assert "ESC-1" in announcement["text"]
    assert any("ESC-1" in r["payload"].get("text", "") for r in sworld.emulator.responses)
    # the process takes no Slack requests over HTTP: nothing unsigned can reach a listener
    request = urllib.request.Request(f"{sworld.bot.server.url}/slack/events", b"{}", {})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code in (404, 405)


def test_a_button_over_socket_mode_acknowledges(sworld: SocketWorld):
    row = raise_esc(sworld)
    said = click(sworld, ONCALL, Action.ACK, str(row.id), row.channel_id or "", row.card_ts)
    envelope = sworld.socket.sent[-1]
    assert envelope.type == "interactive" and not envelope.accepts_response_payload
    assert envelope.payload["type"] == "block_actions"
    assert load(sworld, 1).status == "acknowledged"
    assert len(events(sworld, 1, "acknowledged")) == 1
    assert "acknowledged" in card(sworld, row)["text"], said


def test_a_form_over_socket_mode_answers_in_the_ack(sworld: SocketWorld):
    view, values = escalate_form(sworld, REPORTER, "  ")
    assert view["callback_id"] == "escalate_modal"  # views.open with the command's trigger
    refused = sworld.driver.submit_view(REPORTER, view, values)
    assert refused.status == 200
    assert refused.json["response_action"] == "errors" and "title" in refused.json["errors"]
    envelope = sworld.socket.sent[-1]
    assert envelope.payload["type"] == "view_submission" and envelope.accepts_response_payload
    sworld.settle()
    with sworld.db.uow() as uow:
        assert uow.repos.escalations.find() == []
    values["title"] = {"title": "Graphic video spreading"}
    accepted = sworld.driver.submit_view(REPORTER, view, values)
    assert accepted.status == 200 and accepted.json is None  # an empty ack closes the form
    sworld.settle()
    assert load(sworld, 1).title == "Graphic video spreading"
    assert sworld.emulator.open_views(REPORTER) == []


def test_an_event_over_socket_mode_publishes_the_home_tab(sworld: SocketWorld):
    raise_esc(sworld)
    reply = _open_home(sworld, ONCALL)
    assert reply.status == 200
    envelope = sworld.socket.sent[-1]
    assert envelope.type == "events_api" and not envelope.accepts_response_payload
    assert (envelope.retry_attempt, envelope.retry_reason) == (0, "")
    sworld.settle()
    home = flatten(sworld.emulator.home_views[ONCALL])
    assert "My open escalations" in home and "ESC-1" in home


def test_a_message_shortcut_travels_as_an_interactive_envelope(config: TeamConfig):
    """The bot's own shortcuts are product work of their own; Bolt routes the envelope."""
    with Emulator(rate_limits=False) as emulator, SocketMode(emulator) as socket:
        emulator.add_channel("C0TEAM0001", "escalations-team", members=[REPORTER])
        ts = emulator.add_message("C0TEAM0001", "Look at this ad", user=REPORTER)
        app = App(
            client=WebClient(token=emulator.bot_token, base_url=emulator.url),
            token_verification_enabled=False,
        )
        seen: list[dict[str, Any]] = []

        @app.shortcut("escalate_message")
        def shortcut(ack: Any, shortcut: dict[str, Any]) -> None:
            ack()
            seen.append(shortcut)

        link = SocketLink(app, socket.app_token)
        link.connect()
        try:
            socket.wait_connected()
            driver = Driver(emulator, "", "", transport=socket.transport)
            reply = driver.message_shortcut(REPORTER, "escalate_message", "C0TEAM0001", ts)
        finally:
            link.close()
    assert reply.status == 200
    [envelope] = socket.sent
    assert envelope.type == "interactive" and not envelope.accepts_response_payload
    [got] = seen
    assert got["type"] == "message_action" and got["message"]["text"] == "Look at this ad"


def test_an_unacknowledged_event_is_redelivered_once_and_handled_once(
    config: TeamConfig, tmp_path: Path, clock: FakeClock
):
    world = make_socket_world(config, tmp_path, clock, ack_timeout=1.0)
    try:
        world.socket.lose_acks(1)
        reply = _open_home(world, ONCALL, event_id="Ev0REDELIVER1")
        assert reply.status == 200
        first, second = world.socket.sent
        assert world.socket.lost == [first.envelope_id]
        assert (first.retry_attempt, first.retry_reason) == (0, "")
        assert (second.retry_attempt, second.retry_reason) == (1, "timeout")
        assert second.payload["event_id"] == first.payload["event_id"] == "Ev0REDELIVER1"
        world.settle()
        assert len(world.emulator.calls_of("views.publish")) == 1
    finally:
        world.stop()


def test_the_same_command_delivered_thrice_raises_one_escalation(sworld: SocketWorld):
    request = capture(
        sworld.driver, lambda: sworld.driver.command(REPORTER, "/escalate", "SEV2 Sent thrice")
    )
    replies = [deliver(sworld.driver, request)]
    replies += [deliver(sworld.driver, request, retry_num=n) for n in (1, 2)]
    assert [r.status for r in replies] == [200, 200, 200]
    assert [e.type for e in sworld.socket.sent] == ["slash_commands"] * 3
    sworld.settle()
    with sworld.db.uow() as uow:
        [row] = uow.repos.escalations.find()
    assert row.title == "Sent thrice" and row.staffed_at is not None
    assert len(sworld.emulator.calls_of("conversations.create")) == 1


@pytest.mark.parametrize("reason", ["refresh_requested", "link_disabled"])
def test_a_disconnect_mid_burst_loses_nothing(sworld: SocketWorld, reason: str):
    senders, each = 4, 6
    halfway = threading.Event()
    replies: list[Any] = []
    lock = threading.Lock()

    def send(sender: int) -> None:
        for n in range(each):
            reply = sworld.driver.command(REPORTER, "/escalate", f"SEV3 Burst {sender}-{n}")
            home = _open_home(sworld, ONCALL)
            with lock:
                replies.append((reply, home))
                if len(replies) == senders * each // 2:
                    halfway.set()

    threads = [threading.Thread(target=send, args=(s,)) for s in range(senders)]
    for thread in threads:
        thread.start()
    assert halfway.wait(30)
    sworld.socket.disconnect(reason)
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    sworld.settle()
    assert sworld.socket.disconnects == [reason] and len(sworld.socket.connections) >= 2
    used = {e.connection for e in sworld.socket.sent}  # envelopes went out on both sides
    assert sworld.socket.connections[0] in used and used - {sworld.socket.connections[0]}
    assert len(replies) == senders * each
    assert all(r.status == 200 and "Raising" in r.json["text"] for r, _ in replies)
    assert all(h.status == 200 for _, h in replies)
    with sworld.db.uow() as uow:
        titles = sorted(e.title for e in uow.repos.escalations.find())
    assert titles == sorted(f"Burst {s}-{n}" for s in range(senders) for n in range(each))
    assert len(sworld.emulator.calls_of("conversations.create")) == senders * each
    assert len(sworld.emulator.calls_of("views.publish")) == senders * each


def test_readiness_includes_the_socket(sworld: SocketWorld):
    base = sworld.bot.server.url
    assert _get(f"{base}/healthz")[0] == 200
    status, body = _get(f"{base}/readyz")
    assert status == 200 and body["checks"] == READY
    status, text = _get(f"{base}/metrics")
    assert status == 200 and "escbot_background_gave_way_seconds" in text
    assert "escbot_outbox_pending" in text and "escbot_slack_calls_total" in text
    sworld.socket.stop()  # Slack goes away; the client keeps trying in the background
    status, body = _get(f"{base}/readyz")
    assert status == 503 and body["checks"]["socket_mode"] == "failing"
    assert _get(f"{base}/healthz")[0] == 200


def test_tokens_of_the_wrong_kind_are_refused_as_slack_does():
    with Emulator(rate_limits=False) as emulator, SocketMode(emulator) as socket:
        bot = WebClient(token=emulator.bot_token, base_url=emulator.url)
        app_level = WebClient(token=socket.app_token, base_url=emulator.url)
        stranger = WebClient(token="xapp-1-A0OTHER-1-nope", base_url=emulator.url)
        assert _error(lambda: bot.apps_connections_open(app_token=emulator.bot_token)) == (
            "not_allowed_token_type"
        )
        assert _error(lambda: stranger.apps_connections_open(app_token="xapp-1-x")) == (
            "invalid_auth"
        )
        assert _error(lambda: app_level.chat_postMessage(channel="C1", text="hi")) == (
            "not_allowed_token_type"
        )
        url = app_level.apps_connections_open(app_token=socket.app_token)["url"]
        assert url.startswith(socket.url + "?ticket=")
        with connect(url) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        with pytest.raises(InvalidStatus) as reused:  # each URL is good for one connection
            connect(url)
        assert reused.value.response.status_code == 401
        settings = Settings(
            slack_bot_token=emulator.bot_token,
            slack_app_token="xapp-1-A0OTHER-1-nope",
            slack_api_url=emulator.url,
            _env_file=None,
        )  # type: ignore[call-arg]
        assert settings.slack_app_token
        link = SocketLink(
            App(client=bot, token_verification_enabled=False), settings.slack_app_token
        )
        with pytest.raises(AppTokenRefused, match="invalid_auth"):
            link.connect()
        link.handler.client.close()


def _error(call: Any) -> str:
    from slack_sdk.errors import SlackApiError

    with pytest.raises(SlackApiError) as refused:
        call()
    return str(refused.value.response["error"])


def test_two_processes_share_the_envelopes_and_raise_each_escalation_once(
    sworld: SocketWorld, config: TeamConfig
):
    settings = sworld.bot.services.settings
    second = start_local(
        settings, config, sworld.db, clock=sworld.clock, outbox_interval=None, scheduler=False
    )
    try:
        sworld.socket.wait_connected(2)
        replies = [
            sworld.driver.command(REPORTER, "/escalate", f"SEV3 Shared {n}") for n in range(8)
        ]
        assert all(r.status == 200 and "Raising" in r.json["text"] for r in replies)
        sworld.settle()
        second.services.wait_idle(timeout=30)
    finally:
        second.stop()
    assert len({e.connection for e in sworld.socket.sent}) == 2  # Slack spreads them
    with sworld.db.uow() as uow:
        titles = sorted(e.title for e in uow.repos.escalations.find())
    assert titles == sorted(f"Shared {n}" for n in range(8))
    assert len(sworld.emulator.calls_of("conversations.create")) == 8
