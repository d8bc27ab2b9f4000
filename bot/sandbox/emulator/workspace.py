"""The :class:`Emulator`: the workspace with its Web API method table, lifecycle (start
and stop the HTTP server), fixtures to seed it, fault injection, snapshots and the
inspection helpers tests use.
"""

from __future__ import annotations

import copy
import string
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox.emulator.chat import ChatMethods
from bot.sandbox.emulator.conversations import ConversationsMethods
from bot.sandbox.emulator.dispatch import WebApiDispatch
from bot.sandbox.emulator.records import Call, _Fault, _ResponseUrl, _Trigger
from bot.sandbox.emulator.server import _Handler, _Server
from bot.sandbox.emulator.users import UsersMethods
from bot.sandbox.emulator.views import ViewsMethods


class Emulator(ConversationsMethods, ChatMethods, ViewsMethods, UsersMethods, WebApiDispatch):
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
        super().__init__(
            clock=clock,
            rate_limits=rate_limits,
            bot_user_id=bot_user_id,
            bot_token=bot_token,
            team_id=team_id,
            team_domain=team_domain,
        )
        self._methods = {
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
