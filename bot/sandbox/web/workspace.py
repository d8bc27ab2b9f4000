""":class:`Workspace`: what one person sees (sidebar, messages, ephemerals, open views,
App Home) and what they do (send, press, shortcut, react, submit, cancel), carried to
the bot through the driver, plus change notifications for the page's event stream.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bot.manifest import COMMANDS
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.mentions import translate_mentions
from bot.sandbox.web.common import (
    KNOWN_COMMANDS,
    Refused,
    app_features,
    slack_escape,
    unknown_command_text,
)
from bot.sandbox.web.forms import (
    _action_value,
    _find_element,
    _is_empty,
    _state_value,
    _view_for_page,
)


@dataclass
class Workspace:
    """What the page can see and do, for whichever person it is acting as."""

    emulator: Emulator
    driver: Driver
    handles: Mapping[str, str]
    default_user: str
    default_channel: str
    #: Answers of the bot to commands (the body of its HTTP reply): ephemeral, per person.
    replies: list[dict[str, Any]] = field(default_factory=list)
    _subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=set)
    _closed: bool = False
    #: Reactions people added on the page: (channel, ts) → emoji name → who.
    reactions: dict[tuple[str, str], dict[str, list[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.emulator.listeners.append(self._notify)

    # ------------------------------------------------------------------ live updates

    def _notify(self) -> None:
        for loop, event in list(self._subscribers):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed
                self._subscribers.discard((loop, event))

    async def changes(self) -> AsyncIterator[str]:
        """Yield a server-sent event each time the workspace changes (and keep-alives)."""
        event = asyncio.Event()
        key = (asyncio.get_running_loop(), event)
        self._subscribers.add(key)
        try:
            yield "retry: 1000\n\n"
            while True:
                try:
                    await asyncio.wait_for(event.wait(), timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                event.clear()
                if self._closed:
                    return
                yield "data: changed\n\n"
        finally:
            self._subscribers.discard(key)

    def close(self) -> None:
        """End the live streams (so the server can stop without waiting on open pages)."""
        self._closed = True
        self._notify()

    # ------------------------------------------------------------------ who may see what

    def person(self, user_id: str | None) -> str:
        """Return a real, non-bot person's ID, or refuse."""
        user = self.emulator.user(user_id or "")
        if user is None or user["is_bot"] or user["deleted"]:
            raise Refused("no such person in this workspace", 400)
        return user["id"]

    def readable(self, user: str, channel_id: str) -> dict:
        """Return the channel if `user` may read it: public, or one they are in."""
        info = self.emulator.channel(channel_id)
        if info is None or ((info["is_private"] or info["is_im"]) and user not in info["members"]):
            raise Refused("channel_not_found", 404)
        return info

    def people(self) -> list[dict[str, Any]]:
        """Return everyone the page can pick, mention or show, the bot included."""
        out = []
        for user_id in [self.emulator.bot_user_id, *self.handles.values()]:
            user = self.emulator.user(user_id)
            if user is not None:
                out.append(
                    {
                        "id": user["id"],
                        "name": user["name"],
                        "real_name": user["real_name"],
                        "tz": user["tz"],
                        "is_bot": user["is_bot"],
                    }
                )
        return out

    def sidebar(self, user: str) -> list[dict[str, Any]]:
        """Return the channels the person sees: public ones, private ones they are in, DMs."""
        out = []
        for channel_id in self.emulator.channel_ids():
            info = self.emulator.channel(channel_id)
            if info is None or info["is_archived"]:
                continue
            member = user in info["members"]
            if (info["is_private"] or info["is_im"] or info["is_mpim"]) and not member:
                continue
            kind = "dm" if info["is_im"] or info["is_mpim"] else "channel"
            out.append(
                {
                    "id": info["id"],
                    "name": self.emulator.bot_name if info["is_im"] else info["name"],
                    "kind": kind,
                    "is_private": info["is_private"] and kind == "channel",
                    "is_member": member,
                    "members": info["members"],
                    "topic": info["topic"],
                }
            )
        out.sort(key=lambda c: (c["kind"] != "channel", c["name"]))
        return out

    def messages(self, user: str, channel_id: str) -> list[dict[str, Any]]:
        """Return the channel's messages and the person's own ephemeral ones, oldest first."""
        self.readable(user, channel_id)
        out = [
            {
                "ts": m["ts"],
                "user": m["user"],
                "text": m["text"],
                "blocks": m.get("blocks") or [],
                "thread_ts": m.get("thread_ts"),
                "pinned": m.get("pinned", False),
                "edited": bool(m.get("edited")),
                "ephemeral": False,
                "reactions": self.reactions.get((channel_id, m["ts"]), {}),
            }
            for m in self.emulator.messages(channel_id)
        ]
        for eph in self._ephemerals(user, channel_id):
            out.append({**eph, "ephemeral": True})
        out.sort(key=lambda m: float(m["ts"]))
        return out

    def _ephemerals(self, user: str, channel_id: str) -> list[dict[str, Any]]:
        found = []
        for eph in list(self.emulator.ephemerals):
            if eph["user"] == user and eph["channel"] == channel_id:
                found.append(
                    {
                        "ts": eph["ts"],
                        "text": eph["text"],
                        "blocks": eph["blocks"],
                        "key": eph["ts"],
                    }
                )
        for post in list(self.emulator.response_posts):
            payload = post["payload"]
            if post["user"] != user or post["channel"] != channel_id:
                continue
            if payload.get("response_type") == "in_channel" or payload.get("delete_original"):
                continue
            if payload.get("replace_original"):
                continue
            found.append(
                {
                    "ts": post["ts"],
                    "text": str(payload.get("text") or ""),
                    "blocks": payload.get("blocks") or [],
                    "key": post["ts"],
                }
            )
        for reply in list(self.replies):
            if reply["user"] == user and reply["channel"] == channel_id:
                found.append({k: reply[k] for k in ("ts", "text", "blocks", "key")})
        for eph in found:
            eph["user"] = self.emulator.bot_user_id
        return found

    def snapshot(self, user: str, channel_id: str | None, home: bool) -> dict[str, Any]:
        """Return everything the page shows for `user` looking at a channel or App Home."""
        sidebar = self.sidebar(user)
        if channel_id is None or not any(c["id"] == channel_id for c in sidebar):
            channel_id = self.default_channel
            if not any(c["id"] == channel_id for c in sidebar):
                channel_id = sidebar[0]["id"] if sidebar else None
        views = self.emulator.open_views(user)
        return {
            "me": user,
            "bot": self.emulator.bot_user_id,
            "team": self.emulator.team_name,
            "people": self.people(),
            "channels": sidebar,
            "channel": channel_id,
            "messages": self.messages(user, channel_id) if channel_id else [],
            "latest": {c["id"]: self._latest(user, c["id"]) for c in sidebar},
            "view": _view_for_page(views[-1]) if views else None,
            "home": _view_for_page(self.emulator.home_views[user])
            if home and user in self.emulator.home_views
            else None,
            "commands": [{"command": c, "hint": u, "about": d} for c, d, u in COMMANDS],
            "shortcuts": app_features()[0],
        }

    def _latest(self, user: str, channel_id: str) -> str:
        messages = self.emulator.messages(channel_id)
        stamps = [m["ts"] for m in messages] + [e["ts"] for e in self._ephemerals(user, channel_id)]
        return max(stamps, key=float) if stamps else "0"

    # ------------------------------------------------------------------ acting

    def send(self, user: str, channel_id: str, text: str) -> dict[str, Any]:
        """Post what the person typed: a slash command to the bot, else a message."""
        info = self.readable(user, channel_id)
        text = text.strip()
        if not text:
            raise Refused("nothing to send", 400)
        if user not in info["members"]:
            if info["is_private"] or info["is_im"]:
                raise Refused("not_in_channel")
            self.emulator.add_member(channel_id, user)  # typing in a public channel joins it
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            rest = translate_mentions(rest, self.handles)
            if command not in KNOWN_COMMANDS:
                self._reply(user, channel_id, unknown_command_text(command))
                return {"ok": True}
            answer = self.driver.command(user, command, rest.strip(), channel_id=channel_id)
            if answer.status != 200:
                self._reply(user, channel_id, f"The bot could not answer (HTTP {answer.status}).")
            elif isinstance(answer.json, dict) and (
                answer.json.get("text") or answer.json.get("blocks")
            ):
                self._reply(
                    user, channel_id, str(answer.json.get("text") or ""), answer.json.get("blocks")
                )
            elif answer.json is None and answer.body.strip():
                self._reply(user, channel_id, answer.body.strip())
            return {"ok": True}
        if info["is_im"]:
            raise Refused("This app's Messages tab is read-only: type a slash command here.")
        self.emulator.add_message(channel_id, slack_escape(text, self.handles), user=user)
        return {"ok": True}

    def _reply(self, user: str, channel_id: str, text: str, blocks: list | None = None) -> None:
        ts = self.emulator.next_ts()
        self.replies.append(
            {
                "user": user,
                "channel": channel_id,
                "text": text,
                "blocks": blocks or [],
                "ts": ts,
                "key": ts,
            }
        )
        self.emulator.changed()

    def press(self, user: str, where: dict[str, Any]) -> dict[str, Any]:
        """Press a button (or pick from a select) that the person can see, as Slack sends it."""
        block_id, action_id = str(where.get("block_id", "")), str(where.get("action_id", ""))
        view_id, channel_id, ts = where.get("view_id"), where.get("channel"), where.get("ts")
        if view_id:
            view = self._own_view(user, str(view_id))
            element = _find_element(view["blocks"], block_id, action_id)
            value = _action_value(element, where.get("selected"), self.emulator)
            self.driver.action(user, action_id, value, block_id=block_id, view=view)
            return {"ok": True}
        if not channel_id:
            raise Refused("nothing to press", 400)
        self.readable(user, str(channel_id))
        message = next((m for m in self.messages(user, str(channel_id)) if m["ts"] == ts), None)
        if message is None:
            raise Refused("message_not_found", 404)
        element = _find_element(message["blocks"], block_id, action_id)
        value = _action_value(element, where.get("selected"), self.emulator)
        self.driver.action(
            user,
            action_id,
            value,
            block_id=block_id,
            channel_id=str(channel_id),
            message_ts=None if message["ephemeral"] else message["ts"],
        )
        return {"ok": True}

    def _public_message(self, user: str, channel_id: str, ts: Any) -> dict[str, Any]:
        self.readable(user, channel_id)
        for message in self.emulator.messages(channel_id):
            if message["ts"] == ts:
                return message
        raise Refused("message_not_found", 404)

    def shortcut(self, user: str, where: dict[str, Any]) -> dict[str, Any]:
        """Run one of the app's message shortcuts on a message, as Slack sends it."""
        channel_id, callback_id = str(where.get("channel", "")), str(where.get("callback_id", ""))
        message = self._public_message(user, channel_id, where.get("ts"))
        shortcuts, _ = app_features()
        if callback_id not in {s["callback_id"] for s in shortcuts}:
            raise Refused("no such shortcut", 404)
        person, info = self.emulator.user(user) or {}, self.emulator.channel(channel_id) or {}
        team = {"id": self.emulator.team_id, "domain": self.emulator.team_domain}
        payload = {
            "type": "message_action",
            "token": self.driver.verification_token,
            "action_ts": f"{time.time():.6f}",
            "team": team,
            "user": {"id": user, "username": person.get("name"), "team_id": team["id"]},
            "channel": {"id": channel_id, "name": info.get("name", "")},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.emulator.new_trigger_id(user_id=user),
            "response_url": self.emulator.new_response_url(channel_id=channel_id, user_id=user),
            "message_ts": message["ts"],
            "message": {
                "type": "message",
                "user": message["user"],
                "ts": message["ts"],
                "text": message["text"],
                **({"blocks": message["blocks"]} if message.get("blocks") else {}),
            },
        }
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        answer = self.driver.send_raw(body, "application/x-www-form-urlencoded")
        if answer.status not in (0, 200):
            self._reply(user, channel_id, f"The bot could not answer (HTTP {answer.status}).")
        return {"ok": True}

    def react(self, user: str, where: dict[str, Any]) -> dict[str, Any]:
        """Add an emoji reaction to a message; the bot hears of it if it subscribes."""
        channel_id, name = str(where.get("channel", "")), str(where.get("reaction", ""))
        if not re.fullmatch(r"[a-z0-9_+-]{1,40}", name):
            raise Refused("not an emoji name", 400)
        message = self._public_message(user, channel_id, where.get("ts"))
        who = self.reactions.setdefault((channel_id, message["ts"]), {}).setdefault(name, [])
        if user in who:
            return {"ok": True}  # Slack: already_reacted
        who.append(user)
        self.emulator.changed()
        if "reaction_added" in app_features()[1]:
            item = {"type": "message", "channel": channel_id, "ts": message["ts"]}
            self.driver.event(
                {
                    "type": "reaction_added",
                    "user": user,
                    "reaction": name,
                    "item": item,
                    "item_user": message["user"],
                }
            )
        return {"ok": True}

    def _own_view(self, user: str, view_id: str) -> dict:
        for view in self.emulator.open_views(user):
            if view["id"] == view_id:
                return view
        home = self.emulator.home_views.get(user)
        if home is not None and home["id"] == view_id:
            return home
        raise Refused("view_not_found", 404)

    def submit(self, user: str, view_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Submit the person's open form; return the bot's field errors, if any."""
        view = self._own_view(user, view_id)
        values: dict[str, dict[str, Any]] = {}
        errors: dict[str, str] = {}
        for block in view["blocks"]:
            if block.get("type") != "input":
                continue
            element, block_id = block["element"], block["block_id"]
            given = raw.get(block_id)
            given = given.get(element["action_id"]) if isinstance(given, Mapping) else None
            try:
                values[block_id] = {
                    element["action_id"]: _state_value(element, given, self.emulator)
                }
            except Refused as refusal:
                errors[block_id] = refusal.reason
                continue
            if not block.get("optional") and _is_empty(values[block_id][element["action_id"]]):
                errors[block_id] = "Please complete this required field."
        if errors:
            return {"errors": errors}
        answer = self.driver.submit_view(user, view, values)
        if answer.status != 200:
            return {"errors": {}, "error": f"The bot could not answer (HTTP {answer.status})."}
        body = answer.json if isinstance(answer.json, dict) else {}
        if body.get("response_action") == "errors":
            return {"errors": body.get("errors") or {}}
        return {"ok": True}

    def cancel(self, user: str, view_id: str) -> dict[str, Any]:
        """Close the person's form (and any pushed on top of it), as the Cancel button does."""
        self._own_view(user, view_id)
        self.emulator.apply_view_response(user, view_id, None)
        self.emulator.changed()
        return {"ok": True}

    def open_home(self, user: str) -> dict[str, Any]:
        """Tell the bot the person opened its Home tab (it publishes their Home)."""
        self.driver.event({"type": "app_home_opened", "user": user, "tab": "home"})
        return {"ok": True}
