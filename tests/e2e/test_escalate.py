"""`/escalate` end to end: real HTTP both ways, real signatures, a real database."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from tests.support.socket_world import http_only
from tests.support.world import World


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


def _select(value: str) -> dict:
    return {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
    }


def _form(world: World, user: str, **fields) -> tuple[dict, dict]:
    reply = world.driver.command(user, "/escalate", "")
    assert reply.status == 200
    world.settle()
    [view] = world.emulator.open_views(user)
    assert view["callback_id"] == "escalate_modal"
    values: dict = {"title": {"title": fields.pop("title")}}
    for block in view["blocks"]:  # Slack submits initial options as selected
        initial = block.get("element", {}).get("initial_option")
        if initial:
            values[block["block_id"]] = {block["block_id"]: _select(initial["value"])}
    flags = fields.pop("flags", [])
    values["flags"] = {
        "flags": {
            "type": "checkboxes",
            "selected_options": [
                {"text": {"type": "plain_text", "text": f}, "value": f} for f in flags
            ],
        }
    }
    surfaces = fields.pop("surfaces", [])
    values["surfaces"] = {
        "surfaces": {
            "type": "multi_static_select",
            "selected_options": [
                {"text": {"type": "plain_text", "text": s}, "value": s} for s in surfaces
            ],
        }
    }
    for block, value in fields.items():
        values[block] = {
            block: _select(value)
            if block != "description"
            else {"type": "plain_text_input", "value": value}
        }
    return view, values


def _invited(world: World) -> set[str]:
    users: set[str] = set()
    for call in world.emulator.calls_of("conversations.invite"):
        users |= set(call.args["users"].split(","))
    return users


def test_modal_escalation_with_every_field(world: World):
    view, values = _form(
        world,
        "U0BEN00001",
        title="Counterfeit goods in shops",
        description="Seller network in DE",
        category="content",
        policy_area="commerce_policies",
        severity="SEV3",
        region="emea",
        surfaces=["instagram", "facebook"],
        flags=["graphic"],
    )
    reply = world.driver.submit_view("U0BEN00001", view, values)
    assert reply.status == 200 and reply.body == ""
    world.settle()
    esc = _escalation(world, 1)
    assert (esc.category, esc.policy_area, esc.region, esc.severity) == (
        "content",
        "commerce_policies",
        "emea",
        "SEV3",
    )
    assert esc.surfaces == ["instagram", "facebook"] and esc.graphic and not esc.restricted
    # rule 4: commerce_policies in emea invites legal
    assert {"U0LEG00001", "U0LEG00002", "U0BEN00001"} <= _invited(world)
    card = world.emulator.messages(esc.channel_id)[0]
    assert "Content warning" in str(card["blocks"])
    # the reporter is told where the escalation lives
    assert any(
        e["user"] == "U0BEN00001" and "ESC-1" in e["text"] for e in world.emulator.ephemerals
    )


def test_modal_rejects_a_missing_title(world: World):
    view, values = _form(world, "U0BEN00001", title="", category="content")
    reply = world.driver.submit_view("U0BEN00001", view, values)
    assert reply.status == 200
    assert reply.json["response_action"] == "errors"
    assert reply.json["errors"]["title"] == "Please fill this in."  # words, not the validator's
    world.settle()
    with world.db.uow() as uow:
        assert uow.repos.escalations.find() == []


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("#election Ballot stuffing video", {"U0PUBPO0001", "U0COM00001"}),
        ("#crisis Earthquake hoaxes", {"U0PUBPO0001", "U0COM00001"}),
        ("#ads Miracle pill ads", {"U0SAL00001", "U0CPO00001"}),
        ("#legal_request Court order DE", {"U0LEG00001", "U0LEG00002"}),
        ("SEV1 #other Mass account takeover", {"U0EVE00001", "U0LEG00001", "U0LEAD0001"}),
    ],
)
def test_routing_rules(world: World, text: str, groups: set[str]):
    world.driver.command("U0ANA00001", "/escalate", text)
    world.settle()
    invited = _invited(world)
    assert groups <= invited
    others = {"U0PUBPO0001", "U0COM00001", "U0SAL00001", "U0CPO00001", "U0LEG00001"} - groups
    assert not (others & invited)
    assert len(world.emulator.calls_of("conversations.invite")) == 1


def test_usergroup_members_are_expanded_once(world: World):
    world.driver.command("U0ANA00001", "/escalate", "#election Deepfake of candidate")
    world.driver.command("U0ANA00001", "/escalate", "#crisis Second one")
    world.settle()
    assert {"U0PUBPO0001", "U0PUBPO0002", "U0PUBPO0003"} <= _invited(world)
    assert len(world.emulator.calls_of("usergroups.users.list")) == 1  # cached


def test_restricted_escalation_is_private_and_unannounced(world: World):
    view, values = _form(
        world, "U0ANA00001", title="Leak of VIP private data", category="vip", flags=["restricted"]
    )
    world.driver.submit_view("U0ANA00001", view, values)
    world.settle()
    esc = _escalation(world, 1)
    channel = world.emulator.channel(esc.channel_id)
    assert channel["is_private"] and channel["name"] == "esc-1-restricted"
    assert world.emulator.messages(world.config.team.feed_channel) == []
    assert "VIP" not in str(
        [c.args for c in world.emulator.calls if c.args.get("channel") != esc.channel_id]
    )


def test_name_taken_twice_gets_a_suffix(world: World):
    world.emulator.add_channel("C0TAKEN001", "esc-1-leak", bot_member=False)
    world.emulator.add_channel("C0TAKEN002", "esc-1-leak-2", bot_member=False)
    world.driver.command("U0ANA00001", "/escalate", "Leak")
    world.settle()
    esc = _escalation(world, 1)
    assert esc.channel_name == "esc-1-leak-3"
    errors = [c.error for c in world.emulator.calls_of("conversations.create")]
    assert errors == ["name_taken", "name_taken", None]


@http_only
def test_bad_signature_gets_401_and_changes_nothing(world: World):
    started = len(world.emulator.calls)  # the look-ups of start-up
    reply = world.driver.command(
        "U0ANA00001", "/escalate", "SEV1 Forged", signature="v0=" + "0" * 64
    )
    stale = world.driver.command(
        "U0ANA00001", "/escalate", "SEV1 Stale", timestamp=int(time.time()) - 6 * 60
    )
    assert reply.status == 401 and stale.status == 401
    world.settle()
    with world.db.uow() as uow:
        assert uow.repos.escalations.find() == []
    assert world.emulator.calls[started:] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SEV9 Something", "Unknown severity `SEV9`"),
        ("#gossip Something", "Unknown category `gossip`"),
        ("SEV2", "needs a title"),
    ],
)
def test_bad_arguments_get_a_usage_reply(world: World, text: str, message: str):
    reply = world.driver.command("U0ANA00001", "/escalate", text)
    assert reply.status == 200
    assert message in reply.body and "Usage:" in reply.body
    world.settle()
    with world.db.uow() as uow:
        assert uow.repos.escalations.find() == []


def test_web_api_calls_per_escalation(world: World):
    world.driver.command("U0ANA00001", "/escalate", "SEV1 #election Vote buying")
    world.settle()
    methods = [c.method for c in world.emulator.calls]
    assert methods.count("conversations.invite") == 1
    assert len([m for m in methods if m not in ("auth.test", "usergroups.users.list")]) <= 6


def test_same_command_delivered_twice_creates_one_escalation(world: World):
    body = urlencode(
        {
            "token": "t",
            "team_id": world.emulator.team_id,
            "team_domain": "sandbox",
            "channel_id": "C0TEAM0001",
            "channel_name": "escalations-team",
            "user_id": "U0ANA00001",
            "user_name": "ana",
            "command": "/escalate",
            "text": "SEV2 Delivered twice",
            "api_app_id": "A0SANDBOX1",
            "response_url": world.emulator.new_response_url(),
            "trigger_id": world.emulator.new_trigger_id(),
        }
    ).encode()
    replies = [world.driver.send_raw(body, "application/x-www-form-urlencoded") for _ in range(2)]
    assert [r.status for r in replies] == [200, 200]
    world.settle()
    with world.db.uow() as uow:
        assert [e.title for e in uow.repos.escalations.find()] == ["Delivered twice"]
    assert len(world.emulator.calls_of("conversations.create")) == 1


@http_only
def test_inline_escalate_is_answered_on_the_event_loop_and_the_form_on_a_listener(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    listeners = world.bot.services.listeners
    handed: list[str] = []
    submit = listeners.submit
    monkeypatch.setattr(
        listeners, "submit", lambda fn, *a, **k: handed.append("listener") or submit(fn, *a, **k)
    )
    reply = world.driver.command("U0ANA00001", "/escalate", "SEV2 #ads Counterfeit ads wave")
    assert reply.status == 200 and "Raising *Counterfeit ads wave*" in reply.body
    again = world.driver.command("U0ANA00001", "/escalate", "SEV2 #nope Whatever")
    assert again.status == 200 and "nope" in again.body  # a usage error, answered there too
    assert handed == []  # neither went through the listener pool
    world.settle()
    assert _escalation(world, 1).title == "Counterfeit ads wave"
    world.driver.command("U0ANA00001", "/escalate", "")  # the form: a Slack call, not there
    world.settle()
    assert handed == ["listener"] and world.emulator.open_views("U0ANA00001")
