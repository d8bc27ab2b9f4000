"""The web workspace's own API, attacked as a person at the page could: over real HTTP."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

import bot.sandbox.web.workspace as web_module  # where Workspace looks up app_features
from bot.clock import FakeClock
from bot.config import load_config
from bot.sandbox.keeping import WorkspaceMissing, require_workspace
from bot.sandbox.shell import Sandbox, start_sandbox
from bot.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "escalation.example.yaml"
LEAD, BEN, SALES = "U0LEAD0001", "U0BEN00001", "U0SAL00001"
TEAM, FEED = "C0TEAM0001", "C0FEED0001"


def sandbox_at(path: Path) -> Sandbox:
    settings = Settings(database_url=f"sqlite:///{path}", _env_file=None)  # type: ignore[call-arg]
    return start_sandbox(
        settings,
        load_config(EXAMPLE),
        out=io.StringIO(),
        web_port=0,
        clock=FakeClock(datetime(2026, 3, 3, 18, 0, tzinfo=UTC)),
    )


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = sandbox_at(tmp_path / "s.db")
    yield sandbox
    sandbox.stop()


@pytest.fixture
def web(box: Sandbox) -> Iterator[httpx.Client]:
    assert box.web_url
    with httpx.Client(base_url=box.web_url, timeout=10) as client:
        yield client


def snapshot(web: httpx.Client, user: str, channel: str = "") -> dict:
    answer = web.get("/api/snapshot", params={"user": user, "channel": channel})
    assert answer.status_code == 200, answer.text
    return answer.json()


def as_offered(view: dict, **given: object) -> dict:
    """Return a form's values as the page sends them: its initial picks, then `given`."""
    values: dict = {}
    for block in view["blocks"]:
        element = block.get("element") or {}
        if element.get("initial_option"):
            values[block["block_id"]] = {element["action_id"]: element["initial_option"]["value"]}
    for block_id, value in given.items():
        values[block_id] = {block_id: value}
    return values


def raise_restricted(box: Sandbox, web: httpx.Client) -> str:
    """Raise a restricted escalation through the form as the lead; return its channel."""
    assert web.post(
        "/api/send", json={"user": LEAD, "channel": TEAM, "text": "/escalate"}
    ).is_success
    box.bot.services.wait_idle(timeout=30)
    view = snapshot(web, LEAD, TEAM)["view"]
    values = as_offered(view, title="Doxxing of a candidate", flags=["restricted"])
    answer = web.post("/api/submit", json={"user": LEAD, "view_id": view["id"], "values": values})
    assert answer.json() == {"ok": True}
    box.bot.services.wait_idle(timeout=30)
    channel = box.emulator.channel_by_name("esc-1-restricted")
    assert channel is not None and channel["is_private"]
    return channel["id"]


def test_a_private_channel_is_invisible_and_closed_to_outsiders(box: Sandbox, web: httpx.Client):
    private = raise_restricted(box, web)
    before = len(box.emulator.messages(private))
    assert any(c["id"] == private for c in snapshot(web, LEAD)["channels"])
    outsider = snapshot(web, SALES, private)
    assert all(c["id"] != private for c in outsider["channels"])
    assert outsider["channel"] != private and not any(
        "Doxxing" in m["text"] + str(m["blocks"]) for m in outsider["messages"]
    )
    posted = web.post("/api/send", json={"user": SALES, "channel": private, "text": "hello?"})
    assert posted.status_code == 404
    command = web.post("/api/send", json={"user": SALES, "channel": private, "text": "/esc ack"})
    assert command.status_code == 404
    card = box.emulator.messages(private)[0]
    pressed = web.post(
        "/api/press",
        json={
            "user": SALES,
            "channel": private,
            "ts": card["ts"],
            "block_id": "",
            "action_id": "esc_ack",
        },
    )
    assert pressed.status_code == 404
    info = box.emulator.channel(private)
    assert info is not None and SALES not in info["members"]
    box.bot.services.wait_idle(timeout=30)
    assert len(box.emulator.messages(private)) == before


def test_form_values_are_only_the_ones_it_offers(box: Sandbox, web: httpx.Client):
    web.post("/api/send", json={"user": LEAD, "channel": TEAM, "text": "/escalate"})
    box.bot.services.wait_idle(timeout=30)
    view = snapshot(web, LEAD, TEAM)["view"]
    tampered = as_offered(
        view, title="Tampered", severity="SEV0", surfaces=["facebook", {"$gt": ""}]
    )
    answer = web.post("/api/submit", json={"user": LEAD, "view_id": view["id"], "values": tampered})
    assert answer.json() == {
        "errors": {
            "severity": "Pick one of the options offered.",
            "surfaces": "Not a value this field takes.",
        }
    }
    someone_elses = web.post("/api/submit", json={"user": BEN, "view_id": view["id"], "values": {}})
    assert someone_elses.status_code == 404
    box.bot.services.wait_idle(timeout=30)
    assert box.emulator.calls_of("conversations.create") == []


