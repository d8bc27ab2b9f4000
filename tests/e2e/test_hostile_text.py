"""Hostile user text: huge, exotic, broadcasting, SQL-shaped. Slack sees it inert and in limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.text import ZWSP
from tests.support.escalations import esc, escalate_form, flatten, load, raise_esc, signoffs
from tests.support.people import MEMBER, REPORTER
from tests.support.world import World

BROADCASTS = (
    "Heads up <!channel> <!here|here> <!everyone> @channel @HERE <@U0LEAD0001|boss> "
    "<!subteam^S0PUBPOL01>"
)
# The same, as it must reach Slack: brackets escaped, broadcast words broken by a zero-width space.
INERT = (
    "Heads up &lt;!channel&gt; &lt;!here|here&gt; &lt;!everyone&gt; "
    f"@{ZWSP}channel @{ZWSP}HERE &lt;@U0LEAD0001|boss&gt; &lt;!subteam^S0PUBPOL01&gt;"
)
SENT = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.publish")


def _mrkdwn(value: Any, top: bool = True) -> list[str]:
    """Return the strings Slack reads as mrkdwn (plain_text objects show literally)."""
    if isinstance(value, list):
        return [t for item in value for t in _mrkdwn(item, False)]
    if not isinstance(value, dict):
        return []
    if value.get("type") == "plain_text":
        return []
    out = []
    for key, item in value.items():
        if key == "text" and isinstance(item, str) and (top or value.get("type") == "mrkdwn"):
            out.append(item)
        elif isinstance(item, dict | list):
            out += _mrkdwn(item, False)
    return out


def sent_texts(world: World) -> list[str]:
    """Return every mrkdwn text the bot sent: messages, updates, ephemerals, views, replies."""
    texts = []
    for call in world.emulator.calls:
        if call.method in SENT:
            args = dict(call.args)
            for key in ("blocks", "view"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
            texts += _mrkdwn(args)
    for response in world.emulator.responses:
        texts += _mrkdwn(response["payload"])
    return texts


def assert_never_broadcast(world: World, replies: list[str] = ()) -> None:
    """No raw broadcast or forged mention anywhere the bot wrote, nor any failed call."""
    for text in [*sent_texts(world), *replies]:
        for raw in ("<!channel>", "<!here", "<!everyone>", "<@U0LEAD0001|boss>", "<!subteam^"):
            assert raw not in text, text[:300]
        for word in ("@channel", "@HERE", "@here", "@everyone"):
            assert word not in text, text[:300]
    failed = [(c.method, c.error) for c in world.emulator.calls if not c.ok]
    assert failed == [], failed


def test_broadcasts_and_forged_mentions_in_every_text_arrive_inert(world: World):
    reply = world.driver.command(REPORTER, "/escalate", f"SEV2 #ads {BROADCASTS}")
    assert INERT in reply.body  # the ack names the title, escaped
    world.settle()
    row = load(world, 1)
    assert row.title == BROADCASTS  # stored as typed; escaped only on the way out
    card = world.emulator.messages(row.channel_id)[0]
    assert INERT in card["blocks"][0]["text"]["text"] or INERT in flatten(card)
    channel = row.channel_id
    esc(world, MEMBER, f"update {BROADCASTS}", channel)
    update = [m for m in world.emulator.messages(channel) if "*Update*" in m["text"]]
    assert [m["text"] for m in update] == [f":memo: *Update* from <@{MEMBER}>: {INERT}"]
    esc(world, MEMBER, f"decision {BROADCASTS}", channel)
    esc(world, MEMBER, f"signoff legal {BROADCASTS}", channel)
    esc(world, MEMBER, f"followup process {BROADCASTS}", channel)
    esc(world, MEMBER, f"resolve {BROADCASTS}", channel)
    resolved = [
        m["text"] for m in world.emulator.messages(channel) if "resolved ESC-1" in m["text"]
    ]
    assert resolved == [f":white_check_mark: <@{MEMBER}> resolved ESC-1: {INERT}"]
    said = [esc(world, MEMBER, sub, channel) for sub in ("status", "timeline", "decisions")]
    said.append(esc(world, MEMBER, "list all", channel))
    world.driver.event({"type": "app_home_opened", "user": REPORTER, "tab": "home"})
    world.settle()
    assert_never_broadcast(world, said)
    assert all(INERT in text for text in said[:3]), said
    assert sum(INERT in text for text in sent_texts(world)) >= 10  # the check saw them all


def test_broadcasts_in_usage_errors_are_inert(world: World):
    replies = [
        world.driver.command(REPORTER, "/escalate", f"#{word} title").body
        for word in ("<!channel>", "<!here>", "@channel")
    ]
    replies.append(world.driver.command(REPORTER, "/esc", "<!everyone> now").body)
    replies.append(world.driver.command(REPORTER, "/oncall", "<!channel>").body)
    world.settle()
    assert all(r for r in replies)
    assert_never_broadcast(world, replies)


def test_ten_thousand_characters_are_cut_to_slack_limits_with_a_note(world: World):
    huge = ("Escalation text & <detail> " * 400)[:10_000]
    reply = world.driver.command(REPORTER, "/escalate", f"SEV2 #content {huge}")
    assert reply.status == 200
    world.settle()
    row = load(world, 1)
    assert len(row.title) <= 250 and row.description == huge.strip()
    channel = row.channel_id
    for sub in ("update", "resolve", "signoff legal", "followup process"):
        esc(world, MEMBER, f"{sub} {huge}", channel)
    said = esc(world, MEMBER, f"decision {huge}", channel)
    assert "at most" in said  # a decision is refused, not cut: it is the record
    esc(world, MEMBER, "status", channel)
    esc(world, MEMBER, "timeline", channel)
    assert_never_broadcast(world)  # includes: no invalid_blocks, no msg_too_long
    texts = [flatten(m) for m in world.emulator.messages(channel)]
    assert any("(truncated)" in t for t in texts)
    for call in world.emulator.calls:
        for block in call.args.get("blocks") or []:
            text = block.get("text") if isinstance(block, dict) else None
            if isinstance(text, dict):
                assert len(text["text"]) <= 3000


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("🔥🔥 Crisis in 東京 🔥", "esc-1-crisis-in"),
        ("مرحبا بالعالم", "esc-1"),
        ("שלום עולם — deepfake", "esc-1-deepfake"),
        ("Zalgo t̷̢̛e̸x̴t̵ and ZWJ 👩‍👩‍👧", "esc-1-zalgo-text-and-zwj"),
        ("Ünïcödé Çafé", "esc-1-unicode-cafe"),
    ],
)
def test_emoji_and_right_to_left_titles_are_kept_and_named_safely(
    world: World, title: str, slug: str
):
    world.driver.command(REPORTER, "/escalate", f"SEV3 {title}")
    world.settle()
    row = load(world, 1)
    assert row.title == title
    assert row.channel_name == slug
    card = world.emulator.messages(row.channel_id)[0]
    assert title in flatten(card)
    assert_never_broadcast(world)


# -- SQL metacharacters, on every backend --------------------------------------------------------

SQLISH = [
    "'; DROP TABLE escalations; --",
    'Robert"); DELETE FROM decisions WHERE ("1"="1',
    "100% off %s %(title)s %%",
    "back\\slash \\x00 and a real NUL:\x00end",
    "1 OR 1=1 /* comment */ UNION SELECT * FROM outbox",
]


def test_sql_metacharacters_are_plain_text(any_world: World):
    world = any_world
    for text in SQLISH:
        reply = world.driver.command(REPORTER, "/escalate", f"SEV3 {text}")
        assert reply.status == 200 and "Raising" in reply.body, reply.body
    world.settle()
    with world.db.uow() as uow:
        titles = [e.title for e in uow.repos.escalations.find()]
    # Requests sent one after another are recorded by several workers: in any order.
    assert sorted(titles) == sorted(" ".join(t.replace("\x00", "").split()) for t in SQLISH)
    row = raise_esc(world, "SEV3 #ads Plain one")
    for text in SQLISH:
        esc(world, MEMBER, f"update {text}", row.channel_id)
        esc(world, MEMBER, f"decision {text}", row.channel_id)
    said = esc(world, MEMBER, "decisions", row.channel_id)
    assert "DROP TABLE" in said
    with world.db.uow() as uow:
        assert len(uow.repos.decisions.chain(row.id)) == len(SQLISH)
        assert len(uow.repos.escalations.find()) == len(SQLISH) + 1
    assert signoffs(world, row.id) == []
    assert_never_broadcast(world)


def test_links_never_unfurl(world: World):
    view, values = escalate_form(
        world,
        REPORTER,
        "Graphic video spreading",
        "content",
        ("graphic",),
        policy_area="community_standards",
        severity="SEV2",
        region="global",
    )
    values["links"] = {"links": "https://example.com/graphic.mp4\nhttps://example.com/photo.jpg"}
    world.driver.submit_view(REPORTER, view, values)
    world.settle()
    row = load(world, 1)
    assert row.links and row.graphic
    esc(world, MEMBER, "update see https://example.com/graphic.mp4", row.channel_id)
    posts = world.emulator.calls_of("chat.postMessage")
    assert posts and all(
        c.args.get("unfurl_links") is False and c.args.get("unfurl_media") is False for c in posts
    )
    assert all(r["payload"].get("unfurl_links") is False for r in world.emulator.responses)
    assert_never_broadcast(world)
