"""What the web workspace and its callers share: the static files' location, the slash
commands the bot serves and the answer to an unknown one, the app's shortcuts and
events, :class:`Refused` (an action the page may not take) and message escaping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.manifest import COMMANDS, build_manifest
from bot.sandbox.mentions import translate_mentions

STATIC = Path(__file__).parent.with_name("static")

KNOWN_COMMANDS = [command for command, _, _ in COMMANDS]


class Refused(Exception):
    """What Slack's client would not let the person do, with the reason shown to them."""

    def __init__(self, reason: str, status: int = 403):
        super().__init__(reason)
        self.reason, self.status = reason, status


_SENT_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)&gt;")


def slack_escape(text: str, handles: Mapping[str, str]) -> str:
    """Return typed text as Slack's client sends it: `&`, `<`, `>` escaped, mentions as `<@U…>`."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return translate_mentions(_SENT_MENTION.sub(r"<@\1>", escaped), handles)


def app_features() -> tuple[list[dict[str, Any]], set[str]]:
    """Return the app's message shortcuts and the events it subscribes to, from its manifest."""
    manifest = build_manifest("https://sandbox.invalid")
    shortcuts = [
        {"name": s.get("name", s.get("callback_id")), "callback_id": s["callback_id"]}
        for s in manifest.get("features", {}).get("shortcuts", [])
        if s.get("type") == "message" and s.get("callback_id")
    ]
    events = manifest.get("settings", {}).get("event_subscriptions", {}).get("bot_events", [])
    return shortcuts, set(events)


def unknown_command_text(command: str) -> str:
    """Return the one-line answer to a slash command the bot does not serve."""
    return f"`{command}` is not a command here. Try {', '.join(KNOWN_COMMANDS)}."
