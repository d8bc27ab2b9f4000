"""Forged, stale and tampered requests on every surface get 401 and change nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from bot.blocks import Action
from bot.sandbox.driver import signature_for
from storage.models import Base
from tests.support.escalations import raise_esc
from tests.support.escalations import select as option
from tests.support.people import MEMBER, REPORTER
from tests.support.replay import Captured, capture
from tests.support.socket_world import http_only
from tests.support.world import SECRET, World


def surfaces(world: World, esc) -> dict[str, Callable[[], object]]:
    """Return one request per surface that, properly signed, would change something."""
    d = world.driver
    return {
        "command": lambda: d.command(REPORTER, "/escalate", "SEV1 #ads Forged escalation"),
        "block_action": lambda: d.action(
            MEMBER, Action.ACK.value, str(esc.id), channel_id=esc.channel_id, message_ts=esc.card_ts
        ),
        "view_submission": lambda: d.submit_view(
            REPORTER,
            {"id": "VFORGED001", "callback_id": "escalate_modal", "type": "modal"},
            {
                "title": {"title": "Forged form"},
                **{
                    block: {block: option(value)}
                    for block, value in (
                        ("category", "content"),
                        ("policy_area", "other"),
                        ("severity", "SEV1"),
                        ("region", "global"),
                    )
                },
            },
        ),
        "event": lambda: d.event({"type": "app_home_opened", "user": MEMBER, "tab": "home"}),
    }


def forgeries(request: Captured) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Return (body, headers) for each way of getting the signature wrong."""
    ts = request.headers["X-Slack-Request-Timestamp"]
    stale = str(int(time.time()) - 5 * 60 - 5)
    future = str(int(time.time()) + 5 * 60 + 5)
    altered = request.body.replace(b"U0", b"U1", 1)
    assert altered != request.body
    return {
        "missing": (request.body, {}),
        "missing timestamp": (
            request.body,
            {"X-Slack-Signature": request.headers["X-Slack-Signature"]},
        ),
        "wrong": (
            request.body,
            {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + "ab" * 32},
        ),
        "wrong secret": (
            request.body,
            {
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature_for("not-the-secret", ts, request.body),
            },
        ),
        "wrong version": (
            request.body,
            {
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": "v1=" + request.headers["X-Slack-Signature"][3:],
            },
        ),
        "stale": (
            request.body,
            {
                "X-Slack-Request-Timestamp": stale,
                "X-Slack-Signature": signature_for(SECRET, stale, request.body),
            },
        ),
        "from the future": (
            request.body,
            {
                "X-Slack-Request-Timestamp": future,
                "X-Slack-Signature": signature_for(SECRET, future, request.body),
            },
        ),
        "replayed with an altered body": (altered, dict(request.headers)),
    }


def row_counts(world: World) -> dict[str, int]:
    """Return the number of rows of every table."""
    with world.db.uow() as uow:
        return {
            table.name: uow.session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


@http_only
@pytest.mark.parametrize("surface", ["command", "block_action", "view_submission", "event"])
def test_bad_signatures_get_401_and_change_nothing(world: World, surface: str):
    esc = raise_esc(world)
    request = capture(world.driver, surfaces(world, esc)[surface])
    rows, calls = row_counts(world), len(world.emulator.calls)
    for name, (body, headers) in forgeries(request).items():
        reply = world.driver.send_raw(body, request.content_type, headers, sign=False)
        assert reply.status == 401, f"{surface} {name}: {reply.status} {reply.body}"
    world.settle()
    assert row_counts(world) == rows
    assert world.emulator.calls[calls:] == []
    # The same request, signed as Slack signs it, does take effect: the forgeries were real.
    reply = world.driver.send_raw(
        request.body, request.content_type, dict(request.headers), sign=False
    )
    assert reply.status == 200, reply.body
    world.settle()
    assert row_counts(world) != rows or world.emulator.calls[calls:]


@http_only
def test_url_verification_needs_a_signature_too(world: World):
    body = b'{"token":"t","challenge":"xyz","type":"url_verification"}'
    reply = world.driver.send_raw(body, "application/json", sign=False)
    assert reply.status == 401 and "xyz" not in reply.body
    assert world.driver.url_verification("xyz").json == {"challenge": "xyz"}
