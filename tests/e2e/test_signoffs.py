"""Sign-off requests end to end: only the group answers, once, into the decision log."""

from __future__ import annotations

from datetime import timedelta

from bot.blocks import Action
from tests.support.escalations import card, click, decisions, esc, events, load, raise_esc, signoffs
from tests.support.people import MEMBER, REPORTER
from tests.support.world import World

LEGAL = ("U0LEG00001", "U0LEG00002")


def _request(world: World, channel: str, text: str) -> tuple[int, dict]:
    said = esc(world, MEMBER, f"signoff {text}", channel)
    assert "to sign off in ESC-1" in said
    signoff = signoffs(world, 1)[-1]
    [message] = [m for m in world.emulator.messages(channel) if m["ts"] == signoff.message_ts]
    return signoff.id, message


def _buttons(message: dict) -> dict[str, str]:
    return {
        e["action_id"]: e["value"]
        for b in message.get("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
    }


def test_group_member_approves_once_and_it_is_logged(world: World):
    row = raise_esc(world)
    world.clock.advance(timedelta(minutes=1))
    signoff_id, message = _request(world, row.channel_id, "legal Remove the ads in DE?")
    [pending] = signoffs(world, 1)
    assert (pending.status, pending.group, pending.requested_by) == ("pending", "legal", MEMBER)
    assert pending.requested_at == row.created_at + timedelta(minutes=1)
    assert _buttons(message) == {
        Action.SIGNOFF_APPROVE: str(signoff_id),
        Action.SIGNOFF_REJECT: str(signoff_id),
    }
    assert "Remove the ads in DE?" in message["text"] and "<@U0LEG00001>" in str(message)
    # the group was not in the channel: it is invited with the request
    assert set(LEGAL) <= set(world.emulator.channel(row.channel_id)["members"])
    assert "Awaiting sign-off: legal" in str(card(world, row)["blocks"])

    said = click(
        world, REPORTER, Action.SIGNOFF_APPROVE, str(signoff_id), row.channel_id, message["ts"]
    )
    assert "Only Legal can answer" in said
    assert signoffs(world, 1)[0].status == "pending" and decisions(world, 1) == []

    world.clock.advance(timedelta(minutes=4))
    said = click(
        world, LEGAL[0], Action.SIGNOFF_APPROVE, str(signoff_id), row.channel_id, message["ts"]
    )
    assert "Recorded: Legal approved (decision #1)" in said
    [answered] = signoffs(world, 1)
    assert (answered.status, answered.answered_by) == ("approved", LEGAL[0])
    assert answered.answered_at == row.created_at + timedelta(minutes=5)
    [entry] = decisions(world, 1)
    assert entry.text == "Legal approved: Remove the ads in DE?"
    assert entry.decided_by == LEGAL[0] and entry.consulted == [MEMBER]
    updated = next(m for m in world.emulator.messages(row.channel_id) if m["ts"] == message["ts"])
    assert _buttons(updated) == {} and "approved" in updated["text"]
    assert "<@U0LEG00001>" in str(updated["blocks"])
    assert load(world, 1).first_response_at == answered.answered_at

    said = click(
        world, LEGAL[1], Action.SIGNOFF_REJECT, str(signoff_id), row.channel_id, message["ts"]
    )
    assert "already approved by <@U0LEG00001>" in said
    assert signoffs(world, 1)[0].status == "approved" and len(decisions(world, 1)) == 1
    kinds = [e.kind for e in events(world, 1) if e.kind.startswith("signoff")]
    assert kinds == ["signoff_requested", "signoff_answered"]
    assert "Awaiting sign-off" not in str(card(world, row)["blocks"])


def test_usergroup_and_rotation_groups(world: World):
    row = raise_esc(world)
    signoff_id, _ = _request(world, row.channel_id, "public_policy Statement OK?")
    said = click(world, MEMBER, Action.SIGNOFF_REJECT, str(signoff_id), row.channel_id)
    assert "Only Public Policy can answer" in said
    said = click(world, "U0PUBPO0002", Action.SIGNOFF_REJECT, str(signoff_id), row.channel_id)
    assert "Public Policy rejected" in said
    assert decisions(world, 1)[0].text == "Public Policy rejected: Statement OK?"

    second_id, _ = _request(world, row.channel_id, "secondary")
    with world.db.uow() as uow:
        oncall = world.bot.services.oncall.user_at(uow.repos.overrides, "secondary", world.clock())
    assert oncall is not None
    other = "U0ANA00001" if oncall != "U0ANA00001" else "U0EVE00001"
    assert "Only Secondary on-call" in click(
        world, other, Action.SIGNOFF_APPROVE, str(second_id), row.channel_id
    )
    assert "approved" in click(
        world, oncall, Action.SIGNOFF_APPROVE, str(second_id), row.channel_id
    )
    assert decisions(world, 1)[1].text == "Secondary on-call approved"


def test_unknown_group_is_a_usage_error(world: World):
    row = raise_esc(world)
    reply = world.driver.command(MEMBER, "/esc", "signoff finance OK?", channel_id=row.channel_id)
    assert "Unknown group `finance`" in reply.body and "legal" in reply.body
    world.settle()
    assert signoffs(world, 1) == []
