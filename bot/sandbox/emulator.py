"""A Slack-compatible workspace served over real HTTP.

The emulator speaks the Slack Web API (``/api/<method>``) on an ephemeral
127.0.0.1 port, so the production code path (``slack_sdk.WebClient`` and
Bolt) is exercised unchanged: the bot only gets a different ``base_url``.

Behaviour follows Slack's documented contracts rather than what is convenient
for a test: validation errors, membership rules, trigger lifetimes, view
hashes, response_url limits and per-method rate-limit tiers all answer the way
Slack does, so a bot that passes against the emulator has handled the same
failures it will meet in production.

Everything runs on the standard library; state is guarded by one lock and the
server handles every request on its own daemon thread.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import math
import random
import re
import socket
import string
import struct
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

__all__ = ["METHOD_TIERS", "TIER_LIMITS", "Call", "Emulator", "SlackError"]

# --------------------------------------------------------------------------- limits

#: Requests per sliding 60 s window for each Web API tier.
TIER_LIMITS: dict[int, int] = {1: 1, 2: 20, 3: 50, 4: 100}

#: Tier of every rate-limited method. ``chat.postMessage`` is special (per channel).
METHOD_TIERS: dict[str, int] = {
    "apps.connections.open": 1,
    "conversations.create": 2,
    "conversations.setTopic": 2,
    "conversations.setPurpose": 2,
    "conversations.archive": 2,
    "conversations.unarchive": 2,
    "conversations.list": 2,
    "pins.add": 2,
    "pins.remove": 2,
    "pins.list": 2,
    "bookmarks.add": 2,
    "users.list": 2,
    "conversations.invite": 3,
    "conversations.kick": 3,
    "conversations.info": 3,
    "conversations.members": 3,
    "conversations.join": 3,
    "conversations.open": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 3,
    "chat.getPermalink": 3,
    "views.open": 3,
    "views.push": 3,
    "views.update": 3,
    "views.publish": 3,
    "usergroups.users.list": 3,
    "bookmarks.list": 3,
    "users.info": 4,
    "users.lookupByEmail": 4,
    "auth.test": 4,
}

#: chat.postMessage: token bucket per channel ("1 per second, short bursts allowed").
POST_MESSAGE_BURST = 5
POST_MESSAGE_RATE = 1.0

TRIGGER_LIFETIME = 3.0  # seconds a trigger_id can be exchanged
RESPONSE_URL_LIFETIME = 30 * 60.0  # response_url: valid for 30 minutes ...
RESPONSE_URL_USES = 5  # ... and at most 5 times

MAX_TEXT = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_INVITE = 1000
MAX_NAME = 80
MAX_TOPIC = 250

_ID_CHARS = string.ascii_uppercase + string.digits
_NAME_OK = re.compile(r"[a-z0-9_\-]+")
_RESERVED_NAMES = frozenset({"here", "channel", "everyone", "group"})
_TRIGGER_RE = re.compile(r"\d+\.\d+\.[0-9a-f]+")

# Slack's long time-zone labels for the abbreviations zoneinfo reports.
_TZ_LABELS = {
    "UTC": "Coordinated Universal Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
    "EET": "Eastern European Time",
    "EEST": "Eastern European Summer Time",
    "WET": "Western European Time",
    "WEST": "Western European Summer Time",
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "AKST": "Alaska Standard Time",
    "AKDT": "Alaska Daylight Time",
    "HST": "Hawaii-Aleutian Standard Time",
    "JST": "Japan Standard Time",
    "KST": "Korea Standard Time",
    "IST": "India Standard Time",
    "AEST": "Australian Eastern Standard Time",
    "AEDT": "Australian Eastern Daylight Time",
    "NZST": "New Zealand Standard Time",
    "NZDT": "New Zealand Daylight Time",
}


# --------------------------------------------------------------------------- records


class SlackError(Exception):
    """A Web API refusal: ``{"ok": false, "error": error, **extra}`` with HTTP 200."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Call:
    """One Web API request as the emulator saw it."""

    method: str
    args: dict
    ok: bool
    error: str | None
    at: float
    status: int


@dataclass
class _Fault:
    error: str | None
    status: int | None
    remaining: int
    latency: float
    retry_after: int
    reset: bool


@dataclass
class _Trigger:
    issued: float
    user_id: str | None
    used: bool = False


@dataclass
class _ResponseUrl:
    issued: float
    channel_id: str | None
    user_id: str | None
    message_ts: str | None
    uses: int = 0


_RESET = object()  # route result: drop the connection without answering


def _json_response(status: int, payload: dict, headers: dict | None = None):
    body = json.dumps(payload).encode()
    out = {"Content-Type": "application/json; charset=utf-8"}
    out.update(headers or {})
    return status, out, body


# --------------------------------------------------------------------------- arguments


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _text_arg(args: dict, key: str) -> str | None:
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_arg(value: Any, error: str) -> Any:
    """Form bodies carry structured arguments as JSON strings; JSON bodies inline them."""
    if value is None or isinstance(value, list | dict):
        return value
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(error) from None
    raise SlackError(error)


def _id_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = [str(v) for v in value] if isinstance(value, list | tuple) else str(value).split(",")
    return [item.strip() for item in items if item.strip()]


def _encode_cursor(kind: str, key: str) -> str:
    return base64.b64encode(f"{kind}:{key}".encode()).decode()


def _decode_cursor(cursor: str, kind: str) -> str:
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    prefix = f"{kind}:"
    if not decoded.startswith(prefix):
        raise SlackError("invalid_cursor")
    return decoded[len(prefix) :]


def _limit(args: dict, default: int, maximum: int) -> int:
    raw = _text_arg(args, "limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SlackError("invalid_limit") from None
    if value < 0:
        raise SlackError("invalid_limit")
    if value == 0:
        return default
    return min(value, maximum)


def _paginate(
    items: list, key: Callable[[Any], str], args: dict, kind: str, default: int, maximum: int
) -> tuple[list, str]:
    """Cursor pagination the way Slack does it: an opaque cursor naming the next item."""
    limit = _limit(args, default, maximum)
    cursor = _text_arg(args, "cursor") or ""
    start = 0
    if cursor:
        wanted = _decode_cursor(cursor, kind)
        keys = [key(item) for item in items]
        if wanted not in keys:
            raise SlackError("invalid_cursor")
        start = keys.index(wanted)
    page = items[start : start + limit]
    rest = items[start + limit :]
    next_cursor = _encode_cursor(kind, key(rest[0])) if rest else ""
    return page, next_cursor


# --------------------------------------------------------------------------- block kit

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)
_ELEMENT_TYPES = frozenset(
    {
        "button",
        "channels_select",
        "checkboxes",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "external_select",
        "file_input",
        "image",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "number_input",
        "overflow",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "static_select",
        "timepicker",
        "url_text_input",
        "users_select",
        "workflow_button",
    }
)

# elements that carry options, with the most options each accepts
_OPTION_ELEMENTS = {
    "static_select": 100,
    "multi_static_select": 100,
    "overflow": 5,
    "radio_buttons": 10,
    "checkboxes": 10,
}


