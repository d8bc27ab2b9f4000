"""Slack misbehaving, through the emulator: rate limits, 5xx, resets, slowness, refusals.

The Web API client's waits advance the fake clock instead of sleeping, and later attempts
are driven by moving the clock past the outbox's backoff and running what is due.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import TeamConfig
from storage.models import Escalation, OutboxItem
from tests.support.escalations import esc, escalate_form, flatten, load, raise_esc
from tests.support.people import MEMBER, REPORTER
from tests.support.world import World, make_world


@dataclass
class Faulty:
    """A world whose Slack client waits on the fake clock, and the waits it took."""

    world: World
    waits: list[float]


@pytest.fixture
def faulty(config: TeamConfig, tmp_path: Path, clock: FakeClock) -> Iterator[Faulty]:
    """A running workspace whose client's retry waits advance the fake clock."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    w = make_world(config, tmp_path, clock, sleep=sleep, slack_timeout=1)
    yield Faulty(w, waits)
    w.bot.stop()
    w.emulator.stop()


def pending(world: World) -> list[str]:
    """Return the keys of outbox items not yet done."""
    with world.db.uow() as uow:
        items = uow.session.scalars(select(OutboxItem).where(OutboxItem.status == "pending"))
        return [item.key for item in items]


def later(world: World) -> None:
    """Let time pass beyond every backoff and run what is due, until nothing is pending."""
    for _ in range(6):
        world.clock.advance(timedelta(minutes=11))
        world.bot.services.outbox.run_due()
        world.settle()
        if not pending(world):
            return
    raise AssertionError(f"still pending: {pending(world)}")