def test_ephemeral_replies_reach_only_their_person(box: Sandbox, web: httpx.Client):
    web.post("/api/send", json={"user": LEAD, "channel": TEAM, "text": "/oncall"})
    web.post("/api/send", json={"user": LEAD, "channel": TEAM, "text": "/oncal"})
    box.bot.services.wait_idle(timeout=30)
    mine = [m for m in snapshot(web, LEAD, TEAM)["messages"] if m["ephemeral"]]
    assert any("secondary" in m["text"] + str(m["blocks"]) for m in mine)
    assert any(m["text"].startswith("`/oncal` is not a command here.") for m in mine)
    assert [m for m in snapshot(web, BEN, TEAM)["messages"] if m["ephemeral"]] == []


def test_mentions_typed_as_names_are_sent_as_ids(box: Sandbox, web: httpx.Client):
    web.post("/api/send", json={"user": BEN, "channel": FEED, "text": "ping @ana and @nobody"})
    assert box.emulator.messages(FEED)[-1]["text"] == "ping <@U0ANA00001> and @nobody"
    web.post("/api/send", json={"user": BEN, "channel": FEED, "text": "<@U0BEN00001> <!here> a&b"})
    assert box.emulator.messages(FEED)[-1]["text"] == "<@U0BEN00001> &lt;!here&gt; a&amp;b"
    dm = web.post("/api/send", json={"user": BEN, "channel": "D0NOTHERE1", "text": "hi"})
    assert dm.status_code == 404
    bot = web.post("/api/send", json={"user": "U0BOT00001", "channel": FEED, "text": "as the bot"})
    assert bot.status_code == 400


def test_the_workspace_survives_a_restart_with_its_database(tmp_path: Path):
    first = sandbox_at(tmp_path / "s.db")
    try:
        first.driver.command(LEAD, "/escalate", "SEV2 #ads Fake giveaway ads")
        first.bot.services.wait_idle(timeout=30)
        channel = first.emulator.channel_by_name("esc-1-fake-giveaway-ads")
        assert channel is not None
    finally:
        first.stop()
    assert (tmp_path / "s.workspace.json").exists()
    second = sandbox_at(tmp_path / "s.db")
    try:
        again = second.emulator.channel_by_name("esc-1-fake-giveaway-ads")
        assert again is not None and again["id"] == channel["id"]
        assert "ESC-1" in second.emulator.messages(channel["id"])[0]["text"]
        second.driver.command(LEAD, "/esc", "ESC-1 ack", channel_id=channel["id"])
        second.bot.services.wait_idle(timeout=30)
        failed = [c for c in second.emulator.calls if not c.ok]
        assert failed == []
        second.driver.command(LEAD, "/escalate", "SEV3 Second one")
        second.bot.services.wait_idle(timeout=30)
        assert second.emulator.channel_by_name("esc-2-second-one") is not None
    finally:
        second.stop()


def test_a_database_without_its_workspace_is_set_aside(tmp_path: Path):
    first = sandbox_at(tmp_path / "s.db")
    first.driver.command(LEAD, "/escalate", "SEV2 Orphan")
    first.bot.services.wait_idle(timeout=30)
    first.stop()
    (tmp_path / "s.workspace.json").unlink()
    second = sandbox_at(tmp_path / "s.db")
    try:
        assert "moved to s.db.without-workspace-" in second.out.getvalue()  # type: ignore[attr-defined]
        second.driver.command(LEAD, "/escalate", "SEV2 Fresh")
        second.bot.services.wait_idle(timeout=30)
        assert second.emulator.channel_by_name("esc-1-fresh") is not None
    finally:
        second.stop()
    assert list(tmp_path.glob("s.db.without-workspace-*"))


def test_a_workspace_without_its_database_is_set_aside(tmp_path: Path):
    first = sandbox_at(tmp_path / "s.db")
    first.stop()
    (tmp_path / "s.db").unlink()
    second = sandbox_at(tmp_path / "s.db")
    second.stop()
    assert "s.workspace.json had no database beside it" in second.out.getvalue()  # type: ignore[attr-defined]
    assert list(tmp_path.glob("s.workspace.json.without-database-*"))


def test_a_database_server_with_escalations_needs_its_workspace(tmp_path: Path):
    missing = tmp_path / "sandbox.workspace.json"
    require_workspace(missing, 0, "postgresql+psycopg://db/escbot")  # nothing to lose
    with pytest.raises(WorkspaceMissing, match="holds 3 escalations but their sandbox workspace"):
        require_workspace(missing, 3, "postgresql+psycopg://db/escbot")
    missing.write_text("{}", encoding="utf-8")
    require_workspace(missing, 3, "postgresql+psycopg://db/escbot")


