"""`/escalate` end to end: real HTTP both ways, real signatures, a real database."""

from __future__ import annotations

from tests.e2e.conftest import World


def _escalation(world: World, number: int):
    with world.db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        assert esc is not None
        _ = list(esc.participants)
        return esc


def test_inline_escalation_staffs_the_channel(world: World):
    reply = world.driver.command("U0ANA00001", "/escalate", "SEV2 #ads Counterfeit ads wave")
    assert reply.status == 200
    world.settle()
    esc = _escalation(world, 1)
    assert (esc.severity, esc.category, esc.title) == ("SEV2", "ads", "Counterfeit ads wave")
    channel = world.emulator.channel(esc.channel_id)
    assert channel is not None
    assert channel["name"] == "esc-1-counterfeit-ads-wave"
    assert not channel["is_private"]
    # reporter + primary on-call + sales + core_policy, one batched invite
    [invite] = world.emulator.calls_of("conversations.invite")
    invited = set(invite.args["users"].split(","))
    assert {"U0ANA00001", "U0SAL00001", "U0CPO00001"} <= invited
    assert set(channel["members"]) >= invited
    card = world.emulator.messages(esc.channel_id)[0]
    assert card["pinned"]
    assert "ESC-1" in card["text"] and "Counterfeit ads wave" in card["text"]
    feed = world.emulator.messages(world.config.team.feed_channel)
    assert len(feed) == 1 and "ESC-1" in feed[0]["text"]
    assert all(not m["unfurl_links"] and not m["unfurl_media"] for m in feed)
    assert any("ESC-1" in r["payload"].get("text", "") for r in world.emulator.responses)
