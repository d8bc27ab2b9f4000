"""Attacks on who may do and see what: forged forms, tampered buttons, probing by number.

Team-only actions (acknowledge, resolve, change severity, reopen, hand over) are refused to
non-members on every surface, even when the request is crafted rather than clicked; a
restricted escalation's details never leave its channel — not in the feed, lists, App Home,
stats, the export, error messages, nor in any Web API call addressed to someone outside it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from bot.blocks import Action, Callback
from bot.cli import main
from tests.support.escalations import decisions, esc, events, load, raise_esc, raise_form
from tests.support.escalations import select as option
from tests.support.people import LEAD, MEMBER, ONCALL, REPORTER, SALES
from tests.support.world import World

SECRETS = ("Leak of VIP private data", "Passport scans", "Contacted the VIP", "Sealed order")


def _state(world: World, number: int) -> tuple:
    row = load(world, number)
    return (row.status, row.severity, row.owner, row.resolution, len(events(world, number)))


def _form(world: World, user: str, callback: Callback, number: int, values: dict) -> Any:
    """Submit a form the user never opened, as a crafted (but signed) request."""
    view = {"id": f"VFORGED{number}{callback.value[:3].upper()}", "callback_id": callback.value}
    view["private_metadata"] = str(number)
    return world.driver.submit_view(user, view, values)


@pytest.mark.parametrize(
    ("callback", "values", "field"),
    [
        (Callback.SEVERITY, {"severity": {"severity": option("SEV1")}}, "severity"),
        (Callback.RESOLVE, {"summary": {"summary": "Closed by an outsider"}}, "summary"),
    ],
)
def test_crafted_team_only_forms_are_refused_to_non_members(
    world: World, callback: Callback, values: dict, field: str
):
    row = raise_esc(world)  # SALES is routed into this channel
    before = _state(world, row.id)
    calls = len(world.emulator.calls)
    reply = _form(world, SALES, callback, row.id, values)
    assert reply.status == 200
    assert "Only responders of High Priority Escalations" in reply.json["errors"][field]
    world.settle()
    assert _state(world, row.id) == before
    assert world.emulator.calls[calls:] == []


def test_team_only_actions_by_name_from_anywhere_are_refused(world: World):
    row = raise_esc(world)
    before = _state(world, row.id)
    team = world.config.team.channel
    for text in ("ack", "sev SEV1", "resolve Gone", "reopen", "owner <@U0SAL00001>"):
        for channel in (row.channel_id, team):
            said = esc(world, SALES, f"ESC-{row.id} {text}", channel)
            assert "Only responders" in said, (text, said)
    assert _state(world, row.id) == before


def _secret(world: World) -> tuple[int, int]:
    """ESC-1 open to all; ESC-2 restricted, worked on by insiders only. Return both numbers."""
    raise_esc(world)
    secret = raise_form(world, REPORTER, SECRETS[0], category="vip", flags=("restricted",))
    channel = secret.channel_id
    for text in (
        "ack",
        "update Passport scans are on a paste site",
        "decision Contacted the VIP's security team",
        "signoff legal Sealed order needed?",
        "followup process Sealed order template",
        "sev SEV1",
        f"owner <@{ONCALL}>",
        "resolve Sealed order served",
        "reopen",
    ):
        esc(world, REPORTER, text, channel)
    return 1, secret.id


def test_tampered_buttons_and_forms_cannot_reach_a_restricted_escalation(world: World):
    public, secret = _secret(world)
    open_row = load(world, public)
    before = _state(world, secret)
    logged = len(decisions(world, secret))
    # MEMBER is in the team but not in the restricted channel: every team-only check passes,
    # so only the channel boundary stands in the way.
    said = []
    for action in (Action.ACK, Action.CHANGE_SEVERITY, Action.RESOLVE, Action.LOG_DECISION):
        reply = world.driver.action(
            MEMBER, action.value, str(secret), channel_id=open_row.channel_id, message_ts="1.1"
        )
        assert reply.status == 200
        world.settle()
    said += [json.dumps(r["payload"]) for r in world.emulator.responses]
    assert sum("restricted to its channel" in text for text in said) == 4, said
    assert world.emulator.open_views(MEMBER) == []
    for callback, values, field in (
        (Callback.DECISION, {"decision": {"decision": "Publish it all"}}, "decision"),
        (Callback.SEVERITY, {"severity": {"severity": option("SEV4")}}, "severity"),
        (Callback.RESOLVE, {"summary": {"summary": "Closed from outside"}}, "summary"),
    ):
        reply = _form(world, MEMBER, callback, secret, values)
        assert "restricted" in reply.json["errors"][field], reply.json
        said.append(reply.body)
    world.settle()
    assert _state(world, secret) == before
    assert len(decisions(world, secret)) == logged
    assert not any(s in text for text in said for s in SECRETS)


def _addressees(world: World, call: Any) -> set[str]:
    args = call.args
    channel = args.get("channel") or ""
    if call.method == "views.publish":
        return {args["user_id"]}
    if call.method == "chat.postEphemeral":
        return {args["user"]}
    if channel.startswith(("U", "W")):  # a DM
        return {channel}
    record = world.emulator.channel(channel)
    return set(record["members"]) if record else set()


def test_restricted_details_never_reach_anyone_outside_its_channel(world: World):
    _, secret = _secret(world)
    row = load(world, secret)
    insiders = set(world.emulator.channel(row.channel_id)["members"])
    team = world.config.team.channel
    # Outsiders probe every way in: lists, status by number, home, stats, errors.
    probes = []
    assert LEAD in insiders  # SEV1 routes the leads in; the rest stay out
    for user in (SALES, MEMBER, "U0COM00001"):
        assert user not in insiders
        for text in ("list all", "list", "stats 7d", f"ESC-{secret} status"):
            probes.append(esc(world, user, text, team))
        for text in ("timeline", "decisions", "update x", "invite <@U0SAL00001>", "signoff legal"):
            probes.append(esc(world, user, f"ESC-{secret} {text}", team))
        world.driver.event({"type": "app_home_opened", "user": user, "tab": "home"})
        world.settle()
    assert all(s not in probe for probe in probes for s in SECRETS), probes
    # Every Web API call: a secret may only go where only insiders read it.
    for call in world.emulator.calls:
        text = json.dumps(call.args, ensure_ascii=False)
        if any(s in text for s in SECRETS):
            assert _addressees(world, call) <= insiders, (call.method, call.args.get("channel"))
    for response in world.emulator.responses:
        key = response["url"].rsplit("/", 1)[1]
        if any(s in json.dumps(response["payload"]) for s in SECRETS):
            assert world.emulator._response_urls[key].user_id in insiders
    for user in (SALES, MEMBER, "U0COM00001"):
        assert not any(s in json.dumps(world.emulator.home_views[user]) for s in SECRETS)
    assert not any(s in m["text"] for m in world.emulator.messages(team) for s in SECRETS)
    exported = CliRunner().invoke(
        main,
        ["export", "--since", "2026-03-01", "--format", "json"],
        env={"DATABASE_URL": world.db.url},
    )
    assert exported.exit_code == 0, exported.output
    assert "[restricted]" in exported.output
    assert not any(s in exported.output for s in SECRETS)
