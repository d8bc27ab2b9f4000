"""A restricted escalation's details never leave its channel: feed, list, status, stats."""

from __future__ import annotations

from tests.support.escalations import esc, events, load, posts, raise_esc, raise_form
from tests.support.people import LEAD, MEMBER, REPORTER, SALES
from tests.support.world import World

TITLE = "Leak of VIP private data"


def _world_with_secret(world: World) -> int:
    raise_esc(world)
    secret = raise_form(world, REPORTER, TITLE, category="vip", flags=("restricted",))
    assert secret.restricted and world.emulator.channel(secret.channel_id)["is_private"]
    return secret.id


def test_work_inside_the_channel_is_never_announced(world: World):
    number = _world_with_secret(world)
    secret = load(world, number)
    for text in ("ack", "sev SEV1", "update Contained", "decision Notify the VIP", "resolve Done"):
        esc(world, REPORTER, text, secret.channel_id)
    assert load(world, number).status == "resolved"
    feed = posts(world, world.config.team.feed_channel)
    assert len(feed) == 1 and "ESC-1" in feed[0]
    assert not any(TITLE in p or "ESC-2" in p for p in feed)
    assert not any(TITLE in p for p in posts(world, world.config.team.channel))


def test_list_and_named_status_hide_it_from_outsiders(world: World):
    number = _world_with_secret(world)
    team = world.config.team.channel
    for user in (SALES, LEAD):  # LEAD is a team member, but not in that channel
        listed = esc(world, user, "list all", team)
        assert "ESC-1" in listed and "ESC-2" not in listed and TITLE not in listed
        status = esc(world, user, f"ESC-{number} status", team)
        assert "does not exist, or it is restricted" in status and TITLE not in status
        assert TITLE not in esc(world, user, f"ESC-{number} timeline", team)
        assert TITLE not in esc(world, user, f"ESC-{number} decisions", team)
    before = len(events(world, number))
    refused = esc(world, LEAD, f"ESC-{number} ack", team)
    assert "does not exist, or it is restricted" in refused
    assert load(world, number).status == "open" and len(events(world, number)) == before
    inside = esc(world, REPORTER, "list", team)
    assert "ESC-2" in inside and TITLE in inside
    assert TITLE in esc(world, REPORTER, f"ESC-{number} status", team)


def test_stats_count_it_only_for_insiders(world: World):
    _world_with_secret(world)
    team = world.config.team.channel
    assert "*Raised:* 1" in esc(world, MEMBER, "stats", team)
    assert "*Raised:* 2" in esc(world, REPORTER, "stats", team)


def test_inviting_someone_lets_them_see_it(world: World):
    number = _world_with_secret(world)
    secret = load(world, number)
    team = world.config.team.channel
    assert "ESC-2" not in esc(world, LEAD, "list", team)
    esc(world, REPORTER, "invite <@U0LEAD0001|lead>", secret.channel_id)
    assert LEAD in world.emulator.channel(secret.channel_id)["members"]
    assert "ESC-2" in esc(world, LEAD, "list", team)
