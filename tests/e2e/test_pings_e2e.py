"""Pings end to end: the scheduler against the emulator, acted on through signed requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.blocks import Action
from bot.clock import FakeClock
from bot.config import TeamConfig
from schedules.scheduler import NEXT_JOB, Scheduler
from tests.support.escalations import card, click, esc, flatten, load, raise_esc, signoffs
from tests.support.people import LEAD, MEMBER, ONCALL, REPORTER, SALES
from tests.support.world import World, make_world

LEGAL = ("U0LEG00001", "U0LEG00002")
SECONDARY = "U0EVE00001"  # secondary on call this week (Europe/Dublin)


@pytest.fixture
def scheduler(world: World) -> Scheduler:
    """A scheduler over the world's bot, driven by hand: `run` passes at the fake clock's now."""
    return Scheduler(world.bot.services)


def run(world: World, scheduler: Scheduler, advance: timedelta = timedelta(0)) -> list[str]:
    """Move the clock, run a pass, wait for its Slack work; return the pings it sent."""
    world.clock.advance(advance)
    sent = scheduler.run_due().sent
    world.settle()
    return sent


def dm_payloads(world: World, user: str, containing: str) -> list[dict]:
    return [
        c.args
        for c in world.emulator.calls_of("chat.postMessage")
        if c.ok and c.args.get("channel") == user and containing in c.args.get("text", "")
    ]


def channel_of(row: Any) -> str:
    """Return the escalation's channel, which staffing has created."""
    assert row.channel_id
    return str(row.channel_id)


def paged(world: World, user: str) -> int:
    return len(dm_payloads(world, user, "You are paged"))


def test_pages_until_acknowledged_by_command(world: World, scheduler: Scheduler):
    row = raise_esc(world, "SEV1 #election Vote buying")
    assert "page:1:0:0" in run(world, scheduler)
    assert paged(world, ONCALL) == 1
    # The first page's mention rides on the pinned card, not on a message of its own.
    messages = world.emulator.messages(channel_of(row))
    assert not [m for m in messages if "you are paged" in m["text"]]
    assert "Paging <@U0BEN00001>" in str(card(world, load(world, row.id))["blocks"])
    [dm] = dm_payloads(world, ONCALL, "You are paged")
    assert "Vote buying" in dm["text"] and f"<#{channel_of(row)}>" in dm["text"]

    assert "page:1:0:1" in run(world, scheduler, timedelta(minutes=5))
    assert paged(world, SECONDARY) == 1
    mention = [m for m in world.emulator.messages(channel_of(row)) if "you are paged" in m["text"]]
    assert len(mention) == 1 and f"<@{SECONDARY}>" in mention[0]["text"]  # later steps post
    assert (
        SECONDARY in (world.emulator.channel(channel_of(row)) or {})["members"]
    )  # invited when paged

    world.clock.advance(timedelta(minutes=2))
    assert "Acknowledged ESC-1" in esc(world, MEMBER, "ack", channel_of(row))
    for minutes in (3, 5, 5, 60):
        assert not [k for k in run(world, scheduler, timedelta(minutes=minutes)) if "page" in k]
    assert paged(world, LEAD) == 0  # the third step never came
    assert paged(world, ONCALL) == 1 and paged(world, SECONDARY) == 1


