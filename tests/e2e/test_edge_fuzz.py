"""Hypothesis at the HTTP edge: whatever reaches /slack/events, no 500 and no traceback.

Bodies are arbitrary bytes, arbitrary JSON (raw or as a form's `payload`) and real Slack
requests with fields deleted or replaced; content types vary; each is sent unsigned, badly
signed or properly signed to the bot serving real HTTP. Unsigned ones get 401, nothing
refused writes anything, and nothing logs a traceback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.blocks import Action
from bot.clock import FakeClock
from bot.config import TeamConfig
from storage.models import Base
from tests.support.escalations import escalate_form, raise_esc
from tests.support.fuzz import FORM, bodies, form_template, signed_headers
from tests.support.logs import Caught, caught_logs
from tests.support.people import MEMBER, REPORTER
from tests.support.replay import capture
from tests.support.world import SECRET, World, make_world


@pytest.fixture(scope="module")
def edge_world(
    config: TeamConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, list[dict[str, Any]]]]:
    """A running workspace with one escalation, and real requests of each kind to mutate."""
    clock = FakeClock(datetime(2026, 3, 4, 17, 0, tzinfo=UTC))
    world = make_world(config, Path(tmp_path_factory.mktemp("edge")), clock)
    esc = raise_esc(world)
    assert esc.channel_id is not None
    view, values = escalate_form(
        world, REPORTER, "Fuzzed", "press", policy_area="other", severity="SEV2", region="global"
    )
    d = world.driver
    builds = [
        lambda: d.command(REPORTER, "/escalate", "SEV3 #ads Fuzzed"),
        lambda: d.command(MEMBER, "/esc", "status", channel_id=esc.channel_id),
        lambda: d.command(MEMBER, "/oncall", ""),
        lambda: d.action(
            MEMBER, Action.ACK.value, str(esc.id), channel_id=esc.channel_id, message_ts=esc.card_ts
        ),
        lambda: d.submit_view(REPORTER, view, values),
        lambda: d.event({"type": "app_home_opened", "user": MEMBER, "tab": "home"}),
    ]
    templates = []
    for build in builds:
        request = capture(d, build)
        if request.content_type == FORM:
            templates.append(form_template(request.body))
        else:
            templates.append({"json": json.loads(request.body)})
    yield world, templates
    world.bot.stop()
    world.emulator.stop()


def _rows(world: World) -> dict[str, int]:
    with world.db.uow() as uow:
        return {
            table.name: uow.session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def _send(world: World, body: bytes, content_type: str, signing: str, ts: int) -> Any:
    headers = signed_headers(SECRET, body, content_type, signing, ts)
    return world.driver.send_raw(body, content_type, headers, sign=False)


def _check(world: World, logs: Caught, body: bytes, content_type: str, signing: str) -> None:
    before = _rows(world)
    logs.clear()
    reply = _send(world, body, content_type, signing, int(time.time()))
    world.settle()
    assert reply.status < 500, (reply.status, reply.body, body)
    if signing != "signed":
        assert reply.status == 401, (reply.status, body)
    if reply.status >= 400:
        assert _rows(world) == before, body  # refused: nothing written
    assert not logs.tracebacks(), (body, logs.tracebacks()[0])


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), signing=st.sampled_from(["signed", "unsigned", "badly signed"]))
def test_no_request_gets_a_500_or_leaves_a_traceback(edge_world, data, signing):
    world, templates = edge_world
    body, content_type = data.draw(bodies(templates))
    with caught_logs() as logs:
        _check(world, logs, body, content_type, signing)


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"payload={not json", FORM),
        (b"payload=[]", FORM),
        (b"{broken", "application/json"),
        (b"payload=1", FORM),
        (b"payload=" + json.dumps({"type": "block_actions", "actions": [{}]}).encode(), FORM),
        (
            b"payload="
            + json.dumps(
                {
                    "type": "view_submission",
                    "user": {"id": "U1"},
                    "view": {"id": "V1", "callback_id": "escalate_modal"},
                }
            ).encode(),
            FORM,
        ),
        (b"command=%2Fescalate&text=SEV1+x&trigger_id=1.2", FORM),
        (
            json.dumps({"type": "event_callback", "event": {"type": "app_home_opened"}}).encode(),
            "application/json",
        ),
    ],
    ids=[
        "bad payload",
        "list payload",
        "bad json",
        "int payload",
        "action without id",
        "view without state",
        "command without user",
        "home without user",
    ],
)
@pytest.mark.parametrize("signing", ["unsigned", "signed"])
def test_the_reported_inputs_get_401_unsigned_and_400_signed(
    edge_world, body, content_type, signing
):
    world, _ = edge_world
    with caught_logs() as logs:
        _check(world, logs, body, content_type, signing)
        reply = _send(world, body, content_type, signing, int(time.time()))
    assert reply.status == (401 if signing == "unsigned" else 400), reply.body
    assert "error" in reply.json


def test_a_body_past_a_megabyte_is_refused_before_it_is_read(edge_world):
    import socket
    from urllib.parse import urlsplit

    world, _ = edge_world
    url = urlsplit(world.driver.bot_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 50000000\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\npayload=xx"
        )  # 50 MB announced, 10 bytes sent: the answer comes without the rest
        status_line = conn.recv(200).split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"413", status_line
