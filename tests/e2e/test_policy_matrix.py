"""Who may act, as a table: every actor kind × every action × restricted or not × surface.

Each row drives the running bot over signed HTTP as that actor (a slash command, a button
press, a crafted form submission, a handoff brief's button from a DM, the read surfaces)
and checks the answer against the spec's rules, written here independently of the code:

- someone sees an escalation unless it is restricted and they are outside its channel
  (Slack's own membership of the channel is the oracle);
- responders (team members, rotation members, escalation-policy group members, whoever was
  paged) may acknowledge, resolve, reopen, change severity, assign and take ownership,
  assign roles and escalate a page; anyone who sees it may update, log decisions, invite,
  ask for sign-off and add follow-ups; a sign-off is answered by its group's members only.

An allowed row must have its effect; a refused row must change nothing (escalation row,
timeline, decisions, sign-offs, follow-ups, participants), make no Web API call, and — on
a restricted escalation — tell the actor nothing of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.blocks import Action, Callback
from bot.clock import FakeClock
from bot.config import TeamConfig, load_config
from bot.parsing.oncall import parse_oncall
from bot.usecases import oncall
from schedules.scheduler import Scheduler
from tests.support.config import EXAMPLE
from tests.support.escalations import decisions, events, load, raise_form, said, signoffs
from tests.support.escalations import select as option
from tests.support.world import World, make_world

DIRECTOR = "U0DIR00001"  # in the leads group that step 3 pages; not a team or rotation member
TITLE = "Coordinated counterfeit wave"

ACTORS = {
    "reporter": "U0COM00001",  # raised it; not a responder
    "member in channel": "U0CHI00001",  # team member, invited in
    "member outside": "U0ANA00001",  # team member, not in the channel
    "rotation member": "U0DAN00001",  # weekend layer of primary; not a team member
    "policy-group member": DIRECTOR,
    "paged by override": "U0LEG00002",  # covers primary: paged at creation
    "stakeholder": "U0SAL00001",  # routed in by #ads
    "outsider": "U0LEG00001",  # in nothing (until a Legal sign-off invites Legal)
}
RESPONDERS = {
    ACTORS[k]
    for k in (
        "member in channel",
        "member outside",
        "rotation member",
        "policy-group member",
        "paged by override",
    )
}
LEGAL = {"U0LEG00001", "U0LEG00002"}
TEAM = {ACTORS["member in channel"], ACTORS["member outside"]}


@pytest.fixture
def matrix_config(tmp_path: Path) -> TeamConfig:
    """The example config, with a leads group member who is nothing else."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["stakeholders"]["leads"]["members"] = ["U0LEAD0001", DIRECTOR]
    takedown = {"id": "takedown", "text": "Remove the ads", "required": True}
    data["playbooks"].append({"when": {"category": ["ads"]}, "steps": [takedown]})
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


