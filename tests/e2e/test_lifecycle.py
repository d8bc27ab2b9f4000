"""Working an escalation end to end: `/esc` subcommands, card buttons and their forms."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.blocks import GRAPHIC_WARNING, Action, Callback
from bot.text import ZWSP
from tests.support.escalations import (
    card,
    card_buttons,
    click,
    esc,
    events,
    load,
    posts,
    raise_esc,
    raise_form,
    select,
    set_flags,
    submit,
    top_view,
)
from tests.support.people import LEAD, MEMBER, ONCALL, OUTSIDER, REPORTER, SALES
from tests.support.world import World


def test_ack_by_command_updates_card_and_timeline_once(world: World):
    row = raise_esc(world)
    assert row.owner == ONCALL and row.status == "open"
    world.clock.advance(timedelta(minutes=3))
    said = esc(world, MEMBER, "ack", row.channel_id)
    assert "Acknowledged ESC-1" in said
    after = load(world, 1)
    assert after.status == "acknowledged"
    assert after.acknowledged_by == MEMBER
    assert after.acknowledged_at == row.created_at + timedelta(minutes=3)
    assert after.owner == ONCALL  # someone other than the reporter already owned it
    message = card(world, row)
    assert "acknowledged" in message["text"] and "Acknowledged by" in str(message["blocks"])
    assert len(world.emulator.calls_of("chat.update")) == 1
    # a second ack, by command or by button, is a polite no-op
    assert "already acknowledged" in esc(world, ONCALL, "ack", row.channel_id)
    for _ in range(2):
        said = click(world, ONCALL, Action.ACK, str(row.id), row.channel_id, row.card_ts)
        assert "already acknowledged" in said
    assert len(events(world, 1, "acknowledged")) == 1
    assert load(world, 1).acknowledged_by == MEMBER


def test_ack_button_takes_ownership_when_only_the_reporter_owned_it(world: World):
    row = raise_esc(world, "SEV3 Spam ring", user=ONCALL)  # the on-call raised it themselves
    assert row.owner == row.reporter == ONCALL
    said = click(world, LEAD, Action.ACK, str(row.id), row.channel_id, row.card_ts)
    assert "Owner: <@U0LEAD0001>" in said
    after = load(world, 1)
    assert (after.status, after.owner, after.acknowledged_by) == ("acknowledged", LEAD, LEAD)
    assert "<@U0LEAD0001>" in str(card(world, row)["blocks"])
    # the new owner was not in the channel: one invite for them
    assert LEAD in world.emulator.channel(row.channel_id)["members"]


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("ack", "acknowledge"),
        ("sev SEV1", "change severity"),
        ("resolve Done here", "resolve"),
        ("reopen", "reopen"),
        ("owner <@U0SAL00001|sal>", "change the owner"),
    ],
)
def test_non_members_are_refused_and_nothing_changes(world: World, text: str, refusal: str):
    row = raise_esc(world)
    before = len(events(world, 1))
    calls = len(world.emulator.calls)
    said = esc(world, SALES, text, row.channel_id)
    assert "Only responders of High Priority Escalations" in said and refusal in said
    after = load(world, 1)
    assert (after.status, after.severity, after.owner) == ("open", "SEV2", ONCALL)
    assert len(events(world, 1)) == before
    assert [c.method for c in world.emulator.calls[calls:]] == []  # no Web API call at all


def test_non_member_buttons_are_refused(world: World):
    row = raise_esc(world)
    said = click(world, SALES, Action.ACK, str(row.id), row.channel_id, row.card_ts)
    assert "Only responders" in said
    for action in (Action.CHANGE_SEVERITY, Action.RESOLVE):
        said = click(world, SALES, action, str(row.id), row.channel_id, row.card_ts)
        assert "Only responders" in said
    assert world.emulator.open_views(SALES) == []
    assert load(world, 1).status == "open"
    assert len(events(world, 1, "acknowledged")) == 0


def test_severity_by_command_invites_newly_routed_groups(world: World):
    row = raise_esc(world)
    world.clock.advance(timedelta(minutes=1))
    said = esc(world, MEMBER, "sev sev1", row.channel_id)
    assert "ESC-1 is now SEV1" in said
    after = load(world, 1)
    assert after.severity == "SEV1"
    assert after.ack_deadline == row.created_at + timedelta(minutes=5)
    [change] = events(world, 1, "severity_changed")
    assert change.detail["before"] == "SEV2" and change.detail["after"] == "SEV1"
    assert set(change.detail["groups"]) == {"secondary", "legal", "leads"}
    invites = world.emulator.calls_of("conversations.invite")
    assert len(invites) == 2  # staffing, then one batch for the newly routed groups
    assert {"U0LEG00001", "U0LEG00002", "U0LEAD0001"} <= set(invites[1].args["users"].split(","))
    assert "[SEV1]" in card(world, row)["text"]
    assert any("SEV2 → *SEV1*" in p for p in posts(world, row.channel_id))
    assert "already SEV1" in esc(world, MEMBER, "sev SEV1", row.channel_id)
    assert len(events(world, 1, "severity_changed")) == 1


def test_severity_change_invites_only_who_is_not_in_the_channel(world: World):
    row = raise_esc(world)  # SEV2 #ads: sales and core policy routed in
    esc(world, MEMBER, "invite legal", row.channel_id)  # Legal is in before the change
    invites = len(world.emulator.calls_of("conversations.invite"))
    notes = len(posts(world, row.channel_id))
    esc(world, MEMBER, "sev SEV1", row.channel_id)  # routes secondary, legal and leads
    calls = world.emulator.calls_of("conversations.invite")[invites:]
    assert len(calls) == 1
    asked = set(calls[0].args["users"].split(","))
    assert "U0LEAD0001" in asked and not asked & {"U0LEG00001", "U0LEG00002"}
    assert all(c.ok for c in calls)  # nobody already in was asked for: no already_in_channel
    added = [p for p in posts(world, row.channel_id)[notes:] if "Added" in p]
    assert len(added) == 1 and "U0LEG0000" not in added[0] and "<@U0LEAD0001>" in added[0]
    # Back down and up again: everyone routed is in, so no invite call and no "Added" note.
    esc(world, MEMBER, "sev SEV2", row.channel_id)
    notes = len(posts(world, row.channel_id))
    esc(world, MEMBER, "sev SEV1", row.channel_id)
    assert len(world.emulator.calls_of("conversations.invite")) == invites + 1
    assert not [p for p in posts(world, row.channel_id)[notes:] if "Added" in p]
    # Someone named who is in already is told so, not "Added".
    esc(world, MEMBER, "invite <@U0LEAD0001|lead>", row.channel_id)
    assert any("Already in the channel: <@U0LEAD0001>" in p for p in posts(world, row.channel_id))


def test_severity_form(world: World):
    row = raise_esc(world)
    click(world, MEMBER, Action.CHANGE_SEVERITY, str(row.id), row.channel_id, row.card_ts)
    view = top_view(world, MEMBER)
    assert view["callback_id"] == Callback.SEVERITY
    submit(world, MEMBER, view, {"severity": {"severity": select("SEV4")}})
    assert load(world, 1).severity == "SEV4"
    assert "[SEV4]" in card(world, row)["text"]
    assert world.emulator.open_views(MEMBER) == []


def test_owner_and_take_ownership(world: World):
    row = raise_esc(world)
    said = esc(world, LEAD, "owner <@U0CHI00001|chi>", row.channel_id)
    assert "<@U0CHI00001> now owns ESC-1" in said
    assert load(world, 1).owner == MEMBER
    assert MEMBER in world.emulator.channel(row.channel_id)["members"]
    said = click(world, REPORTER, Action.TAKE_OWNERSHIP, str(row.id), row.channel_id)
    assert "<@U0ANA00001> now owns ESC-1" in said
    assert load(world, 1).owner == REPORTER
    assert "<@U0ANA00001>" in str(card(world, row)["blocks"])
    said = click(world, SALES, Action.TAKE_OWNERSHIP, str(row.id), row.channel_id)
    assert "Only responders" in said
    assert load(world, 1).owner == REPORTER
    assert [e.detail["after"] for e in events(world, 1, "owner_changed")] == [MEMBER, REPORTER]


def test_update_is_escaped_stored_and_counts_as_first_response(world: World):
    row = raise_esc(world)
    esc(world, REPORTER, "update Still looking", row.channel_id)
    assert load(world, 1).first_response_at is None  # the reporter's own update
    world.clock.advance(timedelta(minutes=7))
    said = esc(
        world, SALES, "update Pulled 40 ads @channel <https://x.example|see>", row.channel_id
    )
    assert "Update posted" in said
    after = load(world, 1)
    assert after.last_update_at == row.created_at + timedelta(minutes=7)
    assert after.first_response_at == row.created_at + timedelta(minutes=7)
    update = posts(world, row.channel_id)[-1]
    assert f"@{ZWSP}channel" in update and "&lt;https://x.example|see&gt;" in update
    assert all(not m["unfurl_links"] for m in world.emulator.messages(row.channel_id))
    world.clock.advance(timedelta(minutes=5))
    esc(world, MEMBER, "update More", row.channel_id)
    assert load(world, 1).first_response_at == after.first_response_at
    assert [e.detail["text"] for e in events(world, 1, "update")] == [
        "Still looking",
        "Pulled 40 ads @channel <https://x.example|see>",
        "More",
    ]
    assert "Last update" in str(card(world, row)["blocks"])


def test_invite_users_and_groups_in_one_batch(world: World):
    row = raise_esc(world)
    calls = len(world.emulator.calls_of("conversations.invite"))
    said = esc(world, SALES, "invite <@U0COM00001|com> legal public_policy", row.channel_id)
    assert "Inviting <@U0COM00001>, Legal, Public Policy" in said
    invites = world.emulator.calls_of("conversations.invite")[calls:]
    assert len(invites) == 1
    users = set(invites[0].args["users"].split(","))
    expected = {OUTSIDER, "U0LEG00001", "U0LEG00002", "U0PUBPO0001", "U0PUBPO0002"}
    assert expected <= users
    assert expected <= set(world.emulator.channel(row.channel_id)["members"])
    people = {p.user_id: p for p in load(world, 1).participants}
    assert people["U0LEG00001"].group == "legal" and people["U0LEG00001"].invited_at
    assert people["U0PUBPO0003"].group == "public_policy"
    assert any("Added by <@U0SAL00001>" in p for p in posts(world, row.channel_id))
    assert len(events(world, 1, "invited")) == 2


def test_add_stakeholders_form(world: World):
    row = raise_esc(world)
    click(world, SALES, Action.ADD_STAKEHOLDERS, str(row.id), row.channel_id, row.card_ts)
    view = top_view(world, SALES)
    assert view["callback_id"] == Callback.STAKEHOLDERS
    empty = world.driver.submit_view(SALES, view, {})
    assert empty.json["response_action"] == "errors"
    values = {
        "users": {"users": {"type": "multi_users_select", "selected_users": [OUTSIDER]}},
        "groups": {
            "groups": {
                "type": "multi_static_select",
                "selected_options": [
                    {"text": {"type": "plain_text", "text": "Legal"}, "value": "legal"}
                ],
            }
        },
    }
    submit(world, SALES, view, values)
    submit(world, SALES, view, values)  # a double submit invites once
    members = set(world.emulator.channel(row.channel_id)["members"])
    assert {OUTSIDER, "U0LEG00001", "U0LEG00002"} <= members
    assert len(events(world, 1, "invite_requested")) == 1


def test_resolve_and_reopen(world: World):
    row = raise_esc(world)
    said = esc(world, MEMBER, "resolve Removed 120 ads; advertiser banned", row.channel_id)
    assert "Resolved ESC-1" in said
    after = load(world, 1)
    assert after.status == "resolved" and after.resolution.startswith("Removed 120 ads")
    message = card(world, row)
    assert card_buttons(message) == [] and "Removed 120 ads" in str(message["blocks"])
    assert "already resolved" in esc(world, MEMBER, "resolve again", row.channel_id)
    assert len(events(world, 1, "resolved")) == 1
    assert "Reopened ESC-1" in esc(world, LEAD, "reopen", row.channel_id)
    reopened = load(world, 1)
    assert (reopened.status, reopened.resolved_at) == ("reopened", None)
    assert Action.ACK in card_buttons(card(world, row))
    assert "not resolved" in esc(world, LEAD, "reopen", row.channel_id)
    # the Resolve button asks for a summary
    click(world, LEAD, Action.RESOLVE, str(row.id), row.channel_id, row.card_ts)
    view = top_view(world, LEAD)
    assert view["callback_id"] == Callback.RESOLVE
    blank = world.driver.submit_view(LEAD, view, {"summary": {"summary": "  "}})
    assert blank.json["response_action"] == "errors"
    submit(world, LEAD, view, {"summary": {"summary": "False alarm"}})
    final = load(world, 1)
    assert (final.status, final.resolution) == ("resolved", "False alarm")
    assert len(events(world, 1, "resolved")) == 2


def test_resolve_without_summary_opens_the_form(world: World):
    row = raise_esc(world)
    esc(world, MEMBER, "resolve", row.channel_id)
    assert top_view(world, MEMBER)["callback_id"] == Callback.RESOLVE
    assert load(world, 1).status == "open"


def test_followups(world: World):
    row = raise_esc(world)
    said = esc(world, SALES, "followup tooling_gap Bulk takedown tool for ads", row.channel_id)
    assert "Follow-up #1 recorded for <@U0SAL00001>" in said
    said = esc(
        world,
        SALES,
        "followup policy Clarify counterfeit rule owner <@U0CHI00001|chi>",
        row.channel_id,
    )
    assert "#2 recorded for <@U0CHI00001>" in said
    assert "Unknown follow-up kind" in esc(world, SALES, "followup misc x", row.channel_id)
    assert "Follow-up #1 done" in esc(world, MEMBER, "followup done 1", row.channel_id)
    assert "already done" in esc(world, MEMBER, "followup done #1", row.channel_id)
    assert "no follow-up #9" in esc(world, MEMBER, "followup done 9", row.channel_id)
    status = esc(world, MEMBER, "status", row.channel_id)
    assert "#1 tooling_gap: Bulk takedown tool for ads" in status
    assert "#2 policy: Clarify counterfeit rule — <@U0CHI00001>" in status
    assert [e.kind for e in events(world, 1) if e.kind.startswith("followup")] == [
        "followup_added",
        "followup_added",
        "followup_done",
    ]


def test_status_timeline_list_help_and_named_escalations(world: World):
    row = raise_esc(world)
    esc(world, MEMBER, "ack", row.channel_id)
    status = esc(world, MEMBER, "status", row.channel_id)
    assert "ESC-1" in status and "acknowledged" in status and "Counterfeit ads wave" in status
    timeline = esc(world, MEMBER, "timeline", row.channel_id)
    assert "created" in timeline and "acknowledged" in timeline
    team = world.config.team.channel
    named = esc(world, MEMBER, "ESC-1 status", team)
    assert "Counterfeit ads wave" in named
    listed = esc(world, MEMBER, "list", team)
    assert "ESC-1" in listed
    assert "ESC-1" in esc(world, ONCALL, "list mine", team)
    assert "ESC-1" not in esc(world, LEAD, "list mine", team)
    helped = esc(world, MEMBER, "help", team)
    assert "/esc signoff" in helped and "/esc stats" in helped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frobnicate", "Unknown subcommand"),
        ("sev SEV9", "Unknown severity"),
        ("sev", "Usage: `/esc sev"),
        ("owner nobody", "Mention the new owner"),
        ("update", "needs its text"),
        ("invite finance", "Unknown group"),
        ("list someday", "Usage: `/esc list"),
        ("stats 5x", "Usage: `/esc stats"),
        ("ack now", "takes no arguments"),
        ("signoff", "Name the group"),
    ],
)
def test_bad_arguments_get_short_usage(world: World, text: str, expected: str):
    row = raise_esc(world)
    reply = world.driver.command(MEMBER, "/esc", text, channel_id=row.channel_id)
    assert reply.status == 200 and expected in reply.body
    assert "Traceback" not in reply.body
    world.settle()
    assert load(world, 1).status == "open"


def test_outside_an_escalation_channel(world: World):
    raise_esc(world)
    said = esc(world, MEMBER, "ack", world.config.team.channel)
    assert "not an escalation channel" in said
    assert "ESC-7 does not exist" in esc(world, MEMBER, "ESC-7 status", world.config.team.channel)
    assert load(world, 1).status == "open"


def test_graphic_escalation_posts_carry_the_content_warning(world: World):
    row = raise_esc(world, "SEV2 #content Violent video spreading")
    set_flags(world, 1, graphic=True)
    esc(world, MEMBER, "ack", row.channel_id)
    esc(world, MEMBER, "update Hashes sent to matching", row.channel_id)
    esc(world, MEMBER, "decision Remove under violent content policy", row.channel_id)
    esc(world, MEMBER, "signoff legal OK to notify police?", row.channel_id)
    bot_posts = [
        m
        for m in world.emulator.messages(row.channel_id)
        if m["ts"] != row.card_ts and m["user"] == world.emulator.bot_user_id
    ]
    assert len(bot_posts) >= 4
    for message in bot_posts:
        assert message["text"].startswith(GRAPHIC_WARNING)
        if message["blocks"]:
            assert GRAPHIC_WARNING in message["blocks"][0]["text"]["text"]
    assert GRAPHIC_WARNING in str(card(world, row)["blocks"])


def test_take_ownership_from_a_handoff_brief(world: World):
    # the weekend on-call is in a rotation but not in team.members: a responder all the same
    row = raise_form(world, REPORTER, "Spam wave on VIP pages", category="vip")
    reply = world.driver.action("U0DAN00001", Action.TAKE_OWNERSHIP, str(row.id))
    assert reply.status == 200
    world.settle()
    assert load(world, row.id).owner == "U0DAN00001"
    assert "U0DAN00001" in world.emulator.channel(row.channel_id)["members"]
    world.driver.action(OUTSIDER, Action.TAKE_OWNERSHIP, str(row.id))
    world.settle()
    assert load(world, row.id).owner == "U0DAN00001"


def test_a_restricted_escalation_cannot_be_taken_by_a_button_from_outside(world: World):
    # A responder outside a restricted channel presses a Take ownership button naming it.
    row = raise_form(world, REPORTER, "Leak of VIP data", category="vip", flags=("restricted",))
    before = load(world, row.id).owner
    calls = len(world.emulator.calls)
    for actor in ("U0DAN00001", LEAD):
        assert actor not in world.emulator.channel(row.channel_id)["members"]
        said = click(world, actor, Action.TAKE_OWNERSHIP, str(row.id), "C0TEAM0001")
        assert "does not exist, or it is restricted" in said
        assert "Leak" not in said
    world.settle()
    assert load(world, row.id).owner == before
    members = world.emulator.channel(row.channel_id)["members"]
    assert "U0DAN00001" not in members and LEAD not in members
    assert [c.method for c in world.emulator.calls[calls:]] == []


def test_a_severity_change_whose_invite_slack_refuses_says_who_could_not_be_added(world: World):
    row = raise_esc(world)
    world.emulator.inject_fault("conversations.invite", error="user_is_restricted", count=1)
    notes = len(posts(world, row.channel_id))
    esc(world, MEMBER, "sev SEV1", row.channel_id)
    said = [p for p in posts(world, row.channel_id)[notes:] if "Could not add" in p]
    assert len(said) == 1 and "user_is_restricted" in said[0] and "<@U0LEAD0001>" in said[0]
