"""The Slack emulator and driver, exercised over real HTTP with slack_sdk's own client."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import Clock, SignatureVerifier

from bot.sandbox.driver import Driver, signature_for
from bot.sandbox.emulator import Emulator

TOKEN = "xoxb-sandbox"
SECRET = "sandbox-signing-secret"
START = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock):
    emulator = Emulator(clock=clock)
    emulator.add_user("U1", "alice", email="Alice@Example.com", tz="Europe/Berlin")
    emulator.add_user("U2", "bob", tz="America/New_York", real_name="Bob B")
    emulator.add_user("U3", "carol", deleted=True)
    emulator.add_user("UOTHERBOT", "otherbot", is_bot=True)
    emulator.add_channel("C0TEAM0001", "team", members=["U1", "U2"])
    emulator.add_channel("C0PUBLIC01", "lobby", members=["U1"], bot_member=False)
    emulator.add_channel("C0SECRET01", "secret", is_private=True, members=["U1"], bot_member=False)
    emulator.add_usergroup("S0ONCALL01", "oncall", ["U1", "U2"])
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def client(emu: Emulator) -> WebClient:
    # No retry handlers: every failure the emulator produces must be visible.
    return WebClient(token=TOKEN, base_url=emu.url, retry_handlers=[])


def refusal(call, *args, **kwargs) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call(*args, **kwargs)
    return caught.value


def error_of(call, *args, **kwargs) -> str:
    return refusal(call, *args, **kwargs).response["error"]


def raw(emu: Emulator, method: str, *, data: bytes | None = None, headers=None, query=""):
    request = urllib.request.Request(
        f"{emu.url}{method}{'?' + query if query else ''}",
        data=data,
        headers=headers or {},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, dict(failure.headers), json.loads(failure.read())


def chan(emu: Emulator, channel_id: str) -> dict:
    info = emu.channel(channel_id)
    assert info is not None, channel_id
    return info


def chan_named(emu: Emulator, name: str) -> dict:
    info = emu.channel_by_name(name)
    assert info is not None, name
    return info


def modal(title: str = "Page", **extra) -> dict:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [], **extra}


# ----------------------------------------------------------------------------- auth and transport


def test_auth_test_reports_bot_identity(client: WebClient, emu: Emulator) -> None:
    data = client.auth_test()
    assert data["ok"] is True
    assert data["user_id"] == emu.bot_user_id
    assert data["team_id"] == emu.team_id
    assert data["bot_id"] == emu.bot_id
    assert data["url"] == "https://sandbox.slack.com/"


def test_wrong_or_missing_token(emu: Emulator) -> None:
    bad = WebClient(token="xoxb-wrong", base_url=emu.url, retry_handlers=[])
    assert error_of(bad.auth_test) == "invalid_auth"
    status, _, body = raw(emu, "auth.test", data=b"", headers={})
    assert (status, body) == (200, {"ok": False, "error": "not_authed"})


def test_token_as_form_argument_but_not_inside_json(emu: Emulator) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    _, _, body = raw(emu, "auth.test", data=f"token={TOKEN}".encode(), headers=form)
    assert body["ok"] is True
    as_json = {"Content-Type": "application/json"}
    _, _, body = raw(emu, "auth.test", data=json.dumps({"token": TOKEN}).encode(), headers=as_json)
    assert body == {"ok": False, "error": "not_authed"}


def test_get_with_query_arguments(emu: Emulator) -> None:
    status, _, body = raw(
        emu, "users.info", query="user=U1", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 200 and body["user"]["name"] == "alice"


def test_unknown_method_is_404(emu: Emulator, client: WebClient) -> None:
    failure = refusal(client.api_call, "chat.nonexistent")
    assert failure.response.status_code == 404
    assert failure.response["error"] == "unknown_method"
    assert emu.calls[-1].status == 404


def test_calls_are_recorded_without_token(client: WebClient, emu: Emulator, clock) -> None:
    client.chat_postMessage(channel="C0TEAM0001", text="hello")
    error_of(client.users_info, user="UNOPE")
    post, info = emu.calls[-2:]
    assert (post.method, post.ok, post.error, post.status) == ("chat.postMessage", True, None, 200)
    assert post.args == {"channel": "C0TEAM0001", "text": "hello"}
    assert post.at == clock.now
    assert (info.ok, info.error) == (False, "user_not_found")
    assert emu.calls_of("users.info") == [info]


# ----------------------------------------------------------------------------- conversations


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "invalid_name_required"),
        ("a" * 81, "invalid_name_maxlength"),
        ("Incident", "invalid_name_specials"),
        ("inc 42", "invalid_name_specials"),
        ("inc.42", "invalid_name_specials"),
        ("#inc", "invalid_name_specials"),
        ("inc\u00e9", "invalid_name_specials"),
        ("-_-", "invalid_name_punctuation"),
        ("here", "invalid_name"),
    ],
)
def test_channel_name_rules(client: WebClient, name: str, error: str) -> None:
    assert error_of(client.conversations_create, name=name) == error


def test_conversations_create(client: WebClient, emu: Emulator) -> None:
    channel = client.conversations_create(name="inc-2024_" + "x" * 71)["channel"]
    assert re.fullmatch(r"C[A-Z0-9]{10}", channel["id"])
    assert len(channel["name"]) == 80
    assert channel["is_private"] is False and channel["is_member"] is True
    assert channel["creator"] == emu.bot_user_id
    private = client.conversations_create(name="sec-1", is_private=True)["channel"]
    assert private["is_private"] is True
    assert chan(emu, private["id"])["members"] == [emu.bot_user_id]
    assert chan_named(emu, "#sec-1")["id"] == private["id"]


def test_name_taken_includes_archived_channels(client: WebClient) -> None:
    assert error_of(client.conversations_create, name="team") == "name_taken"
    created = client.conversations_create(name="inc-1")["channel"]["id"]
    client.conversations_archive(channel=created)
    assert error_of(client.conversations_create, name="inc-1") == "name_taken"


def test_invite_without_force_is_all_or_nothing(client: WebClient, emu: Emulator) -> None:
    channel = client.conversations_create(name="inc-7")["channel"]["id"]
    failure = refusal(client.conversations_invite, channel=channel, users=["U1", "UNOPE", "U3"])
    assert failure.response["error"] == "user_not_found"
    assert failure.response["errors"] == [
        {"user": "UNOPE", "ok": False, "error": "user_not_found"},
        {"user": "U3", "ok": False, "error": "cant_invite"},
    ]
    assert chan(emu, channel)["members"] == [emu.bot_user_id]


def test_invite_with_force_invites_the_valid_ones(client: WebClient, emu: Emulator) -> None:
    channel = client.conversations_create(name="inc-8")["channel"]["id"]
    data = client.conversations_invite(channel=channel, users="U1,UNOPE,U2", force=True)
    assert data["ok"] is True
    assert data["errors"] == [{"user": "UNOPE", "ok": False, "error": "user_not_found"}]
    assert chan(emu, channel)["members"] == [emu.bot_user_id, "U1", "U2"]
    everyone_fails = refusal(client.conversations_invite, channel=channel, users="U1", force=True)
    assert everyone_fails.response["error"] == "already_in_channel"


def test_invite_single_user_errors(client: WebClient, emu: Emulator) -> None:
    invite = client.conversations_invite
    assert error_of(invite, channel="C0TEAM0001", users="U1") == "already_in_channel"
    assert error_of(invite, channel="C0TEAM0001", users=emu.bot_user_id) == "cant_invite_self"
    assert error_of(invite, channel="C0TEAM0001", users="UNOPE") == "user_not_found"
    assert error_of(invite, channel="C0TEAM0001", users="U3") == "cant_invite"
    assert error_of(invite, channel="C0TEAM0001", users="") == "no_user"
    too_many = ",".join(f"U{i:05d}" for i in range(1001))
    assert error_of(invite, channel="C0TEAM0001", users=too_many) == "too_many_users"


def test_invite_channel_errors(client: WebClient) -> None:
    invite = client.conversations_invite
    assert error_of(invite, channel="CNOPE", users="U2") == "channel_not_found"
    assert error_of(invite, channel="C0PUBLIC01", users="U2") == "not_in_channel"
    assert error_of(invite, channel="C0SECRET01", users="U2") == "channel_not_found"
    client.conversations_archive(channel="C0TEAM0001")
    assert error_of(invite, channel="C0TEAM0001", users="U2") == "is_archived"


def test_archive_unarchive_join(client: WebClient, emu: Emulator) -> None:
    client.conversations_archive(channel="C0TEAM0001")
    assert chan(emu, "C0TEAM0001")["is_archived"] is True
    assert error_of(client.conversations_archive, channel="C0TEAM0001") == "already_archived"
    client.conversations_unarchive(channel="C0TEAM0001")
    assert error_of(client.conversations_unarchive, channel="C0TEAM0001") == "not_archived"
    assert error_of(client.conversations_archive, channel="C0PUBLIC01") == "not_in_channel"
    assert client.conversations_join(channel="C0PUBLIC01")["channel"]["is_member"] is True
    assert client.conversations_join(channel="C0PUBLIC01")["warning"] == "already_in_channel"


def test_topic_purpose_and_info(client: WebClient, emu: Emulator) -> None:
    client.conversations_setTopic(channel="C0TEAM0001", topic="SEV1: checkout down")
    client.conversations_setPurpose(channel="C0TEAM0001", purpose="Incident room")
    info = client.conversations_info(channel="C0TEAM0001", include_num_members=True)["channel"]
    assert info["topic"]["value"] == "SEV1: checkout down"
    assert info["topic"]["creator"] == emu.bot_user_id
    assert info["purpose"]["value"] == "Incident room"
    assert info["num_members"] == 3
    assert chan(emu, "C0TEAM0001")["topic"] == "SEV1: checkout down"
    assert error_of(client.conversations_setTopic, channel="C0TEAM0001", topic="x" * 251) == (
        "too_long"
    )
    assert error_of(client.conversations_info, channel="C0SECRET01") == "channel_not_found"


def test_members_pagination(client: WebClient, emu: Emulator) -> None:
    ids = [f"UP{i:04d}" for i in range(250)]
    for user_id in ids:
        emu.add_user(user_id, user_id.lower())
    emu.add_channel("C0BIGROOM1", "big", members=ids)
    seen, cursor, pages = [], None, 0
    while True:
        data = client.conversations_members(channel="C0BIGROOM1", limit=100, cursor=cursor)
        seen += data["members"]
        pages += 1
        cursor = data["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert seen == [emu.bot_user_id, *ids]
    assert error_of(client.conversations_members, channel="C0BIGROOM1", cursor="bogus") == (
        "invalid_cursor"
    )


# ----------------------------------------------------------------------------- chat


def test_post_message_and_ts_order(client: WebClient, emu: Emulator) -> None:
    first = client.chat_postMessage(channel="C0TEAM0001", text="one", unfurl_links=False)
    second = client.chat_postMessage(
        channel="C0TEAM0001", text="two", unfurl_media=False, thread_ts=first["ts"]
    )
    assert re.fullmatch(r"\d{10}\.\d{6}", first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert first["channel"] == "C0TEAM0001" and first["message"]["text"] == "one"
    messages = emu.messages("C0TEAM0001")
    assert [m["text"] for m in messages] == ["one", "two"]
    assert messages[0]["unfurl_links"] is False and messages[1]["unfurl_media"] is False
    assert messages[1]["thread_ts"] == first["ts"] and messages[0]["pinned"] is False
    assert messages[0]["user"] == emu.bot_user_id


def test_post_message_to_user_opens_dm(client: WebClient, emu: Emulator) -> None:
    posted = client.chat_postMessage(channel="U1", text="you are paged")
    assert posted["channel"].startswith("D")
    assert client.conversations_open(users="U1")["channel"]["id"] == posted["channel"]
    assert emu.messages(posted["channel"])[0]["text"] == "you are paged"
    assert error_of(client.chat_postMessage, channel="U3", text="x") == "user_disabled"
    assert error_of(client.conversations_open, users="UNOPE") == "user_not_found"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument")
def test_post_message_refusals(client: WebClient, emu: Emulator) -> None:
    emu.rate_limits = False  # refused calls count against the limit too
    post = client.chat_postMessage
    assert error_of(post, channel="C0TEAM0001") == "no_text"
    assert error_of(post, channel="C0TEAM0001", text="") == "no_text"
    assert error_of(post, channel="CNOPE", text="x") == "channel_not_found"
    assert error_of(post, channel="C0SECRET01", text="x") == "not_in_channel"
    assert error_of(post, channel="C0TEAM0001", text="x" * 40_001) == "msg_too_long"
    post(channel="C0TEAM0001", text="x" * 40_000)
    assert post(channel="C0PUBLIC01", text="public channels need no membership")["ok"]
    divider = {"type": "divider"}
    post(channel="C0TEAM0001", text="fallback", blocks=[divider] * 50)
    failure = refusal(post, channel="C0TEAM0001", text="t", blocks=[divider] * 51)
    assert failure.response["error"] == "invalid_blocks"
    client.conversations_archive(channel="C0TEAM0001")
    assert error_of(post, channel="C0TEAM0001", text="x") == "is_archived"


def test_block_kit_validation(client: WebClient, emu: Emulator) -> None:
    emu.rate_limits = False

    def post(blocks):
        return client.chat_postMessage(channel="C0TEAM0001", text="t", blocks=blocks)

    long_button = {
        "type": "actions",
        "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x" * 76}}],
    }
    failure = refusal(post, [long_button])
    assert failure.response["error"] == "invalid_blocks"
    assert "elements/0/text/text" in failure.response["errors"][0]
    assert error_of(post, [{"type": "section"}]) == "invalid_blocks"
    assert error_of(post, [{"type": "header", "text": {"type": "mrkdwn", "text": "*"}}]) == (
        "invalid_blocks"
    )
    duplicate = [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}]
    assert error_of(post, duplicate) == "invalid_blocks"
    assert error_of(post, [{"type": "carousel"}]) == "invalid_blocks"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument")
def test_post_ephemeral(client: WebClient, emu: Emulator) -> None:
    data = client.chat_postEphemeral(channel="C0TEAM0001", user="U2", text="only you")
    assert re.fullmatch(r"\d+\.\d{6}", data["message_ts"])
    assert emu.ephemerals == [
        {
            "channel": "C0TEAM0001",
            "user": "U2",
            "text": "only you",
            "blocks": [],
            "ts": data["message_ts"],
            "thread_ts": None,
        }
    ]
    assert emu.messages("C0TEAM0001") == []
    ephemeral = client.chat_postEphemeral
    assert error_of(ephemeral, channel="C0PUBLIC01", user="U2", text="x") == "user_not_in_channel"
    assert error_of(ephemeral, channel="C0TEAM0001", user="U2") == "no_text"


def test_update_delete_and_permalink(client: WebClient, emu: Emulator) -> None:
    ts = client.chat_postMessage(channel="C0TEAM0001", text="old")["ts"]
    data = client.chat_update(channel="C0TEAM0001", ts=ts, text="new")
    assert data["ts"] == ts and data["text"] == "new"
    assert emu.messages("C0TEAM0001")[0]["text"] == "new"
    assert error_of(client.chat_update, channel="C0TEAM0001", ts="1.000000", text="x") == (
        "message_not_found"
    )
    human = emu.add_message("C0TEAM0001", "from a person", user="U1")
    assert error_of(client.chat_update, channel="C0TEAM0001", ts=human, text="x") == (
        "cant_update_message"
    )
    link = client.chat_getPermalink(channel="C0TEAM0001", message_ts=ts)["permalink"]
    assert link == f"https://sandbox.slack.com/archives/C0TEAM0001/p{ts.replace('.', '')}"
    assert error_of(client.chat_getPermalink, channel="C0TEAM0001", message_ts="1.000001") == (
        "message_not_found"
    )
    client.chat_delete(channel="C0TEAM0001", ts=ts)
    assert [m["text"] for m in emu.messages("C0TEAM0001")] == ["from a person"]
    assert error_of(client.chat_delete, channel="C0TEAM0001", ts=human) == "cant_delete_message"


def test_pins_and_bookmarks(client: WebClient, emu: Emulator) -> None:
    ts = client.chat_postMessage(channel="C0TEAM0001", text="decision log")["ts"]
    assert error_of(client.pins_add, channel="C0TEAM0001") == "no_item_specified"
    assert error_of(client.pins_add, channel="C0TEAM0001", timestamp="1.000000") == (
        "message_not_found"
    )
    client.pins_add(channel="C0TEAM0001", timestamp=ts)
    assert error_of(client.pins_add, channel="C0TEAM0001", timestamp=ts) == "already_pinned"
    assert emu.messages("C0TEAM0001")[0]["pinned"] is True
    assert chan(emu, "C0TEAM0001")["pins"] == [ts]

    bookmark = client.bookmarks_add(
        channel_id="C0TEAM0001", title="Runbook", type="link", link="https://runbooks.example/x"
    )["bookmark"]
    assert bookmark["title"] == "Runbook" and bookmark["channel_id"] == "C0TEAM0001"
    assert chan(emu, "C0TEAM0001")["bookmarks"][0]["link"] == "https://runbooks.example/x"
    assert error_of(
        client.bookmarks_add, channel_id="C0TEAM0001", title="x", type="folder", link="https://a"
    ) == ("invalid_bookmark_type")
    assert error_of(
        client.bookmarks_add, channel_id="C0TEAM0001", title="x", type="link", link="nope"
    ) == ("invalid_link")


# ----------------------------------------------------------------------------- users


def test_users_info_shape(client: WebClient, clock: FakeClock) -> None:
    user = client.users_info(user="U2")["user"]
    assert user["id"] == "U2" and user["name"] == "bob" and user["real_name"] == "Bob B"
    assert user["tz"] == "America/New_York"
    assert user["tz_offset"] == -5 * 3600  # 2023-11-14 is standard time
    assert user["tz_label"] == "Eastern Standard Time"
    assert user["profile"]["real_name"] == "Bob B" and user["deleted"] is False
    assert client.users_info(user="U3")["user"]["deleted"] is True
    assert error_of(client.users_info, user="UNOPE") == "user_not_found"
    clock.now = 1_689_000_000.0  # July: daylight saving time
    assert client.users_info(user="U2")["user"]["tz_offset"] == -4 * 3600


def test_lookup_by_email_and_usergroups(client: WebClient) -> None:
    user = client.users_lookupByEmail(email="alice@example.com")["user"]
    assert user["id"] == "U1" and user["profile"]["email"] == "Alice@Example.com"
    assert error_of(client.users_lookupByEmail, email="nobody@example.com") == "users_not_found"
    assert client.usergroups_users_list(usergroup="S0ONCALL01")["users"] == ["U1", "U2"]
    assert error_of(client.usergroups_users_list, usergroup="S0NOPE") == "no_such_subteam"


# ----------------------------------------------------------------------------- views


def test_trigger_lifetime(client: WebClient, emu: Emulator, clock: FakeClock) -> None:
    fresh = emu.new_trigger_id()
    clock.advance(3.0)
    view = client.views_open(trigger_id=fresh, view=modal())["view"]
    assert re.fullmatch(r"V[A-Z0-9]+", view["id"]) and view["hash"]
    assert emu.views[view["id"]]["title"]["text"] == "Page"
    assert error_of(client.views_open, trigger_id=fresh, view=modal()) == "exchanged_trigger_id"
    stale = emu.new_trigger_id()
    clock.advance(3.01)
    assert error_of(client.views_open, trigger_id=stale, view=modal()) == "expired_trigger_id"
    unknown = "123.456.abcdef"
    assert error_of(client.views_open, trigger_id=unknown, view=modal()) == "expired_trigger_id"
    assert error_of(client.views_open, trigger_id="nonsense", view=modal()) == (
        "invalid_trigger_id"
    )


def test_invalid_view_keeps_the_trigger(client: WebClient, emu: Emulator) -> None:
    trigger = emu.new_trigger_id()
    needs_submit = modal(
        blocks=[
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Why"},
                "element": {"type": "plain_text_input", "action_id": "why"},
            }
        ]
    )
    failure = refusal(client.views_open, trigger_id=trigger, view=needs_submit)
    assert failure.response["error"] == "invalid_arguments"
    assert "submit" in failure.response["response_metadata"]["messages"][0]
    too_long_title = modal(title="x" * 25)
    assert error_of(client.views_open, trigger_id=trigger, view=too_long_title) == (
        "invalid_arguments"
    )
    assert client.views_open(trigger_id=trigger, view=modal())["ok"]


def test_views_update_hash_and_external_id(client: WebClient, emu: Emulator) -> None:
    opened = client.views_open(trigger_id=emu.new_trigger_id(), view=modal(external_id="page-1"))[
        "view"
    ]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Two"))
    assert updated["view"]["id"] == opened["id"] and updated["view"]["hash"] != opened["hash"]
    stale = refusal(client.views_update, view_id=opened["id"], hash=opened["hash"], view=modal())
    assert stale.response["error"] == "hash_conflict"
    assert error_of(client.views_update, view_id="VNOPE", view=modal()) == "not_found"
    by_external = client.views_update(external_id="page-1", view=modal("Three"))["view"]
    assert by_external["id"] == opened["id"]
    assert emu.views[opened["id"]]["title"]["text"] == "Three"
    dup = refusal(
        client.views_open, trigger_id=emu.new_trigger_id(), view=modal(external_id="page-1")
    )
    assert dup.response["error"] == "duplicate_external_id"


def test_views_push_limit_and_publish(client: WebClient, emu: Emulator) -> None:
    client.views_open(trigger_id=emu.new_trigger_id(user_id="U1"), view=modal())
    client.views_push(trigger_id=emu.new_trigger_id(user_id="U1"), view=modal("Two"))
    client.views_push(trigger_id=emu.new_trigger_id(user_id="U1"), view=modal("Three"))
    assert len(emu.open_views("U1")) == 3
    assert error_of(
        client.views_push, trigger_id=emu.new_trigger_id(user_id="U1"), view=modal()
    ) == ("push_limit_reached")

    home = {"type": "home", "blocks": [{"type": "divider"}]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    assert emu.home_views["U1"]["id"] == first["id"]
    second = client.views_publish(user_id="U1", view=home, hash=first["hash"])["view"]
    assert second["id"] == first["id"]
    assert error_of(client.views_publish, user_id="U1", view=home, hash=first["hash"]) == (
        "hash_conflict"
    )
    assert error_of(client.views_publish, user_id="U1", view=modal()) == "invalid_arguments"


# ----------------------------------------------------------------------------- rate limits


def test_tier_limit_returns_429_with_retry_after(emu: Emulator, clock: FakeClock) -> None:
    for _ in range(20):
        status, _, _ = raw(
            emu, "conversations.setTopic", data=b"channel=C0TEAM0001&topic=t",
            headers={"Authorization": f"Bearer {TOKEN}",
                     "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert status == 200
        clock.advance(1.0)
    status, headers, body = raw(
        emu, "conversations.setTopic", data=b"channel=C0TEAM0001&topic=t",
        headers={"Authorization": f"Bearer {TOKEN}",
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert status == 429 and body == {"ok": False, "error": "ratelimited"}
    assert headers["Retry-After"] == "40"  # the first call leaves the window at START + 60
    assert emu.calls[-1].status == 429
    clock.advance(40.0)
    client = WebClient(token=TOKEN, base_url=emu.url, retry_handlers=[])
    assert client.conversations_setTopic(channel="C0TEAM0001", topic="t")["ok"]


def test_post_message_burst_is_per_channel(client: WebClient, emu: Emulator, clock) -> None:
    for i in range(5):
        client.chat_postMessage(channel="C0TEAM0001", text=str(i))
    failure = refusal(client.chat_postMessage, channel="C0TEAM0001", text="too fast")
    assert failure.response.status_code == 429
    assert (
        failure.response.headers["Retry-After"] == ["1"]
        or failure.response.headers["Retry-After"] == "1"
    )
    assert client.chat_postMessage(channel="C0PUBLIC01", text="other channel")["ok"]
    clock.advance(1.0)
    assert client.chat_postMessage(channel="C0TEAM0001", text="after a second")["ok"]
    assert error_of(client.chat_postMessage, channel="C0TEAM0001", text="x") == "ratelimited"
    emu.rate_limits = False
    for i in range(30):
        client.chat_postMessage(channel="C0TEAM0001", text=f"unlimited {i}")
    emu.rate_limits = True
    emu.reset_limits()
    assert client.chat_postMessage(channel="C0TEAM0001", text="fresh bucket")["ok"]


def test_slack_sdk_rate_limit_handler_recovers(emu: Emulator, clock, monkeypatch) -> None:
    slept: list[float] = []

    def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=fake_sleep))
    client = WebClient(
        token=TOKEN,
        base_url=emu.url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    for i in range(6):
        assert client.chat_postMessage(channel="C0TEAM0001", text=str(i))["ok"]
    assert len(slept) == 1 and 1.0 <= slept[0] < 2.0
    assert [c.status for c in emu.calls_of("chat.postMessage")] == [200] * 5 + [429, 200]


# ----------------------------------------------------------------------------- faults


def test_fault_error_then_recovery(client: WebClient, emu: Emulator) -> None:
    emu.inject_fault("conversations.create", error="fatal_error", count=2)
    assert error_of(client.conversations_create, name="inc-a") == "fatal_error"
    assert error_of(client.conversations_create, name="inc-a") == "fatal_error"
    assert client.conversations_create(name="inc-a")["ok"]
    assert [c.error for c in emu.calls_of("conversations.create")] == [
        "fatal_error",
        "fatal_error",
        None,
    ]


@pytest.mark.parametrize(
    ("status", "error"), [(500, "internal_error"), (503, "service_unavailable")]
)
def test_fault_http_status(client: WebClient, emu: Emulator, status: int, error: str) -> None:
    emu.inject_fault("chat.postMessage", status=status)
    failure = refusal(client.chat_postMessage, channel="C0TEAM0001", text="x")
    assert failure.response.status_code == status and failure.response["error"] == error
    assert emu.messages("C0TEAM0001") == []


def test_fault_429_carries_retry_after(client: WebClient, emu: Emulator) -> None:
    emu.inject_fault("users.info", status=429, retry_after=7)
    failure = refusal(client.users_info, user="U1")
    assert failure.response.status_code == 429 and failure.response["error"] == "ratelimited"
    assert str(failure.response.headers["Retry-After"]).strip("[]'") == "7"


def test_fault_latency(client: WebClient, emu: Emulator) -> None:
    emu.inject_fault("auth.test", latency=0.05)
    started = time.perf_counter()
    assert client.auth_test()["ok"]
    assert time.perf_counter() - started >= 0.05


def test_fault_reset(client: WebClient, emu: Emulator) -> None:
    emu.inject_fault("chat.postMessage", reset=True)
    with pytest.raises((OSError, http.client.HTTPException)):
        client.chat_postMessage(channel="C0TEAM0001", text="lost")
    assert emu.calls[-1].status == 0 and emu.messages("C0TEAM0001") == []
    no_wait = FixedValueRetryIntervalCalculator(fixed_internal=0.0)
    retrying = WebClient(
        token=TOKEN,
        base_url=emu.url,
        retry_handlers=[ConnectionErrorRetryHandler(interval_calculator=no_wait)],
    )
    emu.inject_fault("chat.postMessage", reset=True)
    assert retrying.chat_postMessage(channel="C0TEAM0001", text="delivered")["ok"]
    assert [m["text"] for m in emu.messages("C0TEAM0001")] == ["delivered"]


def test_concurrent_posts_are_consistent(emu: Emulator) -> None:
    emu.rate_limits = False
    client = WebClient(token=TOKEN, base_url=emu.url, retry_handlers=[])
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                client.chat_postMessage(channel="C0TEAM0001", text=f"{n}-{i}")
        except BaseException as failure:  # pragma: no cover - reported below
            errors.append(failure)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stamps = [m["ts"] for m in emu.messages("C0TEAM0001")]
    assert len(stamps) == 80 and len(set(stamps)) == 80 and stamps == sorted(stamps)


# ----------------------------------------------------------------------------- response_url


def post_json(url: str, payload) -> tuple[int, dict]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read())


def test_response_url_records_and_applies(emu: Emulator, clock: FakeClock) -> None:
    url = emu.new_response_url(channel_id="C0TEAM0001", user_id="U1")
    assert url.startswith(emu.url.replace("/api/", "/_response/"))
    assert post_json(url, {"text": "just you"}) == (200, {"ok": True})
    assert post_json(url, {"text": "everyone", "response_type": "in_channel"})[0] == 200
    assert emu.responses[0] == {"url": url, "payload": {"text": "just you"}}
    assert [m["text"] for m in emu.messages("C0TEAM0001")] == ["everyone"]
    assert post_json(url, b"{not json")[0] == 400
    assert post_json(url, {})[1]["error"] == "no_text"
    for _ in range(3):
        post_json(url, {"text": "again"})
    assert post_json(url, {"text": "sixth"}) == (404, {"ok": False, "error": "used_url"})
    old = emu.new_response_url()
    clock.advance(30 * 60 + 1)
    assert post_json(old, {"text": "late"}) == (404, {"ok": False, "error": "expired_url"})
    assert len(emu.responses) == 5


def test_response_url_replace_and_delete_original(emu: Emulator, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0TEAM0001", text="Page acknowledged?")["ts"]
    url = emu.new_response_url(channel_id="C0TEAM0001", user_id="U1", message_ts=ts)
    post_json(url, {"replace_original": True, "text": "Acknowledged by alice"})
    assert emu.messages("C0TEAM0001")[0]["text"] == "Acknowledged by alice"
    post_json(url, {"delete_original": True})
    assert emu.messages("C0TEAM0001") == []


# ----------------------------------------------------------------------------- driver


class _BotStub:
    """A stand-in bot endpoint that checks signatures the way Bolt does."""

    def __init__(self, secret: str) -> None:
        self.verifier = SignatureVerifier(secret)
        self.requests: list[dict] = []
        self.answer: tuple[int, bytes] = (200, b"")
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                valid = stub.verifier.is_valid_request(body, dict(self.headers))
                stub.requests.append({"headers": dict(self.headers), "body": body, "valid": valid})
                status, payload = stub.answer if valid else (401, b"invalid signature")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def form(self, index: int = -1) -> dict:
        return {k: v[0] for k, v in parse_qs(self.requests[index]["body"].decode()).items()}

    def payload(self, index: int = -1) -> dict:
        return json.loads(self.form(index)["payload"])


@pytest.fixture
def bot():
    stub = _BotStub(SECRET)
    yield stub
    stub.close()


@pytest.fixture
def driver(emu: Emulator, bot: _BotStub) -> Driver:
    return Driver(emu, bot.url, SECRET)


def test_signature_matches_slack_sdk() -> None:
    class Frozen(Clock):
        def now(self) -> float:
            return 1_700_000_100.0

    verifier = SignatureVerifier(SECRET, clock=Frozen())
    body = "token=x&text=hello%20world"
    signature = signature_for(SECRET, 1_700_000_000, body)
    assert signature == verifier.generate_signature(timestamp="1700000000", body=body)
    assert verifier.is_valid(body, "1700000000", signature)


def test_command_is_formatted_and_signed(driver: Driver, bot: _BotStub, emu: Emulator) -> None:
    bot.answer = (200, b'{"response_type": "ephemeral", "text": "ok"}')
    reply = driver.command("U1", "/page", "@bob checkout is down")
    assert reply.status == 200 and reply.json == {"response_type": "ephemeral", "text": "ok"}
    assert reply.elapsed > 0 and reply.headers["Content-Type"] == "application/json"
    request = bot.requests[-1]
    assert request["valid"] is True
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert "X-Slack-Retry-Num" not in request["headers"]
    form = bot.form()
    assert form["command"] == "/page" and form["text"] == "@bob checkout is down"
    assert form["user_id"] == "U1" and form["user_name"] == "alice"
    assert form["channel_id"] == "C0TEAM0001" and form["channel_name"] == "team"
    assert form["team_id"] == emu.team_id and form["team_domain"] == "sandbox"
    assert form["api_app_id"] == emu.app_id and form["is_enterprise_install"] == "false"
    assert {"token", "response_url", "trigger_id"} <= form.keys()
    assert post_json(form["response_url"], {"text": "later"})[0] == 200
    client = WebClient(token=TOKEN, base_url=emu.url, retry_handlers=[])
    assert client.views_open(trigger_id=form["trigger_id"], view=modal())["ok"]
    assert emu.open_views("U1")[0]["title"]["text"] == "Page"


def test_command_retry_and_bad_signatures(driver: Driver, bot: _BotStub) -> None:
    driver.command("U1", "/page", retry_num=1)
    assert bot.requests[-1]["headers"]["X-Slack-Retry-Num"] == "1"
    assert bot.requests[-1]["headers"]["X-Slack-Retry-Reason"] == "http_timeout"
    assert driver.command("U1", "/page", signature="v0=" + "0" * 64).status == 401
    stale = int(time.time()) - 600
    assert driver.command("U1", "/page", timestamp=stale).status == 401
    assert bot.requests[-1]["headers"]["X-Slack-Request-Timestamp"] == str(stale)
    wrong_secret = Driver(driver.emulator, bot.url, "not-the-secret")
    assert wrong_secret.command("U1", "/page").status == 401


def test_action_payload(driver: Driver, bot: _BotStub, client: WebClient, emu) -> None:
    ts = client.chat_postMessage(channel="C0TEAM0001", text="Page for alice")["ts"]
    reply = driver.action(
        "U1", "ack", "page-42", block_id="page", channel_id="C0TEAM0001", message_ts=ts
    )
    assert reply.status == 200 and bot.requests[-1]["valid"]
    payload = bot.payload()
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": "U1",
        "username": "alice",
        "name": "alice",
        "team_id": emu.team_id,
    }
    assert payload["team"] == {"id": emu.team_id, "domain": "sandbox"}
    assert payload["channel"] == {"id": "C0TEAM0001", "name": "team"}
    assert payload["container"]["message_ts"] == ts and payload["container"]["type"] == "message"
    assert payload["message"]["text"] == "Page for alice" and payload["message"]["ts"] == ts
    (action,) = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "ack",
        "page",
        "page-42",
        "button",
    )
    assert payload["api_app_id"] == emu.app_id and payload["token"]
    post_json(payload["response_url"], {"replace_original": True, "text": "Acked"})
    assert emu.messages("C0TEAM0001")[0]["text"] == "Acked"
    assert driver.action("U1", "x", trigger=False).ok
    assert "trigger_id" not in bot.payload() and "response_url" not in bot.payload()


def test_submit_view_payload(driver: Driver, bot: _BotStub, client: WebClient, emu) -> None:
    view = client.views_open(
        trigger_id=emu.new_trigger_id(user_id="U1"),
        view=modal(callback_id="escalate", private_metadata='{"incident": 7}'),
    )["view"]
    values = {
        "reason": {"why": "db down"},
        "sev": {"pick": {"type": "static_select", "selected_option": {"value": "1"}}},
    }
    reply = driver.submit_view("U1", view, values)
    assert reply.status == 200 and bot.requests[-1]["valid"]
    payload = bot.payload()
    assert payload["type"] == "view_submission" and payload["response_urls"] == []
    assert payload["view"]["id"] == view["id"] and payload["view"]["hash"] == view["hash"]
    assert payload["view"]["callback_id"] == "escalate"
    assert payload["view"]["private_metadata"] == '{"incident": 7}'
    assert payload["view"]["state"]["values"]["reason"]["why"] == {
        "type": "plain_text_input",
        "value": "db down",
    }
    assert payload["view"]["state"]["values"]["sev"]["pick"]["selected_option"] == {"value": "1"}
    assert emu.open_views("U1") == []  # an empty acknowledgement closes the modal


def test_event_envelope(driver: Driver, bot: _BotStub, emu: Emulator) -> None:
    reply = driver.event(
        {"type": "app_mention", "user": "U1", "text": "hi", "channel": "C0TEAM0001"},
        event_id="Ev123",
        retry_num=2,
    )
    assert reply.status == 200 and bot.requests[-1]["valid"]
    envelope = json.loads(bot.requests[-1]["body"])
    assert envelope["type"] == "event_callback" and envelope["event_id"] == "Ev123"
    assert envelope["team_id"] == emu.team_id and envelope["api_app_id"] == emu.app_id
    assert isinstance(envelope["event_time"], int) and envelope["event"]["type"] == "app_mention"
    assert bot.requests[-1]["headers"]["X-Slack-Retry-Num"] == "2"
    first, second = driver.event({"type": "x"}), driver.event({"type": "x"})
    assert first.ok and second.ok
    ids = [json.loads(r["body"])["event_id"] for r in bot.requests[-2:]]
    assert ids[0] != ids[1]


def test_send_raw_unsigned(driver: Driver, bot: _BotStub) -> None:
    reply = driver.send_raw(b'{"type":"url_verification"}', "application/json", sign=False)
    assert reply.status == 401
    assert "X-Slack-Signature" not in bot.requests[-1]["headers"]
    signed = driver.send_raw(b"a=b", "application/x-www-form-urlencoded", {"X-Extra": "1"})
    assert signed.status == 200 and bot.requests[-1]["headers"]["X-Extra"] == "1"


def test_bolt_app_round_trip(emu: Emulator) -> None:
    """A real Bolt app, driven by the driver, talking back to the emulator."""
    from slack_bolt import App
    from slack_bolt.request import BoltRequest

    app = App(
        token=TOKEN,
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=emu.url),
        process_before_response=True,
    )

    @app.command("/page")
    def page(ack, respond, command, client) -> None:
        ack()
        client.views_open(trigger_id=command["trigger_id"], view=modal("Escalate"))
        respond(f"Paging {command['text']}", response_type="in_channel")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            headers: dict[str, str | Sequence[str]] = dict(self.headers.items())
            response = app.dispatch(BoltRequest(body=body, headers=headers))
            payload = (response.body or "").encode()
            self.send_response(response.status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        driver = Driver(emu, f"http://127.0.0.1:{server.server_address[1]}/slack/events", SECRET)
        assert driver.command("U1", "/page", "bob").status == 200
        assert driver.command("U1", "/page", "bob", signature="v0=bad").status == 401
    finally:
        server.shutdown()
        server.server_close()
    assert [m["text"] for m in emu.messages("C0TEAM0001")] == ["Paging bob"]
    assert emu.open_views("U1")[0]["title"]["text"] == "Escalate"
    assert emu.calls_of("auth.test")  # Bolt verified its token against the emulator


def test_history_returns_message_metadata_when_asked(client: WebClient):
    metadata = {"event_type": "escalation_card", "event_payload": {"key": "card:7"}}
    client.chat_postMessage(channel="C0TEAM0001", text="card", metadata=metadata)
    client.chat_postMessage(channel="C0TEAM0001", text="plain")
    plain = client.conversations_history(channel="C0TEAM0001")["messages"]
    assert all("metadata" not in m for m in plain)
    tagged = client.conversations_history(channel="C0TEAM0001", include_all_metadata=True)
    assert [m.get("metadata") for m in tagged["messages"]] == [None, metadata]