def test_message_shortcuts_and_reactions_reach_the_bot_as_slack_sends_them(
    box: Sandbox, web: httpx.Client, monkeypatch: pytest.MonkeyPatch
):
    shortcut = {"name": "Escalate this message", "callback_id": "escalate_message"}
    monkeypatch.setattr(web_module, "app_features", lambda: ([shortcut], {"reaction_added"}))
    ts = box.emulator.add_message(FEED, "vote-buying offers in this group", user=BEN)
    assert snapshot(web, LEAD, FEED)["shortcuts"] == [shortcut]
    with box.driver.held() as held:
        on_message = {"user": LEAD, "channel": FEED, "ts": ts}
        assert web.post("/api/shortcut", json={**on_message, "callback_id": "escalate_message"})
        assert web.post("/api/react", json={**on_message, "reaction": "pushpin"}).is_success
        assert web.post("/api/react", json={**on_message, "reaction": "pushpin"}).is_success
        unknown = web.post("/api/shortcut", json={**on_message, "callback_id": "delete_all"})
        bad = web.post("/api/react", json={**on_message, "reaction": "<script>"})
    assert (unknown.status_code, bad.status_code) == (404, 400)
    assert len(held) == 2  # one shortcut, one reaction: the second is already there
    action = json.loads(parse_qs(held[0][0].decode())["payload"][0])
    assert action["type"] == "message_action" and action["callback_id"] == "escalate_message"
    assert action["message"]["text"] == "vote-buying offers in this group"
    assert action["message"]["user"] == BEN and action["user"]["id"] == LEAD
    assert action["trigger_id"] and action["response_url"]
    event = json.loads(held[1][0])["event"]
    assert event["type"] == "reaction_added" and event["reaction"] == "pushpin"
    assert event["item"] == {"type": "message", "channel": FEED, "ts": ts}
    shown = next(m for m in snapshot(web, BEN, FEED)["messages"] if m["ts"] == ts)
    assert shown["reactions"] == {"pushpin": [LEAD]}


def test_another_site_cannot_act_in_the_sandbox(box: Sandbox, web: httpx.Client):
    command = {"user": LEAD, "channel": TEAM, "text": "/esc list all"}
    # A form post from another page: a "simple" request that needs no preflight.
    simple = web.post(
        "/api/send", content=json.dumps(command), headers={"Content-Type": "text/plain"}
    )
    assert simple.status_code == 415
    foreign = web.post("/api/send", json=command, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    rebound = web.get("/api/snapshot", params={"user": LEAD}, headers={"Host": "evil.example"})
    assert rebound.status_code == 400
    same = web.post("/api/send", json=command, headers={"Origin": box.web_url})
    assert same.status_code == 200


def test_pushpin_and_add_to_timeline_in_the_browser_workspace(box: Sandbox, web: httpx.Client):
    private = raise_restricted(box, web)  # LEAD is in it; the bot posted the card there
    said = web.post("/api/send", json={"user": LEAD, "channel": private, "text": "Leak is live"})
    assert said.is_success
    first = box.emulator.messages(private)[-1]["ts"]
    assert {"name": "Add to timeline", "callback_id": "add_to_timeline"} in snapshot(
        web, LEAD, private
    )["shortcuts"]
    on_first = {"user": LEAD, "channel": private, "ts": first}
    assert web.post("/api/react", json={**on_first, "reaction": "pushpin"}).is_success
    box.bot.services.wait_idle(timeout=30)
    assert web.post("/api/shortcut", json={**on_first, "callback_id": "add_to_timeline"})
    box.bot.services.wait_idle(timeout=30)
    with box.bot.services.db.uow() as uow:
        added = [e for e in uow.repos.escalations.timeline(1) if e.kind == "message_added"]
    assert [(e.detail["text"], e.detail["author"]) for e in added] == [("Leak is live", LEAD)]
    assert added[0].detail["permalink"]
    told = snapshot(web, LEAD, private)["messages"]
    assert any("already on the timeline" in m["text"] for m in told)


def test_escalate_this_message_in_the_browser_workspace(box: Sandbox, web: httpx.Client):
    ts = box.emulator.add_message(FEED, "vote-buying offers in this group", user=BEN)
    on_message = {"user": LEAD, "channel": FEED, "ts": ts}
    assert web.post("/api/shortcut", json={**on_message, "callback_id": "escalate_message"})
    box.bot.services.wait_idle(timeout=30)
    view = snapshot(web, LEAD, FEED)["view"]
    fields = {b["block_id"]: b.get("element", {}) for b in view["blocks"]}
    assert "> vote-buying offers in this group" in fields["description"]["initial_value"]
    values = as_offered(
        view,
        title="Vote buying in a group",
        description=fields["description"]["initial_value"],
        links=fields["links"]["initial_value"],
    )
    answer = web.post("/api/submit", json={"user": LEAD, "view_id": view["id"], "values": values})
    assert answer.json() == {"ok": True}
    box.bot.services.wait_idle(timeout=30)
    thread = [m for m in box.emulator.messages(FEED) if m.get("thread_ts") == ts and m["ts"] != ts]
    assert len(thread) == 1 and "ESC-1" in thread[0]["text"]
    with box.bot.services.db.uow() as uow:
        row = uow.repos.escalations.get(1)
        assert row is not None and row.links == [fields["links"]["initial_value"]]
