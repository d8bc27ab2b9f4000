"""Coordinating escalations end to end: flags after raising, links, duplicates."""

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