class _BlockChecker:
    """Validates Block Kit the way Slack rejects it (a subset of the documented limits)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str, pointer: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(self, obj: Any, pointer: str, *, max_len: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail("must be an object", pointer)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.fail(f"must be one of {', '.join(allowed)}", pointer + "/type")
        value = obj.get("text")
        if not isinstance(value, str) or value == "":
            self.fail("must be more than 0 characters", pointer + "/text")
        elif len(value) > max_len:
            self.fail(f"must be less than {max_len + 1} characters", pointer + "/text")

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(element, dict) or element.get("type") not in _ELEMENT_TYPES:
            self.fail("must provide a valid element type", pointer)
            return
        kind = element["type"]
        action_id = element.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or len(action_id) > 255:
                self.fail("must be less than 256 characters", pointer + "/action_id")
            elif action_id in action_ids:
                self.fail("action_id must be unique within the block", pointer + "/action_id")
            else:
                action_ids.add(action_id)
        if kind == "button":
            self.text(element.get("text"), pointer + "/text", max_len=75, plain_only=True)
            if len(str(element.get("value", ""))) > 2000:
                self.fail("must be less than 2001 characters", pointer + "/value")
            if len(str(element.get("url", ""))) > 3000:
                self.fail("must be less than 3001 characters", pointer + "/url")
            if element.get("style") not in (None, "primary", "danger"):
                self.fail("must be one of primary, danger", pointer + "/style")
        elif kind in _OPTION_ELEMENTS:
            options = element.get("options")
            groups = element.get("option_groups")
            if options is None and groups is None:
                self.fail("must provide options or option_groups", pointer)
            if isinstance(options, list):
                limit = _OPTION_ELEMENTS[kind]
                if not options or len(options) > limit:
                    self.fail(f"must provide between 1 and {limit} items", pointer + "/options")
                for i, option in enumerate(options):
                    if not isinstance(option, dict):
                        self.fail("must be an object", f"{pointer}/options/{i}")
                        continue
                    self.text(option.get("text"), f"{pointer}/options/{i}/text", max_len=75)
                    if len(str(option.get("value", ""))) > 150:
                        where = f"{pointer}/options/{i}/value"
                        self.fail("must be less than 151 characters", where)
        if "placeholder" in element:
            where = pointer + "/placeholder"
            self.text(element["placeholder"], where, max_len=150, plain_only=True)

    def blocks(self, blocks: Any, *, max_blocks: int, pointer: str = "/blocks") -> None:
        if not isinstance(blocks, list):
            self.fail("must be an array", pointer)
            return
        if len(blocks) > max_blocks:
            self.fail(f"no more than {max_blocks} items allowed", pointer)
        block_ids: set[str] = set()
        for index, block in enumerate(blocks):
            here = f"{pointer}/{index}"
            if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
                self.fail("must provide a valid block type", here)
                continue
            block_id = block.get("block_id")
            if block_id is not None:
                if not isinstance(block_id, str) or not block_id or len(block_id) > 255:
                    self.fail("must be between 1 and 255 characters", here + "/block_id")
                elif block_id in block_ids:
                    self.fail("block_id must be unique", here + "/block_id")
                else:
                    block_ids.add(block_id)
            self.block(block, here)

    def block(self, block: dict, here: str) -> None:
        kind = block["type"]
        action_ids: set[str] = set()
        if kind == "section":
            if "text" not in block and "fields" not in block:
                self.fail("must provide either text or fields", here)
            if "text" in block:
                self.text(block["text"], here + "/text", max_len=3000)
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or not fields or len(fields) > 10:
                    self.fail("must provide between 1 and 10 items", here + "/fields")
                else:
                    for i, field in enumerate(fields):
                        self.text(field, f"{here}/fields/{i}", max_len=2000)
            if "accessory" in block:
                self.element(block["accessory"], here + "/accessory", action_ids)
        elif kind == "header":
            self.text(block.get("text"), here + "/text", max_len=150, plain_only=True)
        elif kind in ("actions", "context"):
            elements = block.get("elements")
            limit = 25 if kind == "actions" else 10
            if not isinstance(elements, list) or not elements or len(elements) > limit:
                self.fail(f"must provide between 1 and {limit} items", here + "/elements")
                return
            for i, element in enumerate(elements):
                pointer = f"{here}/elements/{i}"
                if kind == "context":
                    if isinstance(element, dict) and element.get("type") == "image":
                        if not element.get("alt_text"):
                            self.fail("must provide alt_text", pointer)
                    else:
                        self.text(element, pointer, max_len=3000)
                else:
                    self.element(element, pointer, action_ids)
        elif kind == "input":
            self.text(block.get("label"), here + "/label", max_len=2000, plain_only=True)
            if "hint" in block:
                self.text(block["hint"], here + "/hint", max_len=2000, plain_only=True)
            if "element" not in block:
                self.fail("must provide an element", here)
            else:
                self.element(block["element"], here + "/element", action_ids)
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                self.fail("must provide image_url or slack_file", here)
            alt = block.get("alt_text")
            if not isinstance(alt, str) or not alt or len(alt) > 2000:
                self.fail("must be between 1 and 2000 characters", here + "/alt_text")


def _check_message_blocks(blocks: Any) -> None:
    checker = _BlockChecker()
    checker.blocks(blocks, max_blocks=MAX_MESSAGE_BLOCKS)
    if checker.errors:
        raise SlackError(
            "invalid_blocks",
            errors=checker.errors,
            response_metadata={"messages": checker.errors},
        )


# --------------------------------------------------------------------------- emulator


class Emulator:
    """A Slack workspace with one bot, reachable over HTTP at :attr:`url`."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        rate_limits: bool = True,
        bot_user_id: str = "U0BOT00001",
        bot_token: str = "xoxb-sandbox",
        team_id: str = "T0SANDBOX1",
        team_domain: str = "sandbox",
    ) -> None:
        self._clock = clock
        self.rate_limits = rate_limits
        self.bot_user_id = bot_user_id
        self.bot_token = bot_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_domain.capitalize()
        self.bot_id = "B0SANDBOX1"
        self.app_id = "A0SANDBOX1"
        self.bot_name = "escbot"

        self._lock = threading.RLock()
        self._rng = random.Random(0x51AC)
        self._taken_ids: set[str] = set()
        self._last_ts_us = 0

        self._users: dict[str, dict] = {}
        self._channels: dict[str, dict] = {}
        self._dm_by_key: dict[tuple[str, ...], str] = {}
        self._usergroups: dict[str, dict] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._windows: dict[str, deque[float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._view_owner: dict[str, str | None] = {}
        self._view_stacks: dict[str | None, list[str]] = {}
        self._external_ids: dict[str, str] = {}

        self.calls: list[Call] = []
        self.ephemerals: list[dict] = []
        self.responses: list[dict] = []
        #: The same posts with where and to whom they answer, and when: what a client shows.
        self.response_posts: list[dict] = []
        self.views: dict[str, dict] = {}
        self.home_views: dict[str, dict] = {}
        #: Tracebacks of requests the emulator itself failed on (answered with HTTP 500).
        self.server_errors: list[str] = []
        #: Called (without arguments, from the emulator's threads) after anything changed.
        self.listeners: list[Callable[[], None]] = []
        #: Methods that take the app-level token (``xapp-``) instead of the bot token, such as
        #: ``apps.connections.open`` (:mod:`bot.sandbox.socket_mode` adds it).
        self.app_token: str | None = None
        self.app_methods: dict[str, Callable[[dict], dict]] = {}
        #: Called by :meth:`stop` (e.g. the Socket Mode endpoint stops with the workspace).
        self.on_stop: list[Callable[[], None]] = []

        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.base_url = ""

        self._methods: dict[str, Callable[[dict], dict]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "bookmarks.add": self._bookmarks_add,
            "bookmarks.list": self._bookmarks_list,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "conversations.archive": self._conversations_archive,
            "conversations.create": self._conversations_create,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.invite": self._conversations_invite,
            "conversations.join": self._conversations_join,
            "conversations.kick": self._conversations_kick,
            "conversations.list": self._conversations_list,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "conversations.setPurpose": self._conversations_set_purpose,
            "conversations.setTopic": self._conversations_set_topic,
            "conversations.unarchive": self._conversations_unarchive,
            "pins.add": self._pins_add,
            "pins.list": self._pins_list,
            "pins.remove": self._pins_remove,
            "usergroups.users.list": self._usergroups_users_list,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "users.lookupByEmail": self._users_lookup_by_email,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.push": self._views_push,
            "views.update": self._views_update,
        }

        self.add_user(
            bot_user_id,
            self.bot_name,
            tz="America/Los_Angeles",
            is_bot=True,
            real_name=self.bot_name,
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Serve on 127.0.0.1 (ephemeral port); returns the Web API base URL."""
        if self._server is not None:
            return self.url
        handler = type("_BoundHandler", (_Handler,), {"emulator": self})
        server = _Server(("127.0.0.1", 0), handler)
        self._server = server
        port = server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.url = f"{self.base_url}/api/"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"slack-emulator-{port}",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        for hook in list(self.on_stop):
            hook()
        server, thread = self._server, self._thread
        self._server = None
        self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ fixtures

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        tz: str = "UTC",
        email: str | None = None,
        deleted: bool = False,
        is_bot: bool = False,
        real_name: str | None = None,
    ) -> None:
        ZoneInfo(tz)  # fail fast on a zone Slack would never report
        with self._lock:
            self._taken_ids.add(user_id)
            self._users[user_id] = {
                "id": user_id,
                "name": name,
                "real_name": real_name if real_name is not None else name,
                "tz": tz,
                "email": email,
                "deleted": deleted,
                "is_bot": is_bot,
                "updated": int(self._clock()),
            }

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        members: Iterable[str] = (),
        bot_member: bool = True,
        is_archived: bool = False,
    ) -> None:
        """Add an existing channel. The bot is a member unless ``bot_member=False``."""
        member_list = list(dict.fromkeys(members))
        if bot_member and self.bot_user_id not in member_list:
            member_list.insert(0, self.bot_user_id)
        with self._lock:
            self._taken_ids.add(channel_id)
            self._channels[channel_id] = self._new_channel_record(
                channel_id, name, is_private=is_private, members=member_list
            )
            self._channels[channel_id]["is_archived"] = is_archived

    def add_usergroup(self, usergroup_id: str, handle: str, users: Iterable[str]) -> None:
        with self._lock:
            self._taken_ids.add(usergroup_id)
            self._usergroups[usergroup_id] = {
                "id": usergroup_id,
                "handle": handle,
                "users": list(users),
                "disabled": False,
            }

    def add_message(
        self,
        channel_id: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        blocks: list | None = None,
    ) -> str:
        """Post a message as a person (not the bot); returns its ts."""
        with self._lock:
            record = self._channels[channel_id]
            args = {"thread_ts": thread_ts} if thread_ts else {}
            message = self._append_message(
                record, text=text, blocks=blocks, attachments=None, args=args
            )
            message["user"] = user
            message["unfurl_links"] = True
        self.changed()
        return message["ts"]

    def add_member(self, channel_id: str, user_id: str) -> None:
        """Put a person in a channel (joining it, as from Slack's client)."""
        with self._lock:
            members = self._channels[channel_id]["members"]
            if user_id not in members:
                members.append(user_id)
        self.changed()

    def channel_ids(self) -> list[str]:
        """Return every conversation's ID (channels, DMs), oldest first."""
        with self._lock:
            return list(self._channels)

    def next_ts(self) -> str:
        """Return a fresh message timestamp (for what a client shows beside messages)."""
        with self._lock:
            return self._next_ts()

    def changed(self) -> None:
        """Tell the listeners that the workspace changed."""
        for listener in list(self.listeners):
            listener()

    def inject_fault(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int | None = None,
        count: int = 1,
        latency: float = 0.0,
        retry_after: int = 1,
        reset: bool = False,
    ) -> None:
        """Make the next ``count`` calls of ``method`` misbehave.

        ``error`` answers ``{"ok": false, "error": error}`` with HTTP 200; ``status``
        answers that HTTP status (429 carries ``Retry-After`` and ``ratelimited``);
        ``latency`` delays the answer (and on its own lets the call succeed);
        ``reset`` closes the socket without answering. ``method`` may also be
        ``"response_url"`` to affect posts to response URLs.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        fault = _Fault(error, status, count, latency, retry_after, reset)
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    def reset_limits(self) -> None:
        with self._lock:
            self._windows.clear()
            self._buckets.clear()

    def new_response_url(
        self,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        message_ts: str | None = None,
    ) -> str:
        """A response_url on this server (valid 30 minutes, 5 uses).

        With ``channel_id`` the posts also take effect: ``in_channel`` responses
        appear in the channel and ``replace_original``/``delete_original`` act on
        ``message_ts``. Every accepted post is recorded in :attr:`responses`.
        """
        if not self.base_url:
            raise RuntimeError("start() the emulator before issuing response URLs")
        with self._lock:
            key = "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in range(24))
            self._response_urls[key] = _ResponseUrl(self._clock(), channel_id, user_id, message_ts)
        return f"{self.base_url}/_response/{key}"

    def new_trigger_id(self, *, user_id: str | None = None) -> str:
        """A trigger_id exchangeable once within 3 seconds (by the emulator clock)."""
        with self._lock:
            now = self._clock()
            head = int(now * 1000) % 10**10
            middle = self._rng.randrange(10**9, 10**10)
            trigger = f"{head}.{middle}.{self._rng.getrandbits(128):032x}"
            self._triggers[trigger] = _Trigger(now, user_id)
        return trigger

    def snapshot(self) -> dict:
        """Return the workspace (people, channels, members, messages, groups) as JSON data."""
        with self._lock:
            return copy.deepcopy(
                {
                    "users": self._users,
                    "channels": self._channels,
                    "dms": [[list(key), cid] for key, cid in self._dm_by_key.items()],
                    "usergroups": self._usergroups,
                    "taken_ids": sorted(self._taken_ids),
                    "last_ts_us": self._last_ts_us,
                }
            )

    def restore(self, data: dict) -> None:
        """Replace the workspace with one :meth:`snapshot` returned."""
        with self._lock:
            self._users = copy.deepcopy(data["users"])
            self._channels = copy.deepcopy(data["channels"])
            self._dm_by_key = {tuple(key): cid for key, cid in data["dms"]}
            self._usergroups = copy.deepcopy(data["usergroups"])
            self._taken_ids = set(data["taken_ids"])
            self._last_ts_us = max(self._last_ts_us, int(data["last_ts_us"]))
        self.changed()

    # ------------------------------------------------------------------ inspection

    def user(self, user_id: str) -> dict | None:
        """The user as stored (id, name, real_name, tz, email, deleted, is_bot)."""
        with self._lock:
            user = self._users.get(user_id)
            return dict(user) if user else None

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def messages(self, channel: str) -> list[dict]:
        with self._lock:
            record = self._channels.get(channel)
            if record is None:
                return []
            return [self._message_view(message) for message in record["messages"]]

    def channel(self, channel_id: str) -> dict | None:
        with self._lock:
            record = self._channels.get(channel_id)
            return self._channel_view(record) if record else None

    def channel_by_name(self, name: str) -> dict | None:
        name = name.lstrip("#")
        with self._lock:
            for record in self._channels.values():
                if not record["is_im"] and not record["is_mpim"] and record["name"] == name:
                    return self._channel_view(record)
        return None

    def open_views(self, user_id: str | None) -> list[dict]:
        """The user's modal stack, root first."""
        with self._lock:
            return [copy.deepcopy(self.views[v]) for v in self._view_stacks.get(user_id, [])]

    def apply_view_response(self, user_id: str | None, view_id: str, response: Any) -> None:
        """Apply a view_submission acknowledgement the way Slack's client does."""
        action = response.get("response_action") if isinstance(response, dict) else None
        with self._lock:
            stack = self._view_stacks.setdefault(user_id, [])
            if action == "errors":
                return
            if action == "clear":
                stack.clear()
            elif action == "update" and view_id in self.views:
                view = dict(response.get("view") or {})
                self.views[view_id] = self._build_view(
                    view_id,
                    view,
                    root=self.views[view_id]["root_view_id"],
                    previous=self.views[view_id]["previous_view_id"],
                )
            elif action == "push":
                view_id_new = self._new_id("V")
                root = stack[0] if stack else view_id_new
                self.views[view_id_new] = self._build_view(
                    view_id_new, dict(response.get("view") or {}), root=root, previous=view_id
                )
                self._view_owner[view_id_new] = user_id
                stack.append(view_id_new)
            elif view_id in stack:
                del stack[stack.index(view_id) :]

    # ------------------------------------------------------------------ helpers

    def _new_id(self, prefix: str) -> str:
        while True:
            candidate = prefix + "".join(self._rng.choice(_ID_CHARS) for _ in range(10))
            if candidate not in self._taken_ids:
                self._taken_ids.add(candidate)
                return candidate

    def _next_ts(self) -> str:
        micros = max(int(self._clock() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _new_channel_record(
        self, channel_id: str, name: str, *, is_private: bool, members: list[str]
    ) -> dict:
        return {
            "id": channel_id,
            "name": name,
            "is_private": is_private,
            "is_archived": False,
            "is_im": False,
            "is_mpim": False,
            "user": None,
            "members": list(members),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "pins": [],
            "bookmarks": [],
            "messages": [],
            "created": int(self._clock()),
            "creator": self.bot_user_id,
        }

    def _channel_view(self, record: dict) -> dict:
        return {
            "id": record["id"],
            "name": record["name"],
            "is_private": record["is_private"],
            "is_archived": record["is_archived"],
            "is_im": record["is_im"],
            "is_mpim": record["is_mpim"],
            "user": record["user"],
            "members": list(record["members"]),
            "topic": record["topic"]["value"],
            "purpose": record["purpose"]["value"],
            "pins": list(record["pins"]),
            "bookmarks": copy.deepcopy(record["bookmarks"]),
            "created": record["created"],
            "creator": record["creator"],
        }

    def _message_view(self, message: dict) -> dict:
        out = copy.deepcopy(message)
        out["pinned"] = bool(message.get("pinned"))
        return out

    def _channel_object(self, record: dict, *, num_members: bool = False) -> dict:
        """A conversation object shaped like Slack's."""
        if record["is_im"]:
            user = self._users.get(record["user"], {})
            return {
                "id": record["id"],
                "created": record["created"],
                "is_im": True,
                "is_org_shared": False,
                "user": record["user"],
                "is_user_deleted": bool(user.get("deleted")),
                "priority": 0,
            }
        obj = {
            "id": record["id"],
            "name": record["name"],
            "is_channel": not record["is_mpim"],
            "is_group": record["is_mpim"],
            "is_im": False,
            "is_mpim": record["is_mpim"],
            "is_private": record["is_private"],
            "created": record["created"],
            "is_archived": record["is_archived"],
            "is_general": False,
            "unlinked": 0,
            "name_normalized": record["name"],
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": self.team_id,
            "updated": record["created"] * 1000,
            "parent_conversation": None,
            "creator": record["creator"],
            "is_member": self.bot_user_id in record["members"],
            "topic": dict(record["topic"]),
            "purpose": dict(record["purpose"]),
            "previous_names": [],
        }
        if num_members:
            obj["num_members"] = len(record["members"])
        return obj

    def _user_object(self, user: dict) -> dict:
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        local = now.astimezone(ZoneInfo(user["tz"]))
        offset = local.utcoffset()
        abbreviation = local.tzname() or user["tz"]
        profile = {
            "real_name": user["real_name"],
            "real_name_normalized": user["real_name"],
            "display_name": user["name"],
            "display_name_normalized": user["name"],
            "team": self.team_id,
        }
        if user["email"]:
            profile["email"] = user["email"]
        if user["is_bot"]:
            own = user["id"] == self.bot_user_id
            profile["bot_id"] = self.bot_id if own else "B" + user["id"][1:]
        return {
            "id": user["id"],
            "team_id": self.team_id,
            "name": user["name"],
            "deleted": user["deleted"],
            "real_name": user["real_name"],
            "tz": user["tz"],
            "tz_label": _TZ_LABELS.get(abbreviation, abbreviation),
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user["is_bot"],
            "is_app_user": False,
            "updated": user["updated"],
        }

    def _visible(self, record: dict) -> bool:
        """Private conversations the bot is not in do not exist for it."""
        return not record["is_private"] or self.bot_user_id in record["members"]

    def _conversation(self, channel_id: str | None, *, allow_hidden: bool = False) -> dict:
        if not channel_id:
            raise SlackError("channel_not_found")
        record = self._channels.get(channel_id)
        if record is None or (not allow_hidden and not self._visible(record)):
            raise SlackError("channel_not_found")
        return record

    def _require_member(self, record: dict) -> None:
        if self.bot_user_id not in record["members"]:
            raise SlackError("not_in_channel")

    def _require_channel_type(self, record: dict) -> None:
        if record["is_im"] or record["is_mpim"]:
            raise SlackError("method_not_supported_for_channel_type")

    def _find_message(self, record: dict, ts: str | None) -> dict:
        for message in record["messages"]:
            if message["ts"] == ts:
                return message
        raise SlackError("message_not_found")

    def _open_dm(self, user_ids: list[str]) -> tuple[dict, bool]:
        for user_id in user_ids:
            user = self._users.get(user_id)
            if user is None:
                raise SlackError("user_not_found")
            if user["deleted"]:
                raise SlackError("user_disabled")
            if user["is_bot"] and len(user_ids) == 1:
                raise SlackError("cannot_dm_bot")
        key = tuple(sorted(set(user_ids)))
        existing = self._dm_by_key.get(key)
        if existing is not None:
            return self._channels[existing], True
        if len(key) == 1:
            channel_id = self._new_id("D")
            record = self._new_channel_record(
                channel_id, key[0], is_private=True, members=[self.bot_user_id, key[0]]
            )
            record["is_im"] = True
            record["user"] = key[0]
        else:
            channel_id = self._new_id("G")
            names = [self.bot_name] + [self._users[u]["name"] for u in key]
            record = self._new_channel_record(
                channel_id,
                "mpdm-" + "--".join(names) + "-1",
                is_private=True,
                members=[self.bot_user_id, *key],
            )
            record["is_mpim"] = True
        self._channels[channel_id] = record
        self._dm_by_key[key] = channel_id
        return record, False

    def _message_target(self, channel: str | None) -> dict:
        """chat.postMessage accepts channel IDs, user IDs (the DM) and channel names."""
        if not channel:
            raise SlackError("channel_not_found")
        record = self._channels.get(channel)
        if record is not None:
            return record
        if channel in self._users:
            try:
                record, _ = self._open_dm([channel])
            except SlackError as refusal:
                if refusal.error == "user_not_found":
                    raise SlackError("channel_not_found") from None
                raise
            return record
        name = channel.lstrip("#")
        for record in self._channels.values():
            if not record["is_im"] and not record["is_mpim"] and record["name"] == name:
                if not self._visible(record):
                    break
                return record
        raise SlackError("channel_not_found")

    def _message_content(self, args: dict, *, required: bool = True) -> tuple:
        text = _text_arg(args, "text")
        blocks = _json_arg(args.get("blocks"), "invalid_blocks_format")
        attachments = _json_arg(args.get("attachments"), "invalid_attachments")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if attachments is not None and not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        if required and not text and not blocks and not attachments:
            raise SlackError("no_text")
        if text is not None and len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if blocks:
            _check_message_blocks(blocks)
        if attachments and len(attachments) > 100:
            raise SlackError("too_many_attachments")
        return text, blocks, attachments

    def _public_message(self, message: dict) -> dict:
        out = {
            "type": "message",
            "user": message["user"],
            "text": message["text"],
            "ts": message["ts"],
            "team": self.team_id,
        }
        if message["user"] == self.bot_user_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = self.app_id
        if message.get("blocks"):
            out["blocks"] = copy.deepcopy(message["blocks"])
        if message.get("attachments"):
            out["attachments"] = copy.deepcopy(message["attachments"])
        if message.get("thread_ts"):
            out["thread_ts"] = message["thread_ts"]
        if message.get("reply_count"):
            out["reply_count"] = message["reply_count"]
        if message.get("edited"):
            out["edited"] = dict(message["edited"])
        if message.get("pinned"):
            out["pinned_to"] = [message["channel"]]
        return out

    def _append_message(self, record: dict, *, text, blocks, attachments, args: dict) -> dict:
        thread_ts = _text_arg(args, "thread_ts") or None
        if thread_ts:
            # a reply to a reply lands in the parent's thread
            for parent in record["messages"]:
                if parent["ts"] == thread_ts:
                    thread_ts = parent.get("thread_ts") or parent["ts"]
                    parent["thread_ts"] = thread_ts
                    break
        message = {
            "ts": self._next_ts(),
            "channel": record["id"],
            "user": self.bot_user_id,
            "text": text or "",
            "blocks": blocks or [],
            "attachments": attachments or [],
            "thread_ts": thread_ts,
            "reply_broadcast": _truthy(args.get("reply_broadcast")),
            "pinned": False,
            "unfurl_links": _truthy(args["unfurl_links"]) if "unfurl_links" in args else False,
            "unfurl_media": _truthy(args["unfurl_media"]) if "unfurl_media" in args else True,
            "metadata": _json_arg(args.get("metadata"), "invalid_metadata_format"),
            "username": _text_arg(args, "username"),
            "icon_emoji": _text_arg(args, "icon_emoji"),
            "icon_url": _text_arg(args, "icon_url"),
            "mrkdwn": _truthy(args["mrkdwn"]) if "mrkdwn" in args else True,
            "reply_count": 0,
            "edited": None,
        }
        if thread_ts:
            for parent in record["messages"]:
                if parent["ts"] == thread_ts:
                    parent["reply_count"] = parent.get("reply_count", 0) + 1
        record["messages"].append(message)
        return message

    # ------------------------------------------------------------------ HTTP routing

    def _route(self, verb: str, path: str, query: str, headers, body: bytes):
        if path.startswith("/api/"):
            return self._web_api(path[len("/api/") :], verb, query, headers, body)
        if path.startswith("/_response/"):
            if verb != "POST":
                return 405, {"Content-Type": "text/plain", "Allow": "POST"}, b"method not allowed"
            return self._response_url(path[len("/_response/") :], headers, body)
        return 404, {"Content-Type": "text/plain"}, b"not found"

    def _parse_args(self, verb: str, query: str, headers, body: bytes) -> tuple[dict, bool]:
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        is_json = False
        if verb == "POST" and body:
            content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type == "application/json":
                try:
                    data = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise SlackError("invalid_json") from None
                if not isinstance(data, dict):
                    raise SlackError("invalid_json")
                args.update(data)
                is_json = True
            elif content_type in ("application/x-www-form-urlencoded", "text/plain"):
                try:
                    args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                except UnicodeDecodeError:
                    raise SlackError("invalid_form_data") from None
            elif content_type == "":
                raise SlackError("missing_post_type")
            else:
                raise SlackError("invalid_post_type")
        return args, is_json

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault

    def _record(self, method: str, args: dict, ok: bool, error: str | None, status: int) -> None:
        clean = {k: v for k, v in args.items() if k != "token"}
        with self._lock:
            self.calls.append(Call(method, clean, ok, error, self._clock(), status))
        self.changed()

    def _fault_response(self, method: str, args: dict, fault: _Fault):
        if fault.latency > 0:
            time.sleep(fault.latency)
        if fault.reset:
            self._record(method, args, False, "connection_reset", 0)
            return _RESET
        if fault.status is not None:
            if fault.status == 429:
                error = fault.error or "ratelimited"
                headers = {"Retry-After": str(max(1, int(fault.retry_after)))}
            else:
                default = "service_unavailable" if fault.status == 503 else "internal_error"
                error = fault.error or default
                headers = {}
            self._record(method, args, False, error, fault.status)
            return _json_response(fault.status, {"ok": False, "error": error}, headers)
        if fault.error is not None:
            self._record(method, args, False, fault.error, 200)
            return _json_response(200, {"ok": False, "error": fault.error})
        return None

    def _web_api(self, method: str, verb: str, query: str, headers, body: bytes):
        handler = self._methods.get(method) or self.app_methods.get(method)
        if handler is None:
            self._record(method, {}, False, "unknown_method", 404)
            return _json_response(404, {"ok": False, "error": "unknown_method"})
        try:
            args, is_json = self._parse_args(verb, query, headers, body)
        except SlackError as refusal:
            self._record(method, {}, False, refusal.error, 200)
            return _json_response(200, {"ok": False, "error": refusal.error})

        fault = self._take_fault(method)
        if fault is not None:
            answer = self._fault_response(method, args, fault)
            if answer is not None:
                return answer

        # Authentication: bearer header, or a `token` argument (never inside JSON bodies).
        token = None
        authorization = headers.get("Authorization") or ""
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        elif not is_json:
            token = _text_arg(args, "token")
        if not token:
            self._record(method, args, False, "not_authed", 200)
            return _json_response(200, {"ok": False, "error": "not_authed"})
        refused = self._token_refusal(method, token)
        if refused is not None:
            self._record(method, args, False, refused, 200)
            return _json_response(200, {"ok": False, "error": refused})

        with self._lock:
            retry_after = self._rate_limit(method, args)
            if retry_after is not None:
                self._record(method, args, False, "ratelimited", 429)
                return _json_response(
                    429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
                )
            try:
                result = handler(args)
            except SlackError as refusal:
                self._record(method, args, False, refusal.error, 200)
                return _json_response(200, {"ok": False, "error": refusal.error, **refusal.extra})
            except Exception:
                self.server_errors.append(traceback.format_exc())
                self._record(method, args, False, "internal_error", 500)
                return _json_response(500, {"ok": False, "error": "internal_error"})
            ok = bool(result.get("ok", True))
            payload = {"ok": ok, **{k: v for k, v in result.items() if k != "ok"}}
            self._record(method, args, ok, None if ok else payload.get("error"), 200)
            return _json_response(200, payload)

    def _token_refusal(self, method: str, token: str) -> str | None:
        """Slack's error for a token of the wrong kind or value for ``method``, else None."""
        if method in self.app_methods:
            if not token.startswith("xapp-"):
                return "not_allowed_token_type"
            return None if token == self.app_token else "invalid_auth"
        if token.startswith("xapp-") and token == self.app_token:
            return "not_allowed_token_type"
        return None if token == self.bot_token else "invalid_auth"

    def _rate_limit(self, method: str, args: dict) -> int | None:
        """Seconds to wait when the call is over its limit, else None (and count it)."""
        if not self.rate_limits:
            return None
        now = self._clock()
        if method == "chat.postMessage":
            key = _text_arg(args, "channel") or ""
            record = self._channels.get(key)
            if record is None and key in self._users:
                dm = self._dm_by_key.get((key,))
                key = dm or key
            tokens, last = self._buckets.get(key, (float(POST_MESSAGE_BURST), now))
            refill = max(0.0, now - last) * POST_MESSAGE_RATE
            tokens = min(float(POST_MESSAGE_BURST), tokens + refill)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / POST_MESSAGE_RATE))
            self._buckets[key] = (tokens - 1.0, now)
            return None
        tier = METHOD_TIERS.get(method)
        if tier is None:
            return None
        window = self._windows.setdefault(method, deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= TIER_LIMITS[tier]:
            return max(1, math.ceil(window[0] + 60.0 - now))
        window.append(now)
        return None

    # ------------------------------------------------------------------ response_url

    def _response_url(self, key: str, headers, body: bytes):
        fault = self._take_fault("response_url")
        if fault is not None:
            if fault.latency > 0:
                time.sleep(fault.latency)
            if fault.reset:
                return _RESET
            if fault.status is not None:
                extra = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
                return _json_response(
                    fault.status, {"ok": False, "error": fault.error or "internal_error"}, extra
                )
            if fault.error is not None:
                return _json_response(404, {"ok": False, "error": fault.error})
        url = f"{self.base_url}/_response/{key}"
        with self._lock:
            entry = self._response_urls.get(key)
            if entry is None:
                return _json_response(404, {"ok": False, "error": "no_service"})
            if self._clock() - entry.issued > RESPONSE_URL_LIFETIME:
                return _json_response(404, {"ok": False, "error": "expired_url"})
            if entry.uses >= RESPONSE_URL_USES:
                return _json_response(404, {"ok": False, "error": "used_url"})
            try:
                payload = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return _json_response(400, {"ok": False, "error": "invalid_payload"})
            if not isinstance(payload, dict):
                return _json_response(400, {"ok": False, "error": "invalid_payload"})
            deleting = _truthy(payload.get("delete_original"))
            if not deleting and not payload.get("text") and not payload.get("blocks"):
                return _json_response(400, {"ok": False, "error": "no_text"})
            if payload.get("blocks"):
                try:
                    _check_message_blocks(payload["blocks"])
                except SlackError as refusal:
                    answer = {"ok": False, "error": refusal.error, **refusal.extra}
                    return _json_response(400, answer)
            entry.uses += 1
            self.responses.append({"url": url, "payload": payload})
            self.response_posts.append(
                {
                    "payload": payload,
                    "channel": entry.channel_id,
                    "user": entry.user_id,
                    "ts": self._next_ts(),
                }
            )
            self._apply_response(entry, payload)
        self.changed()
        return _json_response(200, {"ok": True})

    def _apply_response(self, entry: _ResponseUrl, payload: dict) -> None:
        record = self._channels.get(entry.channel_id or "")
        if record is None:
            return
        original = None
        if entry.message_ts:
            original = next((m for m in record["messages"] if m["ts"] == entry.message_ts), None)
        if _truthy(payload.get("delete_original")):
            if original is not None:
                record["messages"].remove(original)
            return
        if _truthy(payload.get("replace_original")) and original is not None:
            original["text"] = payload.get("text") or ""
            original["blocks"] = payload.get("blocks") or []
            original["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            return
        if payload.get("response_type") == "in_channel":
            self._append_message(
                record,
                text=payload.get("text"),
                blocks=payload.get("blocks"),
                attachments=payload.get("attachments"),
                args={"thread_ts": payload.get("thread_ts")} if payload.get("thread_ts") else {},
            )

    # ------------------------------------------------------------------ methods: auth

    def _api_test(self, args: dict) -> dict:
        out = {k: v for k, v in args.items() if k != "token"}
        return {"args": out} if out else {}

    def _auth_test(self, args: dict) -> dict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    # ------------------------------------------------------------------ methods: conversations

    def _conversations_create(self, args: dict) -> dict:
        name = _text_arg(args, "name") or ""
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > MAX_NAME:
            raise SlackError("invalid_name_maxlength")
        if not _NAME_OK.fullmatch(name):
            raise SlackError("invalid_name_specials")
        if not re.search(r"[a-z0-9]", name):
            raise SlackError("invalid_name_punctuation")
        if name in _RESERVED_NAMES:
            raise SlackError("invalid_name")
        for record in self._channels.values():
            if not record["is_im"] and not record["is_mpim"] and record["name"] == name:
                raise SlackError("name_taken")
        channel_id = self._new_id("C")
        record = self._new_channel_record(
            channel_id, name, is_private=_truthy(args.get("is_private")), members=[self.bot_user_id]
        )
        self._channels[channel_id] = record
        return {"channel": self._channel_object(record)}

    def _conversations_info(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        return {
            "channel": self._channel_object(
                record, num_members=_truthy(args.get("include_num_members"))
            )
        }

    def _conversations_list(self, args: dict) -> dict:
        types = set(_id_list(args.get("types")) or ["public_channel"])
        exclude_archived = _truthy(args.get("exclude_archived"))
        selected = []
        for record in self._channels.values():
            if record["is_im"]:
                kind = "im"
            elif record["is_mpim"]:
                kind = "mpim"
            else:
                kind = "private_channel" if record["is_private"] else "public_channel"
            if kind not in types or not self._visible(record):
                continue
            if exclude_archived and record["is_archived"]:
                continue
            selected.append(record)
        page, cursor = _paginate(selected, lambda r: r["id"], args, "id", 100, 1000)
        return {
            "channels": [self._channel_object(r) for r in page],
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_members(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        page, cursor = _paginate(list(record["members"]), str, args, "user", 100, 1000)
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def _conversations_invite(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        self._require_channel_type(record)
        if record["is_archived"]:
            raise SlackError("is_archived")
        self._require_member(record)
        users = list(dict.fromkeys(_id_list(args.get("users"))))
        if not users:
            raise SlackError("no_user")
        if len(users) > MAX_INVITE:
            raise SlackError("too_many_users")
        valid: list[str] = []
        errors: list[dict] = []
        for user_id in users:
            user = self._users.get(user_id)
            if user is None:
                error = "user_not_found"
            elif user_id == self.bot_user_id:
                error = "cant_invite_self"
            elif user["deleted"]:
                error = "cant_invite"
            elif user_id in record["members"]:
                error = "already_in_channel"
            else:
                valid.append(user_id)
                continue
            errors.append({"user": user_id, "ok": False, "error": error})
        force = _truthy(args.get("force"))
        if errors and (not force or not valid):
            raise SlackError(errors[0]["error"], errors=errors)
        record["members"].extend(valid)
        out: dict[str, Any] = {"channel": self._channel_object(record)}
        if errors:
            out["errors"] = errors
        return out

    def _conversations_kick(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        self._require_channel_type(record)
        self._require_member(record)
        user_id = _text_arg(args, "user")
        if not user_id or user_id not in self._users:
            raise SlackError("user_not_found")
        if user_id == self.bot_user_id:
            raise SlackError("cant_kick_self")
        if user_id not in record["members"]:
            raise SlackError("not_in_channel")
        record["members"].remove(user_id)
        return {}

    def _conversations_join(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        if record["is_im"] or record["is_mpim"] or record["is_private"]:
            raise SlackError("method_not_supported_for_channel_type")
        if record["is_archived"]:
            raise SlackError("is_archived")
        out: dict[str, Any] = {}
        if self.bot_user_id in record["members"]:
            out["warning"] = "already_in_channel"
            out["response_metadata"] = {"warnings": ["already_in_channel"]}
        else:
            record["members"].append(self.bot_user_id)
        out["channel"] = self._channel_object(record)
        return out

    def _conversations_archive(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        self._require_channel_type(record)
        if record["is_archived"]:
            raise SlackError("already_archived")
        self._require_member(record)
        record["is_archived"] = True
        return {}

    def _conversations_unarchive(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        self._require_channel_type(record)
        if not record["is_archived"]:
            raise SlackError("not_archived")
        self._require_member(record)
        record["is_archived"] = False
        return {}

    def _set_topic_or_purpose(self, args: dict, field: str) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        if record["is_archived"]:
            raise SlackError("is_archived")
        self._require_member(record)
        value = _text_arg(args, field)
        if value is None:
            raise SlackError("invalid_arguments")
        if len(value) > MAX_TOPIC:
            raise SlackError("too_long")
        now = int(self._clock())
        record[field] = {"value": value, "creator": self.bot_user_id, "last_set": now}
        return {"channel": self._channel_object(record)}

    def _conversations_set_topic(self, args: dict) -> dict:
        return self._set_topic_or_purpose(args, "topic")

    def _conversations_set_purpose(self, args: dict) -> dict:
        out = self._set_topic_or_purpose(args, "purpose")
        out["purpose"] = out["channel"]["purpose"]["value"]
        return out

    def _conversations_open(self, args: dict) -> dict:
        channel_id = _text_arg(args, "channel")
        if channel_id:
            record = self._conversation(channel_id)
            if not (record["is_im"] or record["is_mpim"]):
                raise SlackError("method_not_supported_for_channel_type")
            already = True
        else:
            users = [u for u in dict.fromkeys(_id_list(args.get("users"))) if u != self.bot_user_id]
            if not users:
                raise SlackError("users_list_not_supplied")
            if len(users) > 8:
                raise SlackError("too_many_users")
            record, already = self._open_dm(users)
        if _truthy(args.get("return_im")) or not record["is_im"]:
            channel = self._channel_object(record)
        else:
            channel = {"id": record["id"]}
        out: dict[str, Any] = {"channel": channel}
        if already:
            out["no_op"] = True
            out["already_open"] = True
        return out

    def _conversations_history(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        latest = float(_text_arg(args, "latest") or "inf")
        oldest = float(_text_arg(args, "oldest") or "0")
        inclusive = _truthy(args.get("inclusive"))
        selected = []
        for message in reversed(record["messages"]):
            is_reply = message["thread_ts"] and message["thread_ts"] != message["ts"]
            if is_reply and not message.get("reply_broadcast"):
                continue
            ts = float(message["ts"])
            inside = oldest <= ts <= latest if inclusive else oldest < ts < latest
            if inside:
                selected.append(message)
        page, cursor = _paginate(selected, lambda m: m["ts"], args, "next_ts", 100, 999)
        messages = [self._public_message(m) for m in page]
        if _truthy(args.get("include_all_metadata")):
            for public, message in zip(messages, page, strict=True):
                if message.get("metadata"):
                    public["metadata"] = copy.deepcopy(message["metadata"])
        return {
            "messages": messages,
            "has_more": bool(cursor),
            "pin_count": len(record["pins"]),
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_replies(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        ts = _text_arg(args, "ts")
        parent = self._find_message(record, ts)
        root = parent.get("thread_ts") or parent["ts"]
        thread = [m for m in record["messages"] if m["ts"] == root or m["thread_ts"] == root]
        page, cursor = _paginate(thread, lambda m: m["ts"], args, "next_ts", 100, 999)
        return {
            "messages": [self._public_message(m) for m in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    # ------------------------------------------------------------------ methods: chat

    def _chat_post_message(self, args: dict) -> dict:
        record = self._message_target(_text_arg(args, "channel"))
        if record["is_archived"]:
            raise SlackError("is_archived")
        if record["is_private"] and self.bot_user_id not in record["members"]:
            raise SlackError("not_in_channel")
        text, blocks, attachments = self._message_content(args)
        message = self._append_message(
            record, text=text, blocks=blocks, attachments=attachments, args=args
        )
        return {
            "channel": record["id"],
            "ts": message["ts"],
            "message": self._public_message(message),
        }

    def _chat_post_ephemeral(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"), allow_hidden=True)
        if record["is_archived"]:
            raise SlackError("is_archived")
        if record["is_private"] and self.bot_user_id not in record["members"]:
            raise SlackError("not_in_channel")
        user_id = _text_arg(args, "user")
        if not user_id or user_id not in record["members"]:
            raise SlackError("user_not_in_channel")
        text, blocks, _attachments = self._message_content(args)
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": record["id"],
                "user": user_id,
                "text": text or "",
                "blocks": blocks or [],
                "ts": ts,
                "thread_ts": _text_arg(args, "thread_ts") or None,
            }
        )
        return {"message_ts": ts}

    def _chat_update(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        message = self._find_message(record, _text_arg(args, "ts"))
        if message["user"] != self.bot_user_id:
            raise SlackError("cant_update_message")
        if record["is_archived"]:
            raise SlackError("is_archived")
        text, blocks, attachments = self._message_content(args)
        if text is not None:
            message["text"] = text
        if "blocks" in args:
            message["blocks"] = blocks or []
        if "attachments" in args:
            message["attachments"] = attachments or []
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        public = self._public_message(message)
        return {
            "channel": record["id"],
            "ts": message["ts"],
            "text": message["text"],
            "message": public,
        }

    def _chat_delete(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        message = self._find_message(record, _text_arg(args, "ts"))
        if message["user"] != self.bot_user_id:
            raise SlackError("cant_delete_message")
        record["messages"].remove(message)
        if message["ts"] in record["pins"]:
            record["pins"].remove(message["ts"])
        return {"channel": record["id"], "ts": message["ts"]}

    def _chat_get_permalink(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        message = self._find_message(record, _text_arg(args, "message_ts"))
        digits = message["ts"].replace(".", "")
        link = f"https://{self.team_domain}.slack.com/archives/{record['id']}/p{digits}"
        if message["thread_ts"] and message["thread_ts"] != message["ts"]:
            link += f"?thread_ts={message['thread_ts']}&cid={record['id']}"
        return {"channel": record["id"], "permalink": link}

    # ------------------------------------------------------------------ methods: pins, bookmarks

    def _pins_add(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        ts = _text_arg(args, "timestamp")
        if not ts:
            raise SlackError("no_item_specified")
        self._require_member(record)
        if record["is_archived"]:
            raise SlackError("is_archived")
        message = self._find_message(record, ts)
        if message["pinned"]:
            raise SlackError("already_pinned")
        message["pinned"] = True
        record["pins"].append(ts)
        return {}

    def _pins_remove(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        ts = _text_arg(args, "timestamp")
        if not ts:
            raise SlackError("no_item_specified")
        self._require_member(record)
        message = self._find_message(record, ts)
        if not message["pinned"]:
            raise SlackError("no_pin")
        message["pinned"] = False
        record["pins"].remove(ts)
        return {}

    def _pins_list(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel"))
        items = []
        for ts in reversed(record["pins"]):
            message = self._find_message(record, ts)
            items.append(
                {
                    "type": "message",
                    "created": int(self._clock()),
                    "created_by": self.bot_user_id,
                    "channel": record["id"],
                    "message": self._public_message(message),
                }
            )
        return {"items": items}

    def _bookmarks_add(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel_id"))
        title = _text_arg(args, "title")
        kind = _text_arg(args, "type")
        if not title:
            raise SlackError("invalid_arguments")
        if kind != "link":
            raise SlackError("invalid_bookmark_type")
        link = _text_arg(args, "link") or ""
        if not re.match(r"https?://\S+$", link):
            raise SlackError("invalid_link")
        if record["is_archived"]:
            raise SlackError("is_archived")
        self._require_member(record)
        now = int(self._clock())
        bookmark = {
            "id": self._new_id("Bk"),
            "channel_id": record["id"],
            "title": title,
            "link": link,
            "emoji": _text_arg(args, "emoji"),
            "icon_url": None,
            "type": "link",
            "entity_id": _text_arg(args, "entity_id"),
            "date_created": now,
            "date_updated": 0,
            "rank": chr(ord("U") + len(record["bookmarks"]) % 5),
            "last_updated_by_user_id": self.bot_user_id,
            "last_updated_by_team_id": self.team_id,
            "shortcut_id": None,
            "app_id": self.app_id,
        }
        record["bookmarks"].append(bookmark)
        return {"bookmark": dict(bookmark)}

    def _bookmarks_list(self, args: dict) -> dict:
        record = self._conversation(_text_arg(args, "channel_id"))
        return {"bookmarks": copy.deepcopy(record["bookmarks"])}

    # ------------------------------------------------------------------ methods: users

    def _users_info(self, args: dict) -> dict:
        user = self._users.get(_text_arg(args, "user") or "")
        if user is None:
            raise SlackError("user_not_found")
        return {"user": self._user_object(user)}

    def _users_list(self, args: dict) -> dict:
        users = list(self._users.values())
        page, cursor = _paginate(users, lambda u: u["id"], args, "user", 1000, 1000)
        return {
            "members": [self._user_object(u) for u in page],
            "cache_ts": int(self._clock()),
            "response_metadata": {"next_cursor": cursor},
        }

    def _users_lookup_by_email(self, args: dict) -> dict:
        email = (_text_arg(args, "email") or "").strip().lower()
        for user in self._users.values():
            if email and (user["email"] or "").lower() == email and not user["deleted"]:
                return {"user": self._user_object(user)}
        raise SlackError("users_not_found")

    def _usergroups_users_list(self, args: dict) -> dict:
        group = self._usergroups.get(_text_arg(args, "usergroup") or "")
        if group is None:
            raise SlackError("no_such_subteam")
        if group["disabled"] and not _truthy(args.get("include_disabled")):
            raise SlackError("no_such_subteam")
        return {"users": list(group["users"])}

    # ------------------------------------------------------------------ methods: views

    def _parse_view(self, args: dict, *, expected: tuple[str, ...]) -> dict:
        view = _json_arg(args.get("view"), "invalid_arguments")
        if not isinstance(view, dict):
            messages = ["[ERROR] missing required field: view"]
            raise SlackError("invalid_arguments", response_metadata={"messages": messages})
        checker = _BlockChecker()
        kind = view.get("type")
        if kind not in expected:
            checker.fail(f"must be one of {', '.join(expected)}", "/view/type")
        if kind == "modal":
            checker.text(view.get("title"), "/view/title", max_len=24, plain_only=True)
            for button in ("submit", "close"):
                if view.get(button) is not None:
                    checker.text(view[button], f"/view/{button}", max_len=24, plain_only=True)
            blocks = view.get("blocks")
            has_input = isinstance(blocks, list) and any(
                isinstance(b, dict) and b.get("type") == "input" for b in blocks
            )
            if has_input and not view.get("submit"):
                checker.fail("must provide a submit property when using input blocks", "/view")
        if "blocks" not in view:
            checker.fail("missing required field: blocks", "/view")
        else:
            checker.blocks(view["blocks"], max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks")
        if len(str(view.get("private_metadata") or "")) > 3000:
            checker.fail("must be less than 3001 characters", "/view/private_metadata")
        if len(str(view.get("callback_id") or "")) > 255:
            checker.fail("must be less than 256 characters", "/view/callback_id")
        if len(str(view.get("external_id") or "")) > 255:
            checker.fail("must be less than 256 characters", "/view/external_id")
        if len(json.dumps(view)) > 250_000:
            raise SlackError("view_too_large")
        if checker.errors:
            raise SlackError("invalid_arguments", response_metadata={"messages": checker.errors})
        return view

    def _consume_trigger(self, trigger_id: str | None) -> _Trigger:
        if not trigger_id:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["invalid `trigger_id`"]}
            )
        if not _TRIGGER_RE.fullmatch(trigger_id):
            raise SlackError("invalid_trigger_id")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("expired_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self._clock() - trigger.issued > TRIGGER_LIFETIME:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _build_view(self, view_id: str, view: dict, *, root: str, previous: str | None) -> dict:
        kind = view.get("type", "modal")
        built = {
            "id": view_id,
            "team_id": self.team_id,
            "type": kind,
            "blocks": copy.deepcopy(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "state": {"values": {}},
            "hash": f"{int(self._clock())}.{self._rng.getrandbits(32):08x}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "external_id": view.get("external_id") or "",
            "root_view_id": root,
            "previous_view_id": previous,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if kind == "modal":
            built["title"] = copy.deepcopy(view.get("title"))
            built["close"] = copy.deepcopy(view.get("close"))
            built["submit"] = copy.deepcopy(view.get("submit"))
        return built

    def _claim_external_id(self, view: dict, view_id: str) -> None:
        external_id = view.get("external_id")
        if not external_id:
            return
        owner = self._external_ids.get(external_id)
        if owner is not None and owner != view_id:
            raise SlackError("duplicate_external_id")

    def _store_view(self, view_id: str, built: dict) -> None:
        previous = self.views.get(view_id)
        if previous and previous["external_id"]:
            self._external_ids.pop(previous["external_id"], None)
        if built["external_id"]:
            self._external_ids[built["external_id"]] = view_id
        self.views[view_id] = built

    def _views_open(self, args: dict) -> dict:
        view = self._parse_view(args, expected=("modal",))
        self._claim_external_id(view, "")
        trigger = self._consume_trigger(_text_arg(args, "trigger_id"))
        view_id = self._new_id("V")
        built = self._build_view(view_id, view, root=view_id, previous=None)
        self._store_view(view_id, built)
        self._view_owner[view_id] = trigger.user_id
        self._view_stacks[trigger.user_id] = [view_id]
        return {"view": copy.deepcopy(built)}

    def _views_push(self, args: dict) -> dict:
        view = self._parse_view(args, expected=("modal",))
        self._claim_external_id(view, "")
        trigger = self._consume_trigger(_text_arg(args, "trigger_id"))
        stack = self._view_stacks.setdefault(trigger.user_id, [])
        if len(stack) >= 3:
            raise SlackError("push_limit_reached")
        view_id = self._new_id("V")
        root = stack[0] if stack else view_id
        built = self._build_view(view_id, view, root=root, previous=stack[-1] if stack else None)
        self._store_view(view_id, built)
        self._view_owner[view_id] = trigger.user_id
        stack.append(view_id)
        return {"view": copy.deepcopy(built)}

    def _views_update(self, args: dict) -> dict:
        view_id = _text_arg(args, "view_id")
        external_id = _text_arg(args, "external_id")
        if not view_id and not external_id:
            messages = ["[ERROR] either view_id or external_id is required"]
            raise SlackError("invalid_arguments", response_metadata={"messages": messages})
        if not view_id:
            view_id = self._external_ids.get(external_id or "")
        current = self.views.get(view_id or "")
        if current is None:
            raise SlackError("not_found")
        view = self._parse_view(args, expected=(current["type"],))
        expected_hash = _text_arg(args, "hash")
        if expected_hash and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        assert view_id is not None
        self._claim_external_id(view, view_id)
        built = self._build_view(
            view_id, view, root=current["root_view_id"], previous=current["previous_view_id"]
        )
        if not view.get("external_id"):
            built["external_id"] = current["external_id"]  # kept unless the update sets one
        self._store_view(view_id, built)
        if built["type"] == "home":
            owner = self._view_owner.get(view_id)
            if owner:
                self.home_views[owner] = built
        return {"view": copy.deepcopy(built)}

    def _views_publish(self, args: dict) -> dict:
        user_id = _text_arg(args, "user_id") or ""
        user = self._users.get(user_id)
        if user is None or user["deleted"]:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["invalid `user_id`"]}
            )
        view = self._parse_view(args, expected=("home",))
        current = self.home_views.get(user_id)
        expected_hash = _text_arg(args, "hash")
        if current is not None and expected_hash and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        view_id = current["id"] if current else self._new_id("V")
        self._claim_external_id(view, view_id)
        built = self._build_view(view_id, view, root=view_id, previous=None)
        self._store_view(view_id, built)
        self._view_owner[view_id] = user_id
        self.home_views[user_id] = built
        return {"view": copy.deepcopy(built)}


# --------------------------------------------------------------------------- HTTP handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 stalls concurrent clients for 1 s


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SlackSandbox/1.0"
    emulator: Emulator

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, verb: str) -> None:
        parts = urlsplit(self.path)
        body = self._read_body() if verb == "POST" else b""
        result = self.emulator._route(verb, parts.path, parts.query, self.headers, body)
        if result is _RESET:
            self._reset()
            return
        status, headers, payload = result
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _reset(self) -> None:
        """Abort the connection: RST instead of an HTTP answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.close()
