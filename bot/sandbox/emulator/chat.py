"""Web API methods chat.*, pins.* and bookmarks.*: posting, ephemeral messages, updates,
deletes, permalinks, pins and bookmarks.
"""

from __future__ import annotations

import copy
import re

from bot.sandbox.emulator.args import _text_arg
from bot.sandbox.emulator.records import SlackError
from bot.sandbox.emulator.state import WorkspaceState


class ChatMethods(WorkspaceState):
    """The chat, pins and bookmarks Web API methods."""

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