def wait_for(condition: Callable[[], object], what: str) -> None:
    """Wait (bounded) for the emulator to finish a call it is still answering slowly."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def told(world: World) -> list[str]:
    """Return what the bot said to users through response URLs, ephemerals and DMs."""
    said = [flatten(r["payload"]) for r in world.emulator.responses]
    said += [e["text"] for e in world.emulator.ephemerals]
    return said


def staffed(world: World, number: int = 1) -> Escalation:
    """Assert ESC-<number> is fully set up in Slack, exactly once, and return it."""
    row = load(world, number)
    assert row.staffed_at and row.card_ts and row.card_pinned and row.announce_ts
    channel = world.emulator.channel(row.channel_id or "")
    assert channel is not None and channel["pins"] == [row.card_ts]
    cards = [
        m
        for m in world.emulator.messages(row.channel_id or "")
        if ((m.get("metadata") or {}).get("event_payload") or {}).get("key") == f"card:{number}"
    ]
    assert [m["ts"] for m in cards] == [row.card_ts]
    feed = world.emulator.messages(world.config.team.feed_channel)
    assert len([m for m in feed if row.ref in m["text"]]) == 1
    assert {p.user_id for p in row.participants if not p.invite_error} <= set(channel["members"])
    assert len([c for c in world.emulator.calls_of("conversations.create") if c.ok]) == number
    assert not pending(world)
    return row


def throttled(world: World, method: str) -> int:
    """Return how many calls of `method` the emulator answered with 429."""
    return len([c for c in world.emulator.calls_of(method) if c.status == 429])


# -- 429 with Retry-After on every method the bot uses -----------------------------------------

STAFFING = [  # who the bot is and user groups are learnt at start, not while staffing
    "conversations.create",
    "conversations.invite",
    "chat.postMessage",
    "pins.add",
    "response_url",
]


def test_rate_limits_on_every_staffing_call_are_waited_out(faulty: Faulty):
    world = faulty.world
    for method in STAFFING:
        world.emulator.inject_fault(method, status=429, retry_after=7, count=2)
    reply = world.driver.command(REPORTER, "/escalate", "SEV1 #election Deepfake of a candidate")
    assert reply.status == 200 and reply.elapsed < 3.0
    world.settle()
    staffed(world)
    for method in STAFFING[:-1]:  # the emulator does not log response_url posts as calls
        assert throttled(world, method) == 2, method
    assert len([w for w in faulty.waits if w >= 7]) == 2 * len(STAFFING)  # Retry-After honoured
    assert any("ESC-1* is open in" in t for t in told(world))


def _modal(world: World) -> None:
    view, values = escalate_form(
        world,
        REPORTER,
        "From the form",
        "content",
        policy_area="other",
        severity="SEV3",
        region="global",
    )
    world.driver.submit_view(REPORTER, view, values)
    world.settle()


def test_rate_limits_on_forms_and_confirmations(faulty: Faulty):
    world = faulty.world
    for method in ("views.open", "chat.postEphemeral"):
        world.emulator.inject_fault(method, status=429, retry_after=3, count=2)
    _modal(world)
    staffed(world)
    assert throttled(world, "views.open") == throttled(world, "chat.postEphemeral") == 2
    assert any("ESC-1* is open in" in e["text"] for e in world.emulator.ephemerals)


def test_rate_limits_on_card_updates_home_and_time_zones(faulty: Faulty):
    world = faulty.world
    row = raise_esc(world)
    for method in ("chat.update", "views.publish", "users.info"):
        world.emulator.inject_fault(method, status=429, retry_after=2, count=2)
    assert "Acknowledged ESC-1" in esc(world, MEMBER, "ack", row.channel_id)
    assert "acknowledged" in world.emulator.messages(row.channel_id)[0]["text"]
    world.driver.event({"type": "app_home_opened", "user": MEMBER, "tab": "home"})
    world.settle()
    assert MEMBER in world.emulator.home_views
    world.driver.command(MEMBER, "/oncall", "")
    world.settle()
    for method in ("chat.update", "views.publish", "users.info"):
        assert throttled(world, method) == 2, method
    assert not pending(world)


def test_rate_limits_on_the_lookups_a_retry_makes(faulty: Faulty):
    world = faulty.world
    # The first attempt fails at the invite and at the pin (beyond the client's 5 retries),
    # so later attempts look up members and the feed's history before acting again.
    world.emulator.inject_fault("conversations.invite", status=500, count=6)
    world.driver.command(REPORTER, "/escalate", "SEV2 Rate limited lookups")
    world.settle()
    assert load(world, 1).card_ts is None
    world.emulator.inject_fault("conversations.members", status=429, retry_after=4, count=2)
    world.emulator.inject_fault("pins.add", status=500, count=6)
    world.clock.advance(timedelta(minutes=11))
    world.bot.services.outbox.run_due()
    world.settle()
    world.emulator.inject_fault("conversations.history", status=429, retry_after=4, count=2)
    later(world)
    staffed(world)
    assert throttled(world, "conversations.members") == 2
    assert throttled(world, "conversations.history") == 2


# -- 5xx, resets, slowness ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_by_the_client_then_by_the_outbox(faulty: Faulty, status: int):
    world = faulty.world
    world.emulator.inject_fault("conversations.create", status=status, count=3)
    world.driver.command(REPORTER, "/escalate", "SEV2 Brief outage")
    world.settle()
    staffed(world)  # three failures: the client's own retries were enough

    world.emulator.inject_fault("conversations.create", status=status, count=12)
    world.driver.command(REPORTER, "/escalate", "SEV2 Long outage")
    world.settle()
    row = load(world, 2)
    assert row.channel_id is None and pending(world)
    [notice] = [t for t in told(world) if "ESC-2* is saved" in t]
    assert "its channel, the invitations, the summary card and the feed announcement" in notice
    assert "Nothing is lost" in notice
    later(world)
    staffed(world, 2)
    assert len([t for t in told(world) if "ESC-2* is saved" in t]) == 1  # told once
    assert any("ESC-2* is open in" in t for t in told(world))


def test_connection_resets_never_duplicate_a_post(faulty: Faulty):
    world = faulty.world
    world.emulator.inject_fault("chat.postMessage", reset=True, count=2)
    world.driver.command(REPORTER, "/escalate", "SEV2 Flaky network")
    world.settle()
    staffed(world)
    world.emulator.inject_fault("pins.add", reset=True, count=8)  # beyond the client's retries
    world.driver.command(REPORTER, "/escalate", "SEV2 Flakier network")
    world.settle()
    assert pending(world)
    later(world)
    staffed(world, 2)


def test_slow_slack_does_not_delay_the_ack(faulty: Faulty):
    world = faulty.world
    world.emulator.inject_fault("conversations.create", latency=3.2)
    reply = world.driver.command(REPORTER, "/escalate", "SEV2 Slow Slack")
    assert reply.status == 200 and reply.elapsed < 3.0
    world.settle()
    wait_for(lambda: world.emulator.channel_by_name("esc-1-slow-slack"), "the slow create")
    later(world)
    staffed(world)


def test_a_post_that_times_out_is_found_not_posted_again(faulty: Faulty):
    world = faulty.world
    world.emulator.inject_fault("chat.postMessage", latency=1.5)  # the client gives up at 1 s
    world.driver.command(REPORTER, "/escalate", "SEV2 Timed out card")
    world.settle()
    row = load(world, 1)
    assert row.card_ts is None
    wait_for(lambda: world.emulator.messages(row.channel_id or ""), "the slow post landed")
    later(world)
    staffed(world)  # one card: the retry found the one that timed out
    assert any("TimeoutError" in t for t in told(world))


def test_a_channel_created_while_the_client_timed_out_is_adopted(faulty: Faulty):
    world = faulty.world
    world.emulator.inject_fault("conversations.create", latency=1.5)
    world.driver.command(REPORTER, "/escalate", "SEV2 Timed out channel")
    world.settle()
    wait_for(lambda: world.emulator.channel_by_name("esc-1-timed-out-channel"), "created")
    world.emulator.inject_fault("conversations.list", status=429, retry_after=5, count=2)
    later(world)
    row = staffed(world)
    assert row.channel_name == "esc-1-timed-out-channel"
    assert throttled(world, "conversations.list") == 2


# -- Slack's refusals ---------------------------------------------------------------------------


def test_unknown_and_deactivated_people_are_skipped_and_noted(faulty: Faulty):
    world = faulty.world
    world.emulator.add_user("U0PUBPO0002", "pubpo2", deleted=True)
    world.emulator.add_usergroup(
        "S0PUBPOL01", "public-policy", ["U0PUBPO0001", "U0PUBPO0002", "U0GHOST001"]
    )
    world.driver.event(  # as Slack tells the bot of the change
        {
            "type": "subteam_members_changed",
            "subteam_id": "S0PUBPOL01",
            "added_users": ["U0GHOST001"],
            "removed_users": ["U0PUBPO0003"],
        }
    )
    world.settle()
    world.driver.command(REPORTER, "/escalate", "SEV2 #election Fake ballots")
    world.settle()
    row = staffed(world)
    skipped = {p.user_id: p.invite_error for p in row.participants if p.invite_error}
    assert skipped == {"U0GHOST001": "user_not_found", "U0PUBPO0002": "cant_invite"}
    members = world.emulator.channel(row.channel_id)["members"]
    assert "U0PUBPO0001" in members and "U0COM00001" in members
    notes = [
        m["text"] for m in world.emulator.messages(row.channel_id) if "Could not add" in m["text"]
    ]
    assert notes == ["Could not add: <@U0PUBPO0002> (cant_invite), <@U0GHOST001> (user_not_found)."]
    assert any("Could not add" in t and "ESC-1* is open" in t for t in told(world))


@pytest.mark.parametrize(
    ("method", "error"),
    [("conversations.invite", "channel_not_found"), ("pins.add", "is_archived")],
)
def test_refusals_are_retried_until_they_clear(faulty: Faulty, method: str, error: str):
    world = faulty.world
    world.emulator.inject_fault(method, error=error, count=2)
    world.driver.command(REPORTER, "/escalate", "SEV2 Refused once")
    world.settle()
    assert pending(world)
    [notice] = [t for t in told(world) if "ESC-1* is saved" in t]
    assert f"`{error}`" in notice
    later(world)
    staffed(world)


def test_an_update_to_an_archived_channel_lands_once_it_is_unarchived(faulty: Faulty):
    world = faulty.world
    row = raise_esc(world)
    admin = WebClient(token=world.emulator.bot_token, base_url=world.emulator.url)
    admin.conversations_archive(channel=row.channel_id)
    esc(world, MEMBER, "update Takedown at 80%", row.channel_id)
    for _ in range(3):  # archived: it keeps failing, and stays queued
        world.clock.advance(timedelta(minutes=11))
        world.bot.services.outbox.run_due()
        world.settle()
    assert pending(world)
    failed = [c for c in world.emulator.calls_of("chat.postMessage") if c.error == "is_archived"]
    assert len(failed) >= 3
    admin.conversations_unarchive(channel=row.channel_id)
    later(world)
    texts = [m["text"] for m in world.emulator.messages(row.channel_id)]
    assert len([t for t in texts if "Takedown at 80%" in t]) == 1
