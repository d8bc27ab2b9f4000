"""Web API methods conversations.*: create, info, list, members, invite, kick, join,
archive, topic and purpose, open, history and replies.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from bot.sandbox.emulator.args import _id_list, _paginate, _text_arg, _truthy
from bot.sandbox.emulator.limits import _NAME_OK, _RESERVED_NAMES, MAX_INVITE, MAX_NAME, MAX_TOPIC
from bot.sandbox.emulator.records import SlackError
from bot.sandbox.emulator.state import WorkspaceState


class ConversationsMethods(WorkspaceState):
    """The conversations.* Web API methods."""

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
