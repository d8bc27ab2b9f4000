"""Escalate this message (the `escalate_message` shortcut) end to end: the prefilled form,
the raise, and the threaded pointer under the original message."""

from __future__ import annotations

from typing import Any

from schedules.scheduler import Scheduler
from tests.support.escalations import events, load, raise_form, select, submit
from tests.support.people import MEMBER, REPORTER, SALES
from tests.support.replay import capture, deliver
from tests.support.world import World

FEED = "C0FEED0001"


def _form_from(world: World, user: str, channel: str, ts: str) -> dict[str, Any]:
    reply = world.driver.message_shortcut(user, "escalate_message", channel, ts)
    assert reply.status == 200, reply.body
    world.settle()
    return world.emulator.open_views(user)[-1]


def _values(view: dict[str, Any], title: str, **picked: Any) -> dict[str, Any]:
    """The form's values as Slack submits them: its prefilled text and picks, and `picked`."""
    values: dict[str, Any] = {"title": {"title": {"type": "plain_text_input", "value": title}}}
    for block in view["blocks"]:
        element = block.get("element", {})
        if "initial_value" in element:
            values[block["block_id"]] = {
                block["block_id"]: {"type": "plain_text_input", "value": element["initial_value"]}
            }
        if element.get("initial_option"):
            values[block["block_id"]] = {
                block["block_id"]: select(element["initial_option"]["value"])
            }
        if element.get("type") == "checkboxes":
            values["flags"] = {
                "flags": {
                    "type": "checkboxes",
                    "selected_options": element.get("initial_options", []),
                }
            }
    values.update(picked)
    return values


def _thread(world: World, channel: str, ts: str) -> list[dict[str, Any]]:
    return [
        m for m in world.emulator.messages(channel) if m.get("thread_ts") == ts and m["ts"] != ts
    ]


def test_escalating_a_message_prefills_the_form_and_points_back_in_its_thread(world: World):
    scheduler = Scheduler(world.bot.services)
    scheduler.run_due()  # the day's handoffs and the process's one-time look-ups are behind it
    world.settle()
    ts = world.emulator.add_message(FEED, "Vote-buying offers in this group <!channel>", user=SALES)
    calls = len(world.emulator.calls)
    view = _form_from(world, REPORTER, FEED, ts)
    assert [c.method for c in world.emulator.calls[calls:]] == [
        "chat.getPermalink",
        "users.info",
        "views.open",
    ]
    fields = {b["block_id"]: b.get("element", {}) for b in view["blocks"]}
    description = fields["description"]["initial_value"]
    assert description.startswith("Message from Sal")  # the author, by name
    assert "> Vote-buying offers in this group <!channel>" in description
    permalink = fields["links"]["initial_value"]
    assert permalink.endswith(f"/archives/{FEED}/p{ts.replace('.', '')}")
    before = len(world.emulator.calls)
    submit(world, REPORTER, view, _values(view, "Vote buying in a group"))
    row = load(world, 1)
    assert row.title == "Vote buying in a group" and row.links == [permalink]
    assert "Vote-buying offers" in row.description
    [pointer] = _thread(world, FEED, ts)
    assert "ESC-1" in pointer["text"] and f"<#{row.channel_id}>" in pointer["text"]
    scheduler.run_due()  # its first page: the DM
    world.settle()
    raising = [c.method for c in world.emulator.calls[before:]]
    # the 6 calls of raising, its first page included, and one for the pointer
    assert sorted(raising) == sorted(
        [
            "conversations.create",
            "conversations.invite",
            "chat.postMessage",  # the card
            "pins.add",
            "chat.postMessage",  # the feed announcement
            "chat.postMessage",  # the pointer, threaded under the message
            "chat.postMessage",  # the page's DM
        ]
    ), [(c.method, str(c.args)[:60]) for c in world.emulator.calls[before:]]
    card = world.emulator.messages(row.channel_id)[0]
    assert "<!channel>" not in str(card["blocks"])  # quoted text pings nobody
    assert events(world, 1, "created")[0].detail["from_message"] == {"channel": FEED, "ts": ts}
    told = [r["payload"]["text"] for r in world.emulator.responses]
    assert any(f"*ESC-1* is open in <#{row.channel_id}>" in t for t in told)  # the reporter


def test_a_double_submit_raises_one_escalation_and_one_pointer(world: World):
    ts = world.emulator.add_message(FEED, "Fake giveaway ads", user=SALES)
    view = _form_from(world, REPORTER, FEED, ts)
    values = _values(view, "Fake giveaway ads")
    request = capture(world.driver, lambda: world.driver.submit_view(REPORTER, view, values))
    deliver(world.driver, request)
    deliver(world.driver, request)
    world.settle()
    with world.db.uow() as uow:
        assert len(uow.repos.escalations.find()) == 1
    assert len(_thread(world, FEED, ts)) == 1


def test_a_restricted_escalation_gets_no_pointer(world: World):
    ts = world.emulator.add_message(FEED, "Leaked passport scans", user=SALES)
    view = _form_from(world, MEMBER, FEED, ts)
    tick = {"text": {"type": "plain_text", "text": "Restricted"}, "value": "restricted"}
    restricted = {"flags": {"flags": {"type": "checkboxes", "selected_options": [tick]}}}
    submit(world, MEMBER, view, _values(view, "Passport leak", **restricted))
    row = load(world, 1)
    assert row.restricted and row.channel_id
    assert _thread(world, FEED, ts) == []
    assert "Passport" not in str(world.emulator.messages(FEED))


def test_a_message_of_a_restricted_channel_raises_a_restricted_escalation(world: World):
    secret = raise_form(world, REPORTER, "Leak of VIP data", "vip", ("restricted",))
    ts = world.emulator.add_message(secret.channel_id, "Second paste site found", user=REPORTER)
    view = _form_from(world, REPORTER, secret.channel_id, ts)
    flags = next(b for b in view["blocks"] if b["block_id"] == "flags")["element"]
    assert [o["value"] for o in flags["initial_options"]] == ["restricted"]
    unticked = {"flags": {"flags": {"type": "checkboxes", "selected_options": []}}}
    submit(world, REPORTER, view, _values(view, "Second leak", **unticked))
    row = load(world, secret.id + 1)
    assert row.restricted  # unticking cannot carry a restricted channel's words outside it
    assert _thread(world, secret.channel_id, ts) == []
    feed = str(world.emulator.messages(FEED))
    assert "Second" not in feed and "paste" not in feed
