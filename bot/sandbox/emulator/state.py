"""The workspace state: :class:`WorkspaceState` holds every record the emulator keeps and
the helpers the Web API method families share (ids, timestamps, channel, user and
message objects, membership checks, posting messages).
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from zoneinfo import ZoneInfo

from bot.sandbox.emulator.args import _json_arg, _text_arg, _truthy
from bot.sandbox.emulator.blocks import _check_message_blocks
from bot.sandbox.emulator.limits import _ID_CHARS, _TZ_LABELS, MAX_TEXT
from bot.sandbox.emulator.records import Call, SlackError, _Fault, _ResponseUrl, _Trigger


class WorkspaceState:
    """The workspace's records (users, channels, views, triggers...), guarded by one lock,
    and the helpers every Web API method family shares."""

    #: Web API method name -> handler; :class:`~bot.sandbox.emulator.workspace.Emulator`
    #: fills it in.
    _methods: dict[str, Callable[[dict], dict]]

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

    def changed(self) -> None:
        """Tell the listeners that the workspace changed."""
        for listener in list(self.listeners):
            listener()

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
