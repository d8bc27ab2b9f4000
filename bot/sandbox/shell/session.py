""":class:`Sandbox`: the interactive shell over the emulator and the bot, with its verbs
(act as, move, click, submit, cancel, home, read, users, channels) and the rendering of
new messages as text.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
from collections.abc import Callable
from typing import TextIO

from bot.config import TeamConfig
from bot.runtime import Running
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.keeping import (
    Keeper,
)
from bot.sandbox.mentions import translate_mentions
from bot.sandbox.shell.forms import _blocks, _flatten, _indent, form_values, submit_form
from bot.sandbox.socket_mode import SocketMode
from bot.sandbox.web import KNOWN_COMMANDS, Workspace, unknown_command_text
from bot.web import Server

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>")
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")
HELP = """\
Type as the current user in the current channel:
  /escalate SEV1 #election Vote-buying ads in BR     any slash command the bot serves
  as <handle>           act as another user (see `users`)
  in <channel>          move to a channel (name or ID; see `channels`)
  click <action>        press a button of the newest message carrying it (e.g. click esc_ack)
  submit k=v …          submit the open form (e.g. submit title="Leak" severity=SEV2;
                        people as @handles: submit consulted=@ana,@ben)
  cancel                close the open form without submitting it
  home                  open the bot's App Home (on call now, your shifts, your escalations)
  read [channel]        show a channel's messages
  users | channels | help | quit
