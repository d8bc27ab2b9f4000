"""Coordinating escalations end to end: flags after raising, links, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.blocks import GRAPHIC_WARNING
from bot.usecases.reports import export_rows
from tests.support.escalations import (
    card,
    esc,
    events,
    load,
    posts,
    raise_esc,
    raise_form,
    said,
)
from tests.support.people import MEMBER, OUTSIDER, REPORTER, SALES
from tests.support.replay import capture, deliver
from tests.support.world import World


def test_flag_graphic_after_raising_warns_from_then_on_once(world: World):
    row = raise_esc(world, "SEV2 #content Violent video spreading")
    assert not row.graphic
    assert GRAPHIC_WARNING not in str(card(world, row)["blocks"])
    told = esc(world, REPORTER, "flag graphic", row.channel_id)
    assert "Flagged ESC-1 graphic" in told
    assert load(world, 1).graphic
    assert GRAPHIC_WARNING in str(card(world, row)["blocks"])
    # a second flag (or Slack redelivering the first) changes nothing more
    assert "already flagged graphic" in esc(world, MEMBER, "flag graphic", row.channel_id)
    assert len(events(world, 1, "flagged_graphic")) == 1
    esc(world, MEMBER, "update Hashes sent", row.channel_id)
    last = world.emulator.messages(row.channel_id)[-1]
    assert last["text"].startswith(GRAPHIC_WARNING) and "Hashes sent" in last["text"]
    timeline = esc(world, MEMBER, "timeline", row.channel_id)
    assert "flagged graphic" in timeline


def test_flag_takes_only_graphic_and_refuses_outsiders_of_a_restricted_one(world: World):
    row = raise_esc(world)
    for text in ("flag", "flag violent", "flag graphic now"):
        assert "Usage: `/esc flag graphic`" in esc(world, MEMBER, text, row.channel_id)
    assert not load(world, 1).graphic and not events(world, 1, "flagged_graphic")
    secret = raise_form(world, REPORTER, "Leak of VIP data", "vip", ("restricted",))
    calls = len(world.emulator.calls)
    told = esc(world, OUTSIDER, f"ESC-{secret.id} flag graphic", world.config.team.channel)
    assert "does not exist, or it is restricted" in told and "Leak" not in told
    assert not load(world, secret.id).graphic
    assert [c.method for c in world.emulator.calls[calls:]] == []


UPDATES = "C0UPDT0001"


def test_updates_of_a_briefed_severity_go_to_the_updates_channel_once(world: World):
    assert world.config.team.updates_channel == UPDATES
    row = raise_esc(world, "SEV2 #ads Counterfeit ads wave")
    request = capture(
        world.driver,
        lambda: world.driver.command(
            MEMBER, "/esc", "update 40 ads down <!channel>", channel_id=row.channel_id
        ),
    )
    deliver(world.driver, request)
    world.settle()
    deliver(world.driver, request, retry_num=1)  # Slack redelivers it: still one brief
    world.settle()
    briefs = world.emulator.messages(UPDATES)
    assert len(briefs) == 1
    text = briefs[0]["text"]
    assert "ESC-1" in text and "Counterfeit ads wave" in text and "40 ads down" in text
    assert f"<#{row.channel_id}>" in text and "app_redirect" in text
    assert "<!channel>" not in text  # user text cannot ping the whole channel
    # SEV3 is not briefed
    low = raise_esc(world, "SEV3 Spam ring")
    esc(world, MEMBER, "update Looking", low.channel_id)
    assert len(world.emulator.messages(UPDATES)) == 1


def test_a_restricted_escalation_is_briefed_by_its_id_alone(world: World):
    secret = raise_form(world, REPORTER, "Leak of VIP data", "vip", ("restricted",))
    esc(world, REPORTER, "sev SEV1", secret.channel_id)
    esc(world, REPORTER, "update Data found on paste site", secret.channel_id)
    [brief] = world.emulator.messages(UPDATES)
    assert brief["text"] == f":lock: *ESC-{secret.id}* (restricted): update posted in its channel"
    assert "Leak" not in str(brief) and "paste" not in str(brief)
    assert secret.channel_id not in str(brief)


def _last(world: World, channel: str) -> str:
    return world.emulator.messages(channel)[-1]["text"]


def test_link_records_a_related_escalation_on_both_once(world: World):
    first = raise_esc(world, "SEV3 #ads Counterfeit ads wave")
    second = raise_esc(world, "SEV3 #ads Counterfeit shoes storefronts")
    request = capture(
        world.driver,
        lambda: world.driver.command(MEMBER, "/esc", "link ESC-1", channel_id=second.channel_id),
    )
    deliver(world.driver, request)
    world.settle()
    deliver(world.driver, request, retry_num=1)
    world.settle()
    assert "already linked" in esc(world, REPORTER, "link #1", second.channel_id)
    assert "already linked" in esc(world, REPORTER, "link ESC-2", first.channel_id)
    assert len(events(world, 1, "linked")) == len(events(world, 2, "linked")) == 1
    assert "ESC-2" in _last(world, first.channel_id) and "shoes" in _last(world, first.channel_id)
    assert "ESC-1" in _last(world, second.channel_id)
    status = esc(world, MEMBER, "status", first.channel_id)
    assert "*Related:* ESC-2 Counterfeit shoes storefronts" in status
    assert "*Related:* ESC-1 Counterfeit ads wave" in esc(
        world, MEMBER, "status", second.channel_id
    )
    assert "linked ESC-1" in esc(world, MEMBER, "timeline", second.channel_id)


def test_link_refuses_bad_input_and_unseen_escalations(world: World):
    row = raise_esc(world)
    for text, told in [
        ("link", "Usage: `/esc link ESC-n`"),
        ("link ESC-1 ESC-2", "Usage: `/esc link ESC-n`"),
        ("link nonsense", "Usage: `/esc link ESC-n`"),
        ("link ESC-1", "cannot be related to itself"),
        ("link ESC-99", "ESC-99 does not exist"),
        ("duplicate ESC-1", "cannot be related to itself"),
    ]:
        assert told in esc(world, MEMBER, text, row.channel_id), text
    secret = raise_form(world, REPORTER, "Leak of VIP data", "vip", ("restricted",))
    calls = len(world.emulator.calls)
    # a team member outside the restricted channel learns nothing of it, whichever way
    told = esc(world, MEMBER, f"link ESC-{secret.id}", row.channel_id)
    assert f"ESC-{secret.id} does not exist, or it is restricted" in told and "Leak" not in told
    told = esc(world, MEMBER, f"duplicate ESC-{secret.id}", row.channel_id)
    assert "does not exist, or it is restricted" in told
    assert [c.method for c in world.emulator.calls[calls:]] == []
    assert not events(world, row.id, "linked") and load(world, row.id).status == "open"


def test_a_restricted_link_shows_only_its_id_outside_its_channel(world: World):
    row = raise_esc(world, "SEV3 #ads Counterfeit ads wave")
    secret = raise_form(world, REPORTER, "Leak of VIP data", "vip", ("restricted",))
    # the reporter is inside both: linking from the restricted channel is allowed
    assert "Linked" in esc(world, REPORTER, "link ESC-1", secret.channel_id)
    note = _last(world, row.channel_id)
    assert f"*ESC-{secret.id}* (restricted)" in note
    assert "Leak" not in note and secret.channel_id not in note
    status = esc(world, MEMBER, "status", row.channel_id)  # Chi is not in the secret one
    assert f"ESC-{secret.id} (restricted)" in status and "Leak" not in status
    assert "Counterfeit ads wave" in _last(world, secret.channel_id)


def test_duplicate_resolves_with_a_pointer_and_invites_its_people(world: World):
    original = raise_esc(world, "SEV2 #ads Counterfeit ads wave")
    dup = raise_esc(world, "SEV3 Fake sneaker ads", user="U0LEAD0001")
    esc(world, SALES, "invite <@U0EVE00001|eve>", dup.channel_id)
    before = set(world.emulator.channel(original.channel_id)["members"])
    assert "U0EVE00001" not in before and "U0LEAD0001" not in before
    # a stakeholder who is not a responder cannot resolve it this way
    told = esc(world, SALES, "duplicate ESC-1", dup.channel_id)
    assert "Only responders" in told and load(world, 2).status == "open"
    request = capture(
        world.driver,
        lambda: world.driver.command(MEMBER, "/esc", "duplicate ESC-1", channel_id=dup.channel_id),
    )
    deliver(world.driver, request)
    world.settle()
    deliver(world.driver, request, retry_num=1)
    world.settle()
    after = load(world, 2)
    assert (after.status, after.duplicate_of, after.resolution) == (
        "resolved",
        1,
        "Duplicate of ESC-1",
    )
    members = set(world.emulator.channel(original.channel_id)["members"])
    assert {"U0EVE00001", "U0LEAD0001"} <= members
    assert (
        len(events(world, 2, "marked_duplicate")) == len(events(world, 1, "duplicate_added")) == 1
    )
    assert "duplicate of *ESC-1* Counterfeit ads wave" in _last(world, dup.channel_id)
    assert any("*ESC-2* Fake sneaker ads" in p for p in posts(world, original.channel_id))
    assert "already a duplicate" in esc(world, MEMBER, "duplicate ESC-1", dup.channel_id)
    assert "cannot be the original" in esc(world, MEMBER, "duplicate ESC-2", original.channel_id)
    assert "duplicates this" in esc(world, MEMBER, "status", original.channel_id)
    with world.db.uow() as uow:
        rows = export_rows(uow, original.created_at, world.clock())
    assert [r["duplicate_of"] for r in rows] == [None, "ESC-1"]


def _timeline_of(world: World, number: int):
    return [e for e in events(world, number, "message_added")]


def test_pushpin_adds_a_message_to_the_timeline_once_with_its_time_and_permalink(world: World):
    row = raise_esc(world)
    world.clock.advance(timedelta(minutes=2))
    ts = world.emulator.add_message(row.channel_id, "Found 40 more storefronts <!here>", user=SALES)
    world.clock.advance(timedelta(minutes=5))
    for user, retry in ((MEMBER, None), (MEMBER, 1), (REPORTER, None)):
        reply = world.driver.reaction(
            user, row.channel_id, ts, event_id="EvPIN" + user, retry_num=retry
        )
        assert reply.status == 200
        world.settle()
    [event] = _timeline_of(world, row.id)
    assert event.actor == MEMBER and event.detail["author"] == SALES
    assert event.detail["text"] == "Found 40 more storefronts <!here>"
    assert event.at == datetime.fromtimestamp(float(ts), UTC)  # its own time, not the pin's
    link = event.detail["permalink"]
    assert link and link.endswith(f"/archives/{row.channel_id}/p{ts.replace('.', '')}")
    shown = esc(world, MEMBER, "timeline", row.channel_id)
    assert f"message from <@{SALES}>: Found 40 more storefronts" in shown and link in shown
    assert "<!here>" not in shown  # quoted text cannot ping anyone
    # the shortcut on the same message adds nothing more
    told = _shortcut(world, REPORTER, "add_to_timeline", row.channel_id, ts)
    assert "already on the timeline of ESC-1" in told
    assert len(_timeline_of(world, row.id)) == 1


def _shortcut(world: World, user: str, callback: str, channel: str, ts: str) -> str:
    before = len(world.emulator.responses)
    reply = world.driver.message_shortcut(user, callback, channel, ts)
    assert reply.status == 200, reply.body
    world.settle()
    return said(world, reply, before)


def test_add_to_timeline_shortcut_and_a_thread_reply(world: World):
    row = raise_esc(world)
    root = world.emulator.add_message(row.channel_id, "Source of the wave?", user=MEMBER)
    reply_ts = world.emulator.add_message(
        row.channel_id, "A reseller network in two markets", user=SALES, thread_ts=root
    )
    request = capture(
        world.driver,
        lambda: world.driver.message_shortcut(REPORTER, "add_to_timeline", row.channel_id, root),
    )
    deliver(world.driver, request)
    world.settle()
    deliver(world.driver, request)  # a double click, the same payload
    world.settle()
    assert "Added the message to the timeline of ESC-1" in str(world.emulator.responses)
    world.driver.reaction(MEMBER, row.channel_id, reply_ts)
    world.settle()
    added = _timeline_of(world, row.id)
    assert [(e.detail["author"], e.detail["text"], e.detail["via"]) for e in added] == [
        (MEMBER, "Source of the wave?", "shortcut"),
        (SALES, "A reseller network in two markets", "reaction"),
    ]
    assert f"thread_ts={root}" in added[1].detail["permalink"]


def test_pins_elsewhere_other_reactions_and_strangers_change_nothing(world: World):
    row = raise_esc(world)
    ts = world.emulator.add_message(row.channel_id, "Screenshot attached", user=SALES)
    team = world.config.team.channel
    elsewhere = world.emulator.add_message(team, "Lunch?", user=MEMBER)
    calls = len(world.emulator.calls)
    assert world.driver.reaction(MEMBER, team, elsewhere).status == 200
    assert world.driver.reaction(MEMBER, row.channel_id, ts, "eyes").status == 200
    world.settle()
    assert not _timeline_of(world, row.id)
    assert [c.method for c in world.emulator.calls[calls:]] == []
    told = _shortcut(world, MEMBER, "add_to_timeline", team, elsewhere)
    assert "not an escalation channel" in told
    # a malformed reaction event is refused at the edge
    bad = world.driver.event({"type": "reaction_added", "user": MEMBER, "reaction": "pushpin"})
    assert bad.status == 400
    # restricted: the shortcut from inside works; from a crafted payload outside, nothing
    secret = raise_form(world, REPORTER, "Leak of VIP data", "vip", ("restricted",))
    inside = world.emulator.add_message(secret.channel_id, "Paste site URL", user=REPORTER)
    assert "Added" in _shortcut(world, REPORTER, "add_to_timeline", secret.channel_id, inside)
    assert len(_timeline_of(world, secret.id)) == 1