def test_the_acknowledge_button_in_a_page_stops_paging(world: World, scheduler: Scheduler):
    raise_esc(world, "SEV2 #ads Counterfeit ads wave")
    run(world, scheduler)
    [dm] = dm_payloads(world, ONCALL, "You are paged")
    [button, _] = [e for b in dm["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["value"]) == (Action.ACK, "1")
    reply = world.driver.action(ONCALL, button["action_id"], button["value"])
    assert reply.status == 200
    world.settle()
    assert load(world, 1).status == "acknowledged"
    for _ in range(4):  # SEV2 pages every 15 minutes otherwise
        assert not [k for k in run(world, scheduler, timedelta(minutes=15)) if "page" in k]
    assert paged(world, SECONDARY) == 0


def _buttons(dm: dict) -> dict[str, str]:
    actions = [e for b in dm["blocks"] if b["type"] == "actions" for e in b["elements"]]
    return {e["action_id"]: e["value"] for e in actions}


def test_every_paged_person_can_acknowledge_even_outside_team_members(
    world: World, scheduler: Scheduler
):
    # Eve (secondary, Dublin) is in no team.members: paged at step 2, her Acknowledge works.
    row = raise_esc(world, "SEV1 #election Vote buying")
    run(world, scheduler)
    run(world, scheduler, timedelta(minutes=5))
    [dm] = dm_payloads(world, SECONDARY, "You are paged")
    reply = world.driver.action(SECONDARY, Action.ACK, _buttons(dm)[Action.ACK])
    assert reply.status == 200
    world.settle()
    after = load(world, row.id)
    assert (after.status, after.acknowledged_by) == ("acknowledged", SECONDARY)
    assert not [k for k in run(world, scheduler, timedelta(minutes=5)) if "page" in k]
    assert paged(world, LEAD) == 0


def test_escalate_now_pages_the_next_step_once(world: World, scheduler: Scheduler):
    row = raise_esc(world, "SEV3 #content Hate speech cluster")  # SEV3: next step in an hour
    run(world, scheduler)
    [dm] = dm_payloads(world, ONCALL, "You are paged")
    value = _buttons(dm)[Action.ESCALATE_NOW]
    assert value == f"{row.id}:0:0"
    for _ in range(3):  # a double click, a retry: the next step is paged once
        reply = world.driver.action(ONCALL, Action.ESCALATE_NOW, value)
        assert reply.status == 200
        world.settle()
    assert paged(world, SECONDARY) == 1
    assert paged(world, LEAD) == 0
    # the schedule catching up does not page step 2 again
    assert "page:1:0:1" not in run(world, scheduler, timedelta(hours=1))
    assert paged(world, SECONDARY) == 1
    # tampered values and outsiders change nothing
    calls = len(world.emulator.calls)
    tampered = ("1:0:9", "1:x:0", "99:0:0", "1:0:2", "1:1:0")  # 1:0:2, 1:1:0: never paged
    for actor, bad in [*((ONCALL, t) for t in tampered), (SALES, value)]:
        world.driver.action(actor, Action.ESCALATE_NOW, bad)
        world.settle()
    assert paged(world, LEAD) == 0
    assert [c.method for c in world.emulator.calls[calls:]] == []


def test_handoff_brief_and_take_ownership(world: World, scheduler: Scheduler):
    row = raise_esc(world, "SEV3 #content Hate speech cluster")
    assert row.owner == ONCALL  # primary on call when raised
    run(world, scheduler)
    # Thursday 09:00 Los Angeles (17:00 UTC): Ben hands primary to Chi.
    thursday = datetime(2026, 3, 5, 16, 45, tzinfo=UTC)
    sent = run(world, scheduler, thursday - world.clock())
    assert "shift_start:primary:U0CHI00001:20260305T170000Z" in sent
    [reminder] = dm_payloads(world, MEMBER, "on-call shift")
    # Chi's Slack time zone is America/New_York: the window is in it
    assert "Thu 5 Mar 12:00 EST" in reminder["text"] and "Fri 6 Mar 12:00 EST" in reminder["text"]
    assert "ESC-1" in reminder["text"] and "Hate speech cluster" in reminder["text"]

    assert "handoff:primary:20260305T170000Z" in run(world, scheduler, timedelta(minutes=15))
    team = [m["text"] for m in world.emulator.messages(world.config.team.channel)]
    assert ":arrows_counterclockwise: `primary`: <@U0BEN00001> → <@U0CHI00001>" in team
    [brief] = dm_payloads(world, MEMBER, "on call for `primary`")
    [take] = [b["accessory"] for b in brief["blocks"] if "accessory" in b]
    assert (take["action_id"], take["value"]) == (Action.TAKE_OWNERSHIP, "1")
    reply = world.driver.action(MEMBER, take["action_id"], take["value"])
    assert reply.status == 200
    world.settle()
    assert load(world, 1).owner == MEMBER
    assert run(world, scheduler, timedelta(minutes=1)) == []  # nothing twice


def test_update_reminders_follow_status_updates(world: World, scheduler: Scheduler):
    row = raise_esc(world, "SEV1 #crisis Flood of reports")
    run(world, scheduler)
    world.clock.advance(timedelta(minutes=2))
    esc(world, MEMBER, "ack", channel_of(row))
    world.clock.advance(timedelta(minutes=27))
    esc(world, ONCALL, "update Takedowns under way", channel_of(row))
    # 30 minutes after creation: no reminder, there was an update at 29
    assert not [k for k in run(world, scheduler, timedelta(minutes=1)) if "update_" in k]
    sent = updates(run(world, scheduler, timedelta(minutes=29)))  # 30 minutes after the update
    assert sent == ["update_reminder:1:20260304T175900Z"]
    [nudge] = [
        m for m in world.emulator.messages(channel_of(row)) if "no status update" in m["text"]
    ]
    assert "<@U0BEN00001>" in nudge["text"] and "for 30m" in nudge["text"]
    assert updates(run(world, scheduler, timedelta(minutes=29))) == []
    assert updates(run(world, scheduler, timedelta(minutes=1))) == [
        "update_reminder:1:20260304T182900Z"
    ]


def updates(keys: list[str]) -> list[str]:
    """Return the update reminders among sent keys (a SEV1's empty roles remind too)."""
    return [k for k in keys if k.startswith("update_reminder:")]


def test_signoff_reminders_until_answered(world: World, scheduler: Scheduler):
    row = raise_esc(world, "SEV2 #ads Counterfeit ads wave")
    run(world, scheduler)
    esc(world, MEMBER, "signoff legal Remove the ads in DE?", channel_of(row))
    [pending] = signoffs(world, 1)
    esc(world, MEMBER, "ack", channel_of(row))  # no pages in the way
    assert run(world, scheduler, timedelta(minutes=29)) == []
    assert run(world, scheduler, timedelta(minutes=1)) == [
        f"signoff_reminder:{pending.id}:20260304T173000Z"
    ]
    [nudge] = [
        flatten(m) for m in world.emulator.messages(channel_of(row)) if "still pending" in m["text"]
    ]
    assert all(f"<@{u}>" in nudge for u in LEGAL) and "Remove the ads in DE?" in nudge
    said = click(world, LEGAL[0], Action.SIGNOFF_APPROVE, str(pending.id), channel_of(row))
    assert "approved" in said
    assert not [k for k in run(world, scheduler, timedelta(minutes=30)) if "signoff" in k]


def test_restricted_escalations_stay_unnamed_in_pings(world: World, scheduler: Scheduler):
    from tests.support.escalations import raise_form

    row = raise_form(world, REPORTER, "Leak of VIP data", category="vip", flags=("restricted",))
    run(world, scheduler)
    [dm] = dm_payloads(world, ONCALL, "You are paged")
    assert "Leak" not in str(dm) and "restricted" in dm["text"]
    world.clock.set(datetime(2026, 3, 5, 17, 0, tzinfo=UTC))
    run(world, scheduler)
    for payload in dm_payloads(world, MEMBER, ""):
        assert "Leak" not in str(payload)
    assert row.restricted


# -- the scheduler inside the running bot ------------------------------------------------------


@pytest.fixture
def live(config: TeamConfig, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    """A workspace whose bot runs its own scheduler (APScheduler and commit pokes)."""
    w = make_world(config, tmp_path, clock, scheduler=True)
    yield w
    w.bot.stop()
    w.emulator.stop()


def test_the_running_bot_pages_on_creation_by_itself(live: World):
    scheduler = live.bot.scheduler
    assert scheduler is not None and scheduler.running
    row = raise_esc(live, "SEV1 #election Vote buying")
    # The commit of the new escalation poked a pass: step 1 is paged without being asked.
    assert paged(live, ONCALL) == 1
    # Its mention in the channel is the card's: no message of its own.
    live.clock.advance(timedelta(seconds=2))
    live.bot.services.outbox.run_due()
    live.settle()
    messages = live.emulator.messages(channel_of(row))
    assert messages[0]["text"].startswith("ESC-1") and "Paging <@U0BEN00001>" in str(messages[0])
    assert sum("you are paged" in m["text"] for m in messages) == 0
    # The next due moment (step 2, five minutes after creation) is a date job.
    scheduler.run_due()
    job = scheduler._aps.get_job(NEXT_JOB)  # type: ignore[union-attr]
    assert job is not None
    remaining = job.next_run_time - datetime.now(UTC)
    assert timedelta(minutes=4) < remaining <= timedelta(minutes=5)


def test_raising_takes_at_most_six_web_api_calls_its_first_page_included(
    world: World, scheduler: Scheduler
):
    # SEV1 #election routes five groups — a user group among them — and pages step 1.
    world.driver.command(REPORTER, "/escalate", "SEV1 #election Warm-up")
    world.settle()
    run(world, scheduler)  # the process's one-time look-ups (auth.test) are behind it
    before = len(world.emulator.calls)
    row = raise_esc(world, "SEV1 #election Deepfake of a candidate")
    run(world, scheduler)  # its first page: the DM (the card carried the mention)
    calls = [c.method for c in world.emulator.calls[before:]]
    invited = {
        u
        for c in world.emulator.calls[before:]
        if c.method == "conversations.invite"
        for u in c.args["users"].split(",")
    }
    assert len(invited) >= 10  # reporter, on call, Public Policy's user group, Comms, Legal…
    assert calls == [
        "conversations.create",
        "conversations.invite",
        "chat.postMessage",  # the card, mentioning who is paged
        "pins.add",
        "chat.postMessage",  # the feed announcement
        "chat.postMessage",  # the page's DM
    ], calls
    assert paged(world, ONCALL) == 2 and load(world, row.id).staffed_at


def test_user_group_changes_are_followed_without_a_look_up(world: World, scheduler: Scheduler):
    newcomer = "U0PUBPO0009"
    world.emulator.add_user(newcomer, "pubpo9")
    world.driver.event({"type": "app_home_opened", "user": REPORTER, "tab": "home"})
    world.settle()  # the process's one-time look-ups (auth.test) are behind it
    calls = len(world.emulator.calls)
    reply = world.driver.event(
        {
            "type": "subteam_members_changed",
            "subteam_id": "S0PUBPOL01",
            "team_id": "T0SANDBOX1",
            "date_previous_update": 1446670362,
            "date_update": 1492906952,
            "added_users": [newcomer],
            "added_users_count": "1",
            "removed_users": ["U0PUBPO0001"],
            "removed_users_count": "1",
        }
    )
    assert reply.status == 200
    world.settle()
    assert world.emulator.calls[calls:] == []  # followed in the cache: no call
    row = raise_esc(world, "SEV2 #election Ballot photos")
    people = {p.user_id for p in row.participants}
    assert newcomer in people and "U0PUBPO0001" not in people
    assert "usergroups.users.list" not in [c.method for c in world.emulator.calls[calls:]]