"""


class Sandbox:
    """The emulator, the bot and a driver, with a shell's state (who, where)."""

    def __init__(
        self,
        config: TeamConfig,
        bot: Running,
        emulator: Emulator,
        driver: Driver,
        handles: dict[str, str],
        out: TextIO,
    ):
        self.config, self.bot, self.emulator, self.driver = config, bot, emulator, driver
        self.handles = handles
        self.names = {v: k for k, v in handles.items()}
        self.user = config.team.members[0]
        self.channel = config.team.channel
        self.out = out
        self._seen = 0
        self._responses = 0
        self._ephemerals = 0
        self._lock = threading.Lock()
        self.socket: SocketMode | None = None  # the emulator's Socket Mode, when the bot uses it
        self.keeper: Keeper | None = None
        self.workspace: Workspace | None = None
        self.web: Server | None = None

    @property
    def web_url(self) -> str | None:
        """Return the web workspace's address, when it is served."""
        return f"{self.web.url}/" if self.web else None

    def stop(self) -> None:
        """Stop the page, the bot and the workspace (kept on disk first)."""
        if self.workspace is not None:
            self.workspace.close()
        if self.web is not None:
            self.web.stop()
        self.bot.stop()
        if self.keeper is not None:
            self.keeper.close()
        self.emulator.stop()

    def follow(self) -> None:
        """Print what the bot does as it happens (pages, reminders), not only after a command."""
        changed = threading.Event()
        self.emulator.listeners.append(changed.set)

        def run() -> None:
            while True:
                changed.wait()
                changed.clear()
                self.show_new()

        threading.Thread(target=run, name="sandbox-follow", daemon=True).start()

    def say(self, text: str) -> None:
        """Print a line of the shell's output."""
        print(text, file=self.out, flush=True)

    def _channel_label(self, channel_id: str) -> str:
        info = self.emulator.channel(channel_id)
        if info:
            return "#" + info["name"]
        return (
            f"@{self.names.get(channel_id, channel_id)}" if channel_id[:1] in "UW" else channel_id
        )

    def render(self, text: str) -> str:
        """Show Slack markup the way a client would: mentions, channels, dates, links."""

        def channel(match: re.Match[str]) -> str:
            return self._channel_label(match.group(1))

        text = _MENTION.sub(lambda m: "@" + self.names.get(m.group(1), m.group(1)), text)
        text = _CHANNEL.sub(channel, text)
        text = _DATE.sub(lambda m: m.group(1), text)
        text = _LINK.sub(lambda m: m.group(2), text)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    def show_new(self) -> None:
        """Print what the bot did since the last call."""
        with self._lock:
            calls = self.emulator.calls[self._seen :]
            self._seen += len(calls)
            for call in calls:
                if not call.ok:
                    self.say(f"  ! {call.method} failed: {call.error}")
                    continue
                args = call.args
                if call.method in ("chat.postMessage", "chat.update"):
                    verb = "posted" if call.method == "chat.postMessage" else "updated"
                    body = _flatten(_blocks(args)) or args.get("text", "")
                    self.say(
                        f"[{self._channel_label(args.get('channel', ''))}] bot {verb}:\n"
                        + _indent(self.render(body))
                    )
                elif call.method == "conversations.create":
                    self.say(f"  · created channel #{args.get('name')}")
                elif call.method == "conversations.invite":
                    users = str(args.get("users", "")).split(",")
                    self.say("  · invited " + ", ".join(self.names.get(u, u) for u in users))
                elif call.method in ("views.open", "views.push", "views.update"):
                    view = args.get("view")
                    view = json.loads(view) if isinstance(view, str) else view or {}
                    fields = [
                        b.get("block_id")
                        for b in view.get("blocks", [])
                        if b.get("type") == "input"
                    ]
                    self.say(
                        f'  · form "{view.get("title", {}).get("text", "")}" opened: '
                        f"fields {', '.join(fields)} — use `submit k=v …`"
                    )
            for post in self.emulator.response_posts[self._responses :]:
                payload = post["payload"]
                if payload.get("response_type") == "in_channel" or payload.get("delete_original"):
                    continue  # shown as the channel's message
                body = _flatten(payload.get("blocks")) or str(payload.get("text") or "")
                self.say(self._only(post.get("user")) + self.render(body))
            self._responses = len(self.emulator.response_posts)
            for eph in self.emulator.ephemerals[self._ephemerals :]:
                body = _flatten(eph.get("blocks")) or eph.get("text") or ""
                self.say(self._only(eph.get("user")) + self.render(body))
            self._ephemerals = len(self.emulator.ephemerals)

    def _only(self, user: str | None) -> str:
        if user is None or user == self.user:
            return "(only you) "
        return f"(only @{self.names.get(user, user)}) "

    def execute(self, line: str) -> bool:
        """Run one shell line; return False to quit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line.startswith("/"):
            command, _, text = line.partition(" ")
            if command not in KNOWN_COMMANDS:
                self.say(unknown_command_text(command))
                return True
            text = translate_mentions(text, self.handles)
            reply = self.driver.command(self.user, command, text, channel_id=self.channel)
            if reply.status != 200:
                self.say(f"  ! the bot answered HTTP {reply.status}")
            elif isinstance(reply.json, dict) and (
                reply.json.get("blocks") or reply.json.get("text")
            ):
                body = _flatten(reply.json.get("blocks")) or str(reply.json.get("text"))
                self.say("(only you) " + self.render(body))
            elif reply.json is None and reply.body.strip():
                self.say("(only you) " + self.render(reply.body))
        else:
            word, _, rest = line.partition(" ")
            handler = self.verbs().get(word)
            if handler is None:
                self.say(f"unknown: {word!r}. " + HELP)
                return True
            if handler(rest.strip()) is False:
                return False
        self.bot.services.wait_idle(timeout=60)
        self.show_new()
        return True

    def verbs(self) -> dict[str, Callable[[str], bool | None]]:
        """Return the shell's words."""
        return {
            "as": self.act_as,
            "in": self.move,
            "click": self.click,
            "submit": self.submit,
            "cancel": self.cancel,
            "home": self.home,
            "read": self.read,
            "users": self.list_users,
            "channels": self.list_channels,
            "help": lambda _: self.say(HELP),
            "quit": lambda _: False,
            "exit": lambda _: False,
        }

    def act_as(self, handle: str) -> None:
        """Switch the acting user."""
        user = self.handles.get(handle.lstrip("@").lower(), handle)
        if self.emulator.user(user) is None:
            self.say(f"no user {handle!r}; try `users`")
            return
        self.user = user
        self.say(f"you are now @{self.names.get(user, user)}")

    def move(self, where: str) -> None:
        """Switch the current channel."""
        info = self.emulator.channel(where) or self.emulator.channel_by_name(where.lstrip("#"))
        if info is None:
            self.say(f"no channel {where!r}; try `channels`")
            return
        self.channel = info["id"]
        self.say(f"you are now in #{info['name']}")

    def click(self, rest: str) -> None:
        """Press the newest button with this action ID in the current channel."""
        action_id = rest.split(" ", 1)[0]
        for message in reversed(self.emulator.messages(self.channel)):
            for block in message.get("blocks") or []:
                for element in block.get("elements") or []:
                    if element.get("action_id") == action_id:
                        self.driver.action(
                            self.user,
                            action_id,
                            element.get("value"),
                            block_id=block.get("block_id", "b"),
                            channel_id=self.channel,
                            message_ts=message["ts"],
                        )
                        return
        self.say(f"no button {action_id!r} in this channel")

    def submit(self, rest: str) -> None:
        """Submit the acting user's open form with the given field values."""
        views = self.emulator.open_views(self.user)
        if not views:
            self.say("no open form")
            return
        view = views[-1]
        given = dict(part.split("=", 1) for part in shlex.split(rest) if "=" in part)
        try:
            values = form_values(view, given, self.handles, self.emulator)
        except ValueError as exc:
            self.say(f"  ! {exc}; try `users`")
            return
        problems = submit_form(self.driver, self.user, view, values)
        for problem in problems:
            self.say(f"  ! {problem}")
        if problems:
            self.say("  the form is still open: `submit` again, or `cancel`")

    def cancel(self, _: str) -> None:
        """Close the acting user's open form without submitting it."""
        views = self.emulator.open_views(self.user)
        if not views:
            self.say("no open form")
            return
        self.emulator.apply_view_response(self.user, views[0]["id"], None)
        self.say(f'  · form "{views[-1].get("title", {}).get("text", "")}" closed')

    def home(self, _: str) -> None:
        """Open the bot's App Home as the acting user and print it."""
        before = self.emulator.home_views.get(self.user)
        self.driver.event({"type": "app_home_opened", "user": self.user, "tab": "home"})
        self.bot.services.wait_idle(timeout=60)
        view = self.emulator.home_views.get(self.user)
        if view is None or view is before:
            self.say("  ! App Home did not open")
            return
        self.say("[App Home]\n" + _indent(self.render(_flatten(view.get("blocks")))))

    def read(self, where: str) -> None:
        """Print a channel's messages."""
        channel = self.channel
        if where:
            info = self.emulator.channel(where) or self.emulator.channel_by_name(where.lstrip("#"))
            channel = info["id"] if info else where
        for message in self.emulator.messages(channel):
            pin = " (pinned)" if message.get("pinned") else ""
            self.say(
                f"- {message['ts']}{pin}\n"
                + _indent(self.render(_flatten(message.get("blocks")) or message.get("text", "")))
            )

    def list_users(self, _: str) -> None:
        """Print the workspace's people."""
        for handle, user in self.handles.items():
            info = self.emulator.user(user) or {}
            member = " (team)" if user in self.config.team.members else ""
            self.say(f"  @{handle:10} {user}  {info.get('tz', '')}{member}")

    def list_channels(self, _: str) -> None:
        """Print the channels the bot knows."""
        for channel_id in (self.config.team.channel, self.config.team.feed_channel):
            self.say(f"  {self._channel_label(channel_id)} {channel_id}")
        for call in self.emulator.calls_of("conversations.create"):
            if call.ok:
                self.say(f"  #{call.args.get('name')}")
