"""`escbot sandbox`: a local workspace, the bot wired to it, and a shell to act in it."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import sys
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from bot.config import ConfigError, TeamConfig, load_config
from bot.runtime import Running, start_local
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.seed import seed
from bot.settings import Settings
from storage.db import Database

EXAMPLE_NAME = "escalation.example.yaml"
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
  submit k=v …          submit the open form (e.g. submit title="Leak" severity=SEV2)
  read [channel]        show a channel's messages
  users | channels | help | quit
"""


def packaged_example() -> Path:
    """Return where an installed package keeps the example config (copied in at build)."""
    return Path(str(resources.files("bot") / EXAMPLE_NAME))


def find_config(settings: Settings, explicit: Path | None = None) -> Path:
    """Return the team config the sandbox uses: explicit, ESCALATION_CONFIG, or the example."""
    candidates = (
        [explicit]
        if explicit
        else [
            settings.escalation_config,
            Path(EXAMPLE_NAME),
            Path(__file__).resolve().parents[2] / EXAMPLE_NAME,  # a source checkout
            packaged_example(),
        ]
    )
    for path in candidates:
        if path is not None and path.is_file():
            return path
    raise FileNotFoundError(f"no team config found (looked for {', '.join(map(str, candidates))})")


def _flatten(blocks: list[dict[str, Any]] | None) -> str:
    lines: list[str] = []
    for block in blocks or []:
        text = block.get("text")
        if isinstance(text, dict):
            lines.append(text.get("text", ""))
        for item in block.get("fields") or []:
            lines.append(item.get("text", "").replace("\n", ": "))
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                lines.append(f"[{element['text']['text']}] ({element['action_id']})")
            elif isinstance(element.get("text"), str):
                lines.append(element["text"])
    return "\n".join(line for line in lines if line)


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
            for response in self.emulator.responses[self._responses :]:
                self.say("(only you) " + self.render(str(response["payload"].get("text", ""))))
            self._responses = len(self.emulator.responses)
            for eph in self.emulator.ephemerals[self._ephemerals :]:
                if eph.get("user") == self.user:
                    self.say(
                        "(only you) " + self.render(eph.get("text") or _flatten(eph.get("blocks")))
                    )
            self._ephemerals = len(self.emulator.ephemerals)

    def execute(self, line: str) -> bool:
        """Run one shell line; return False to quit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line.startswith("/"):
            command, _, text = line.partition(" ")
            reply = self.driver.command(self.user, command, text, channel_id=self.channel)
            if reply.status != 200:
                self.say(f"  ! the bot answered HTTP {reply.status}")
            elif reply.json and reply.json.get("text"):
                self.say("(only you) " + self.render(reply.json["text"]))
            elif reply.body.strip():
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
        values: dict[str, Any] = {}
        given = dict(part.split("=", 1) for part in shlex.split(rest) if "=" in part)
        for block in view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element, block_id = block["element"], block["block_id"]
            raw = given.get(block_id)
            if raw is None:
                initial = element.get("initial_option")
                if initial:
                    values[block_id] = {
                        element["action_id"]: {"type": element["type"], "selected_option": initial}
                    }
                continue
            values[block_id] = {element["action_id"]: _element_value(element, raw)}
        self.driver.submit_view(self.user, view, values)

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


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]] | None:
    blocks = args.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _element_value(element: dict[str, Any], raw: str) -> dict[str, Any]:
    kind = element["type"]
    if kind == "static_select":
        return {
            "type": kind,
            "selected_option": {"text": {"type": "plain_text", "text": raw}, "value": raw},
        }
    if kind in ("multi_static_select", "checkboxes"):
        return {
            "type": kind,
            "selected_options": [
                {"text": {"type": "plain_text", "text": v}, "value": v} for v in raw.split(",") if v
            ],
        }
    if kind == "multi_users_select":
        return {"type": kind, "selected_users": [v for v in raw.split(",") if v]}
    return {"type": kind, "value": raw}


def start_sandbox(
    settings: Settings, config: TeamConfig, *, out: TextIO | None = None, port: int = 0
) -> Sandbox:
    """Start the emulator seeded from `config` and the bot wired to it."""
    emulator = Emulator(rate_limits=True)
    emulator.start()
    handles = seed(emulator, config)
    secret = secrets.token_hex(16)
    local = settings.model_copy(
        update={
            "slack_bot_token": emulator.bot_token,
            "slack_signing_secret": secret,
            "slack_api_url": emulator.url,
        }
    )
    db = Database(local.database_url)
    db.prepare()
    bot = start_local(local, config, db, port=port)
    driver = Driver(emulator, bot.events_url, secret)
    return Sandbox(config, bot, emulator, driver, handles, out or sys.stdout)


def run_sandbox(
    settings: Settings,
    config_path: Path | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> None:
    """Run the sandbox with a shell on stdin until `quit` or end of input."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    try:
        path = find_config(settings, config_path)
        config = load_config(path)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    box = start_sandbox(settings, config, out=out)
    interactive = stdin.isatty()
    box.say(
        f"Sandbox workspace at {box.emulator.url} — bot at {box.bot.events_url}\n"
        f"Team config: {path}; database: {settings.database_url}\n"
        f"You are @{box.names.get(box.user)} in #escalations-team. Type `help`."
    )
    try:
        while True:
            if interactive:
                prompt = f"@{box.names.get(box.user, box.user)} {box._channel_label(box.channel)}> "
                try:
                    line = input(prompt)
                except EOFError:
                    break
            else:
                line = stdin.readline()
                if not line:
                    break
                box.say(f"> {line.rstrip()}")
            if not box.execute(line):
                break
    except KeyboardInterrupt:
        pass
    finally:
        box.bot.stop()
        box.emulator.stop()
