"""Coordinating escalations end to end: flags after raising, stakeholder update briefs."""

from __future__ import annotations

from bot.blocks import GRAPHIC_WARNING
from tests.e2e.conftest import World
from tests.e2e.esc_support import (
    MEMBER,
    OUTSIDER,
    REPORTER,
    card,
    esc,
    events,
    load,
    raise_esc,
    raise_form,
)
from tests.e2e.replay import capture, deliver


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