@pytest.fixture
def mworld(matrix_config: TeamConfig, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    w = make_world(matrix_config, tmp_path, clock)
    svc = w.bot.services
    request = parse_oncall("override <@U0LEG00002> now +7d primary", list(svc.config.rotations))
    oncall.create_override(svc, "U0LEAD0001", request, request_key="matrix-override")
    yield w
    w.bot.stop()
    w.emulator.stop()


# -- the rules, as the spec states them ------------------------------------------------------

RESPONDER_ONLY = {
    "ack",
    "sev",
    "owner",
    "resolve",
    "reopen",
    "take",
    "escalate",
    "duplicate",
    "role",
}
ANYONE_WHO_SEES = {
    "update",
    "decision",
    "invite",
    "followup",
    "signoff",
    "read",
    "done",
    "flag",
    "link",
    "capture",
}


def expected(action: str, actor: str, visible: bool, inside: bool) -> bool:
    if not visible:
        return False
    if action == "review":  # posted only in its own channel
        return inside
    if action in RESPONDER_ONLY:
        return actor in RESPONDERS
    if action == "answer":
        return actor in LEGAL
    if action == "force":
        return actor in TEAM
    assert action in ANYONE_WHO_SEES, action
    return True


# -- the rows --------------------------------------------------------------------------------


@dataclass
class Row:
    """What one row did: who acted, what they were told, where the emulator's calls began."""

    actor: str
    answer: str
    calls: int


@dataclass
class Case:
    """One action: how to do it on a surface, and how to see that it took effect."""

    action: str
    surface: str
    run: Callable[[World, str, Any, str], str]  # (world, actor, row, channel) -> what was said
    took: Callable[[World, Any, tuple, Row], bool]  # (world, row, state before, row) -> effect
    needs: str = ""  # "resolved": resolved first; "signoff": a Legal sign-off asked;
    # "ticked": its required checklist step is done


def _state(world: World, number: int) -> tuple:
    row = load(world, number)
    return (
        row.status,
        row.severity,
        row.owner,
        row.resolution,
        len(events(world, number)),
        len(decisions(world, number)),
        len(signoffs(world, number)),
        len(row.participants),
        tuple(s.status for s in signoffs(world, number)),
        row.graphic,
    )


ORIGINAL = "Counterfeit wave, first report"  # an open escalation others duplicate or link to


def _original(world: World) -> int:
    with world.db.uow() as uow:
        found = [e.id for e in uow.repos.escalations.find() if e.title == ORIGINAL]
    return found[0] if found else raise_form(world, ACTORS["member outside"], ORIGINAL, "ads").id


def _command(text: str) -> Callable[[World, str, Any, str], str]:
    def run(world: World, actor: str, row: Any, channel: str) -> str:
        before = len(world.emulator.responses)
        wanted = text
        if "{original}" in text:  # raised by _fresh before the row, so no call is made here
            wanted = text.replace("{original}", f"ESC-{_original(world)}")
        named = wanted if channel == row.channel_id else f"ESC-{row.id} {wanted}"
        reply = world.driver.command(actor, "/esc", named, channel_id=channel)
        assert reply.status == 200, reply.body
        world.settle()
        return said(world, reply, before)

    return run


def _button(action: Action, value: Callable[[Any], str] = lambda row: str(row.id)) -> Any:
    def run(world: World, actor: str, row: Any, channel: str | None) -> str:
        before = len(world.emulator.responses)
        reply = world.driver.action(
            actor, action.value, value(row), channel_id=channel, message_ts="1.000001"
        )
        assert reply.status == 200, reply.body
        world.settle()
        return said(world, reply, before)

    return run


def _form(callback: Callback, values: dict) -> Any:
    def run(world: World, actor: str, row: Any, channel: str) -> str:
        view = {"id": f"VM{row.id}{callback.value[:4]}{actor}", "callback_id": callback.value}
        view["private_metadata"] = str(row.id)
        reply = world.driver.submit_view(actor, view, values)
        assert reply.status == 200, reply.body
        world.settle()
        errors = (reply.json or {}).get("errors") if reply.body else None
        return json.dumps(errors) if errors else ""

    return run


def _shortcut(callback: str) -> Callable[[World, str, Any, str], str]:
    def run(world: World, actor: str, row: Any, channel: str) -> str:
        ts = world.emulator.add_message(channel, "Seen on 40 more pages", user=actor)
        before = len(world.emulator.responses)
        reply = world.driver.message_shortcut(actor, callback, channel, ts)
        assert reply.status == 200, reply.body
        world.settle()
        return said(world, reply, before)

    return run


def _pin(world: World, actor: str, row: Any, channel: str) -> str:
    ts = world.emulator.add_message(channel, "Seen on 40 more pages", user=actor)
    reply = world.driver.reaction(actor, channel, ts, "pushpin")
    assert reply.status == 200, reply.body
    world.settle()
    return "(a reaction is answered by nothing but its effect)"


def _answer_signoff(world: World, actor: str, row: Any, channel: str) -> str:
    [pending] = [s for s in signoffs(world, row.id) if s.status == "pending"]
    return _button(Action.SIGNOFF_APPROVE, lambda _: str(pending.id))(world, actor, row, channel)


def _changed(index: int, value: Any = None) -> Callable[[World, Any, tuple, Row], bool]:
    def took(world: World, row: Any, before: tuple, done: Row) -> bool:
        now = _state(world, row.id)
        if value is None:
            return now[index] != before[index]
        return now[index] == value and before[index] != value

    return took


def _opened(world: World, row: Any, before: tuple, done: Row) -> bool:
    return any(c.method == "views.open" for c in world.emulator.calls[done.calls :])


def _read(world: World, row: Any, before: tuple, done: Row) -> bool:
    shown = f"ESC-{row.id}" in done.answer
    return shown and "does not exist, or it is restricted" not in done.answer


def _took_ownership(world: World, row: Any, before: tuple, done: Row) -> bool:
    return load(world, row.id).owner == done.actor


def _escalated(world: World, row: Any, before: tuple, done: Row) -> bool:
    return bool(events(world, row.id, "escalated_now"))


STATUS, SEVERITY, OWNER, _RES, EVENTS, DECISIONS, SIGNOFFS, PEOPLE, ANSWERS, GRAPHIC = range(10)

COMMANDS = [
    Case("ack", "command", _command("ack"), _changed(STATUS, "acknowledged")),
    Case("sev", "command", _command("sev SEV1"), _changed(SEVERITY, "SEV1")),
    Case("owner", "command", _command("owner <@U0CHI00001|chi>"), _changed(OWNER, "U0CHI00001")),
    Case(
        "resolve",
        "command",
        _command("resolve Taken down"),
        _changed(STATUS, "resolved"),
        "ticked",
    ),
    Case("force", "command", _command("resolve --force Ads gone"), _changed(STATUS, "resolved")),
    Case("reopen", "command", _command("reopen"), _changed(STATUS, "reopened"), "resolved"),
    Case("update", "command", _command("update Counting accounts"), _changed(EVENTS)),
    Case("decision", "command", _command("decision Remove all 40 ads"), _changed(DECISIONS)),
    Case("invite", "command", _command("invite <@U0EVE00001|eve>"), _changed(PEOPLE)),
    Case("followup", "command", _command("followup tooling_gap Bulk takedown"), _changed(EVENTS)),
    Case("signoff", "command", _command("signoff core_policy Remove?"), _changed(SIGNOFFS)),
    Case("flag", "command", _command("flag graphic"), _changed(GRAPHIC, True)),
    Case("link", "command", _command("link {original}"), _changed(EVENTS), "original"),
    Case(
        "duplicate",
        "command",
        _command("duplicate {original}"),
        _changed(STATUS, "resolved"),
        "original",
    ),
    Case("read", "command", _command("status"), _read),
    Case("read", "command", _command("timeline"), _read),
    Case("read", "command", _command("decisions"), _read),
    Case("read", "command", _command("checklist"), _read),
    Case("read", "command", _command("roles"), _read),
    Case("role", "command", _command("role scribe <@U0EVE00001|eve>"), _changed(EVENTS)),
    Case("done", "command", _command("done takedown"), _changed(EVENTS)),
    Case("review", "command", _command("review"), _changed(EVENTS)),
]
BUTTONS = [
    Case("ack", "button", _button(Action.ACK), _changed(STATUS, "acknowledged")),
    Case("take", "button", _button(Action.TAKE_OWNERSHIP), _took_ownership),
    Case("escalate", "button", _button(Action.ESCALATE_NOW, lambda r: f"{r.id}:0:0"), _escalated),
    Case("sev", "button", _button(Action.CHANGE_SEVERITY), _opened),
    Case("resolve", "button", _button(Action.RESOLVE), _opened),
    Case("decision", "button", _button(Action.LOG_DECISION), _opened),
    Case("invite", "button", _button(Action.ADD_STAKEHOLDERS), _opened),
    Case("answer", "button", _answer_signoff, _changed(ANSWERS), "signoff"),
]
FORMS = [
    Case(
        "sev",
        "form",
        _form(Callback.SEVERITY, {"severity": {"severity": option("SEV1")}}),
        _changed(SEVERITY, "SEV1"),
    ),
    Case(
        "resolve",
        "form",
        _form(Callback.RESOLVE, {"summary": {"summary": "Taken down"}}),
        _changed(STATUS, "resolved"),
        "ticked",
    ),
    Case(
        "decision",
        "form",
        _form(Callback.DECISION, {"decision": {"decision": "Remove all 40 ads"}}),
        _changed(DECISIONS),
    ),
    Case(
        "invite",
        "form",
        _form(
            Callback.STAKEHOLDERS,
            {"users": {"users": {"type": "multi_users_select", "selected_users": ["U0EVE00001"]}}},
        ),
        _changed(PEOPLE),
    ),
]
BRIEF = [Case("take", "handoff brief", _button(Action.TAKE_OWNERSHIP), _took_ownership)]
MESSAGE = [
    Case("capture", "message shortcut", _shortcut("add_to_timeline"), _changed(EVENTS)),
    Case("capture", "reaction", _pin, _changed(EVENTS)),
]
SURFACES = {
    "command": COMMANDS,
    "button": BUTTONS,
    "form": FORMS,
    "handoff brief": BRIEF,
    "message": MESSAGE,
}


def _fresh(world: World, restricted: bool, case: Case) -> Any:
    row = raise_form(world, ACTORS["reporter"], TITLE, "ads", ("restricted",) if restricted else ())
    Scheduler(world.bot.services).run_due()  # the first page goes out, as the live bot's would
    world.settle()
    as_reporter = ACTORS["reporter"]
    world.driver.command(as_reporter, "/esc", "invite <@U0CHI00001|chi>", channel_id=row.channel_id)
    world.settle()
    if case.needs == "original":
        _original(world)
    setup = {
        "original": (),
        "resolved": ("U0CHI00001", "resolve --force Done"),
        "signoff": (as_reporter, "signoff legal ?"),
        "ticked": (as_reporter, "done takedown"),
    }
    if setup.get(case.needs):
        who, text = setup[case.needs]
        world.driver.command(who, "/esc", text, channel_id=row.channel_id)
    world.settle()
    return load(world, row.id)


def _where_from(world: World, case: Case, actor: str, row: Any, inside: bool) -> str:
    if case.surface == "handoff brief":  # pressed in the bot's DM with the actor
        record, _ = world.emulator._open_dm([actor])
        return str(record["id"])
    if case.action == "capture" and not row.restricted:  # a public channel: anyone opens it
        return row.channel_id
    return row.channel_id if inside else world.config.team.channel


def _leaks(world: World, actor: str, calls_before: int, responses_before: int) -> list[str]:
    """Return whatever the actor was sent that names the escalation's title."""
    out = []
    for call in world.emulator.calls[calls_before:]:
        text = json.dumps(call.args)
        if TITLE in text and actor in text:
            out.append(call.method)
    for response in world.emulator.responses[responses_before:]:
        if TITLE in json.dumps(response["payload"]):
            out.append("response_url")
    return out


@pytest.mark.parametrize("restricted", [False, True], ids=["open", "restricted"])
@pytest.mark.parametrize("surface", list(SURFACES))
def test_authorization_matrix(mworld: World, surface: str, restricted: bool):
    world = mworld
    rows = 0
    failures: list[str] = []
    ready: dict[str, Any] = {}  # an escalation no row has changed yet, by what it needs
    for case in SURFACES[surface]:
        for kind, actor in ACTORS.items():
            row = ready.pop(case.needs, None) or _fresh(world, restricted, case)
            members = set(world.emulator.channel(row.channel_id)["members"])
            inside = actor in members
            visible = not restricted or inside
            allowed = expected(case.action, actor, visible, inside)
            before = _state(world, row.id)
            where = _where_from(world, case, actor, row, inside)
            calls, responses = len(world.emulator.calls), len(world.emulator.responses)
            answer = case.run(world, actor, row, where)
            done = Row(actor, answer, calls)
            took = case.took(world, row, before, done)
            label = f"{surface}/{case.action}/{kind}/{'restricted' if restricted else 'open'}"
            rows += 1
            if allowed and not took:
                failures.append(f"{label}: expected allowed, had no effect: {answer[:160]!r}")
            if not allowed:
                if took or _state(world, row.id) != before:
                    failures.append(f"{label}: expected refused, but it changed something")
                new_calls = [c.method for c in world.emulator.calls[calls:]]
                if new_calls:
                    failures.append(f"{label}: refused, yet Web API calls {new_calls}")
                if restricted and _leaks(world, actor, calls, responses):
                    failures.append(f"{label}: refused, yet the actor was told of it")
                if not answer.strip():
                    failures.append(f"{label}: refused without a word")
            if _state(world, row.id) == before and not took:
                ready[case.needs] = row  # untouched: the next row may use it
    print(f"\n{surface} × {'restricted' if restricted else 'open'}: {rows} rows")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("restricted", [False, True], ids=["open", "restricted"])
def test_read_surfaces_show_an_escalation_only_to_who_may_see_it(mworld: World, restricted: bool):
    """Lists, stats and App Home, for every actor kind: shown exactly when visible."""
    world = mworld
    row = _fresh(world, restricted, Case("read", "list", _command("list"), _read))
    members = set(world.emulator.channel(row.channel_id)["members"])
    failures = []
    for kind, actor in ACTORS.items():
        visible = not restricted or actor in members
        team = world.config.team.channel
        for text in ("list all", "list", "stats 30d"):
            before = len(world.emulator.responses)
            reply = world.driver.command(actor, "/esc", text, channel_id=team)
            world.settle()
            shown = TITLE in said(world, reply, before)
            if shown and not visible:
                failures.append(f"/esc {text}/{kind}: shows a restricted escalation")
            if text == "list all" and shown != visible:
                failures.append(f"/esc {text}/{kind}: shown={shown}, visible={visible}")
        world.driver.event({"type": "app_home_opened", "user": actor, "tab": "home"})
        world.settle()
        home = json.dumps(world.emulator.home_views.get(actor) or {})
        if TITLE in home and not visible:
            failures.append(f"home/{kind}: shows a restricted escalation")
        if kind in ("reporter", "paged by override", "member in channel") and TITLE not in home:
            failures.append(f"home/{kind}: their own open escalation is missing")
    assert not failures, "\n".join(failures)


def test_who_leaves_a_restricted_channel_is_an_outsider_from_then_on(mworld: World):
    world = mworld
    row = _fresh(world, True, Case("read", "left", _command("status"), _read))
    member = ACTORS["member in channel"]
    team = world.config.team.channel
    assert "does not exist" not in _command("timeline")(world, member, row, team)
    # Slack removes Chi from the private channel and tells the bot.
    channel = world.emulator._channels[row.channel_id]
    channel["members"].remove(member)
    event = {"type": "member_left_channel", "user": member, "channel": row.channel_id}
    assert world.driver.event({**event, "channel_type": "G"}).status == 200
    world.settle()
    before = _state(world, row.id)
    for text in ("timeline", "resolve closing from outside", "ack", "update still here?"):
        said_back = _command(text)(world, member, row, team)
        assert "does not exist, or it is restricted" in said_back and TITLE not in said_back
    assert _state(world, row.id)[:4] == before[:4]  # status, severity, owner, resolution
    world.driver.event({"type": "app_home_opened", "user": member, "tab": "home"})
    world.settle()
    assert TITLE not in json.dumps(world.emulator.home_views.get(member) or {})
    # Invited back by the reporter, Chi is an insider again.
    _command("invite <@U0CHI00001|chi>")(world, ACTORS["reporter"], row, row.channel_id)
    assert member in world.emulator.channel(row.channel_id)["members"]
    assert "does not exist" not in _command("timeline")(world, member, row, team)


def test_huge_or_odd_numbers_in_buttons_and_forms_are_out_of_date(mworld: World):
    world = mworld
    calls = len(world.emulator.calls)
    for value in ("99999999999999999999", "2147483648", "-1", "1e3", "١", " 1"):
        for action in (Action.ACK, Action.TAKE_OWNERSHIP, Action.RESOLVE, Action.SIGNOFF_APPROVE):
            press = _button(action, lambda _, v=value: v)
            told = press(world, ACTORS["member outside"], None, "C0TEAM0001")
            assert "out of date" in told or "does not exist" in told, (value, action, told)
            assert "went wrong" not in told
    view = {"id": "VHUGE", "callback_id": Callback.SEVERITY.value}
    view["private_metadata"] = "9" * 30
    reply = world.driver.submit_view(
        ACTORS["member outside"], view, {"severity": {"severity": option("SEV1")}}
    )
    assert reply.status == 200 and "errors" in (reply.json or {})
    assert [c.method for c in world.emulator.calls[calls:]] == []
