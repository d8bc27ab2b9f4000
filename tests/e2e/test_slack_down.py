"""Slack unreachable, or the token refused: nothing hangs, accepted work is saved and pending,
`/healthz` stays 200 and `/readyz` says 503 naming the token; the token is asked at start only.

Slack goes away behind a proxy in front of the emulator's Web API (connections refused), so
the bot's client sees what it would see of a real outage.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.sandbox.emulator import Emulator
from tests.support.escalations import load, said
from tests.support.logs import caught_logs
from tests.support.people import REPORTER
from tests.support.proxy import Proxy
from tests.support.world import World, make_world

ANSWER_WITHIN = 3.0


def get(world: World, path: str) -> tuple[int, dict[str, Any]]:
    """GET one of the bot's operational endpoints; return its status and JSON."""
    try:
        with urllib.request.urlopen(world.bot.server.url + path, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read())


@pytest.fixture
def slack_away(
    config: TeamConfig, tmp_path: Path, clock: FakeClock
) -> Iterator[tuple[World, Proxy]]:
    """A workspace whose Web API the bot reaches through a proxy that is down from the start."""
    emulator = Emulator()
    emulator.start()
    host, port = emulator.url.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = Proxy(host, int(port))
    proxy.down()
    started = time.perf_counter()
    with caught_logs() as logs:
        world = make_world(
            config,
            tmp_path,
            clock,
            emulator=emulator,
            api_url=f"http://127.0.0.1:{proxy.port}/api/",
            sleep=lambda _: None,  # the client's retry waits, not waited here
            slack_timeout=2,
        )
    assert time.perf_counter() - started < 5, "start waited on Slack"
    assert not logs.tracebacks()
    yield world, proxy
    world.bot.stop()
    emulator.stop()
    proxy.close()


def test_with_slack_unreachable_nothing_hangs_and_work_waits(slack_away):
    world, proxy = slack_away
    with caught_logs() as logs:
        before = len(world.emulator.responses)
        started = time.perf_counter()
        reply = world.driver.command(REPORTER, "/oncall", "")
        world.settle()
        answered = time.perf_counter() - started
        assert reply.status == 200 and answered < ANSWER_WITHIN, (reply.status, answered)
        assert "On call now" in said(world, reply, before)  # time zones fall back, no lookup

        before = len(world.emulator.responses)
        reply = world.driver.command(REPORTER, "/escalate", "SEV2 #ads Raised while Slack is away")
        assert reply.status == 200 and reply.elapsed < ANSWER_WITHIN
        assert "Raising" in reply.body
        world.settle()
        assert "saved" in said(world, reply, before)  # told it is pending
        assert load(world, 1).title == "Raised while Slack is away"  # recorded
        assert load(world, 1).channel_id is None  # …and not staffed yet
    assert not logs.tracebacks(), logs.tracebacks()[0]

    status, live = get(world, "/healthz")
    assert status == 200 and live["ok"]
    status, ready = get(world, "/readyz")
    assert status == 503 and not ready["ok"]
    assert ready["checks"]["database"] == "ok" and ready["checks"]["slack_token"] == "failing"
    assert "unreachable" in ready["details"]["slack_token"]

    proxy.up()  # Slack is back: the background check passes, the escalation is staffed
    assert world.bot.services.token.check() == "ok"
    status, ready = get(world, "/readyz")
    assert status == 200 and ready["ok"], ready
    world.clock.advance(timedelta(minutes=15))  # past any backoff
    world.bot.services.outbox.run_due()
    world.settle()
    assert load(world, 1).channel_id is not None


@pytest.fixture
def refused(config: TeamConfig, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    """A workspace whose bot was given a token Slack refuses."""
    world = make_world(config, tmp_path, clock, token="xoxb-refused", sleep=lambda _: None)
    yield world
    world.bot.stop()
    world.emulator.stop()


def test_a_refused_token_is_said_once_and_never_asked_on_a_request(refused):
    world = refused
    asked = len(world.emulator.calls_of("auth.test"))
    assert asked == 1  # once, at start
    assert world.bot.services.token.state == "refused"
    with caught_logs() as logs:
        before = len(world.emulator.responses)
        reply = world.driver.command(REPORTER, "/oncall", "")
        world.settle()
        assert reply.status == 200 and reply.elapsed < ANSWER_WITHIN
        assert len(world.emulator.calls_of("auth.test")) == asked  # not on the request path
        assert said(world, reply, before)  # answered (where Slack takes the answer)
        reply = world.driver.command(REPORTER, "/escalate", "SEV3 Raised with a bad token")
        assert reply.status == 200 and "Raising" in reply.body
        world.settle()
        assert load(world, 1).title == "Raised with a bad token"
    assert not logs.tracebacks(), logs.tracebacks()[0]
    status, ready = get(world, "/readyz")
    assert status == 503 and "refused" in ready["details"]["slack_token"]
    assert get(world, "/healthz")[0] == 200


def test_the_refusal_at_start_is_one_clear_line(config, tmp_path, clock):
    with caught_logs() as logs:
        world = make_world(config, tmp_path, clock, token="xoxb-refused", sleep=lambda _: None)
        world.bot.stop()
        world.emulator.stop()
    lines = [r.getMessage() for r in logs.records if "SLACK_BOT_TOKEN" in r.getMessage()]
    assert len(lines) == 1 and "refused" in lines[0] and "invalid_auth" in lines[0], lines
    assert not logs.tracebacks()


def test_slack_that_never_answers_holds_a_request_one_client_timeout_at_most(
    config, tmp_path, clock
):
    """Connections taken but never answered: after one lookup times out, the others of the
    request do not wait (time zones fall back), so /oncall answers in about one timeout."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # the kernel takes connections; nobody ever answers
    world = make_world(
        config,
        tmp_path,
        clock,
        api_url=f"http://127.0.0.1:{silent.getsockname()[1]}/api/",
        sleep=lambda _: None,
        slack_timeout=1,
    )
    try:
        with caught_logs() as logs:
            before = len(world.emulator.responses)
            started = time.perf_counter()
            reply = world.driver.command(REPORTER, "/oncall", "")
            world.settle()
            answered = time.perf_counter() - started
            assert "On call now" in said(world, reply, before)
            assert answered < ANSWER_WITHIN, answered  # five lookups would take five timeouts
        assert not logs.tracebacks()
    finally:
        world.bot.stop()
        world.emulator.stop()
        silent.close()


def test_a_response_url_that_does_not_answer_leaves_no_traceback(config, tmp_path, clock):
    """Slack's hooks host away: the answer cannot be delivered; that is one log line."""
    from urllib.parse import urlencode

    from tests.support.process import free_port

    world = make_world(config, tmp_path, clock, sleep=lambda _: None)
    try:
        with caught_logs() as logs:
            for command, text in (("/oncall", ""), ("/esc", "nonsense"), ("/esc", "ESC-99 status")):
                body = urlencode(
                    {
                        "command": command,
                        "text": text,
                        "user_id": REPORTER,
                        "channel_id": "C0TEAM0001",
                        "team_id": world.emulator.team_id,
                        "trigger_id": world.emulator.new_trigger_id(user_id=REPORTER),
                        "response_url": f"http://127.0.0.1:{free_port()}/hooks/gone",
                    }
                ).encode()
                reply = world.driver.send_raw(body, "application/x-www-form-urlencoded")
                world.settle()
                assert reply.status == 200 and reply.elapsed < ANSWER_WITHIN, reply
        assert not logs.tracebacks(), logs.tracebacks()[0]
    finally:
        world.bot.stop()
        world.emulator.stop()
