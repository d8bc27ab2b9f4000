"""Roles on an escalation end to end: `/esc role`, `/esc roles`, the card and the review."""

from __future__ import annotations

from bot.blocks import review_markdown
from bot.usecases.review import operator_review
from tests.support.escalations import card, esc, events, load, raise_esc, raise_form
from tests.support.people import LEAD, MEMBER, OUTSIDER, REPORTER, SALES
from tests.support.replay import capture, deliver
from tests.support.world import World

EVE = "U0EVE00001"  # a rotation member, in no #ads escalation to start with
SAL = SALES  # in no SEV1 #crisis escalation to start with


def test_assigning_a_role_once_lists_it_shows_it_on_the_card_and_invites_the_holder(
    world: World,
):
    row = raise_esc(world, "SEV1 #crisis Flood of reports")
    assert SAL not in world.emulator.channel(row.channel_id)["members"]
    before = "\n".join(str(b) for b in card(world, row)["blocks"])
    assert "Escalation lead :warning: needed" in before  # SEV1 requires one
    request = capture(
        world.driver,
        lambda: world.driver.command(
            MEMBER, "/esc", f"role lead <@{SAL}|sal>", channel_id=row.channel_id
        ),
    )
    first = deliver(world.driver, request)
    assert first.status == 200
    world.settle()
    deliver(world.driver, request, retry_num=1)  # Slack redelivers it: still one assignment
    world.settle()
    [event] = events(world, row.id, "role_assigned")
    assert (event.actor, event.detail["role"], event.detail["user"]) == (MEMBER, "lead", SAL)
    assert SAL in world.emulator.channel(row.channel_id)["members"]  # invited, as /esc invite
    invites = [c.args["users"] for c in world.emulator.calls_of("conversations.invite")]
    assert invites[1:] == [SAL]  # after the channel's own: one, for the holder
    note = [
        m["text"] for m in world.emulator.messages(row.channel_id) if "Escalation lead" in m["text"]
    ]
    assert note == [
        f":busts_in_silhouette: <@{MEMBER}> made <@{SAL}> the Escalation lead of ESC-1."
    ]
    shown = "\n".join(str(b) for b in card(world, row)["blocks"])
    assert f"Escalation lead <@{SAL}>" in shown and "Comms liaison :warning: needed" in shown

    # the same person again is a reply, not a second event
    again = esc(world, LEAD, f"role lead <@{SAL}>", row.channel_id)
    assert f"<@{SAL}> is already the Escalation lead of ESC-1" in again
    assert len(events(world, row.id, "role_assigned")) == 1

    listed = esc(world, REPORTER, "roles", row.channel_id)
    assert f"*Escalation lead* (`lead`) _(required)_: <@{SAL}>" in listed
    assert "*Comms liaison* (`comms`) _(required)_: nobody" in listed
    assert "*Scribe* (`scribe`): nobody" in listed

    # someone else takes the role over: a second event, naming who held it
    said = esc(world, LEAD, f"role lead <@{MEMBER}>", row.channel_id)
    assert f"<@{MEMBER}> is now the Escalation lead of ESC-1" in said
    assert events(world, row.id, "role_assigned")[-1].detail["before"] == SAL
    assert "role `lead`" in esc(world, MEMBER, "timeline", row.channel_id)

    review = review_markdown(
        operator_review(world.db, world.config, row.id, world.clock()), world.config
    )
    assert "## Roles" in review and f"*Escalation lead* (`lead`): @{MEMBER}" in review


def test_role_is_refused_to_non_responders_and_changes_nothing(world: World):
    row = raise_esc(world)  # SALES is routed into #ads escalations, but is no responder
    calls = len(world.emulator.calls)
    said = esc(world, SALES, f"role lead <@{EVE}>", row.channel_id)
    assert "Only responders of High Priority Escalations" in said and "assign roles" in said
    assert events(world, row.id, "role_assigned") == []
    assert EVE not in world.emulator.channel(row.channel_id)["members"]
    assert len(world.emulator.calls) == calls
    # anyone who sees it may list the roles
    assert "*Escalation lead* (`lead`): nobody" in esc(world, SALES, "roles", row.channel_id)


def test_a_restricted_escalations_roles_stay_inside_its_channel(world: World):
    secret = raise_form(world, REPORTER, "Leak of VIP data", "vip", ("restricted",))
    team = world.config.team.channel
    for who in (OUTSIDER, LEAD):  # LEAD is a responder, but outside the channel
        for text in (f"ESC-{secret.id} role lead <@{who}>", f"ESC-{secret.id} roles"):
            told = esc(world, who, text, team)
            assert "does not exist, or it is restricted" in told and "Leak" not in told
    assert events(world, secret.id, "role_assigned") == []
    assert len(load(world, secret.id).participants) == len(secret.participants)
    # inside, a responder assigns; the note stays in its own channel
    said = esc(world, REPORTER, f"role scribe <@{MEMBER}>", secret.channel_id)
    assert "is now the Scribe of ESC-1" in said
    assert not any("Scribe" in m["text"] for m in world.emulator.messages(team))


def test_unknown_roles_and_bad_mentions_are_explained(world: World):
    row = raise_esc(world)
    unknown = esc(world, MEMBER, f"role captain <@{EVE}>", row.channel_id)
    assert "Unknown role `captain`" in unknown
    for role in ("`lead` (Escalation lead)", "`comms` (Comms liaison)", "`scribe` (Scribe)"):
        assert role in unknown
    assert "Usage: `/esc role <role> <@user>`" in unknown
    for text in ("role lead eve", "role lead", f"role lead <@{EVE}> <@{MEMBER}>"):
        told = esc(world, MEMBER, text, row.channel_id)
        assert "Mention who holds it, like `/esc role lead @ana`" in told, text
    assert "Name a role and who holds it" in esc(world, MEMBER, "role", row.channel_id)
    assert "takes no arguments" in esc(world, MEMBER, "roles lead", row.channel_id)
    assert events(world, row.id, "role_assigned") == []
