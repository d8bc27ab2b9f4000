"""The Slack app manifest: commands, scopes, events and endpoints the bot needs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml

BOT_SCOPES = [
    "channels:manage",
    "channels:read",
    "channels:join",
    "groups:write",
    "groups:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "pins:write",
    "bookmarks:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "im:write",
    "im:history",  # a retried page or brief looks for the DM an earlier attempt sent
    "channels:history",
    "groups:history",
    "reactions:read",  # a :pushpin: adds a message to an escalation's timeline
]
SHORTCUTS = [
    ("escalate_message", "Escalate this message", "Raise an escalation quoting this message"),
    ("add_to_timeline", "Add to timeline", "Add this message to the escalation's timeline"),
]
COMMANDS = [
    ("/escalate", "Raise an escalation", "[SEV1-4] [#category] title"),
    ("/esc", "Work the escalation of this channel", "ack | sev | owner | update | help …"),
    ("/decision", "Log a decision in this escalation", "decision text"),
    ("/oncall", "Who is on call, schedules and overrides", "[rotation] | schedule | me | override"),
]


def build_manifest(url: str, name: str = "Escalations") -> dict[str, Any]:
    """Return the app manifest for a bot served at `url`."""
    events = url.rstrip("/") + "/slack/events"
    return {
        "display_information": {
            "name": name,
            "description": "Raise escalations, page on-call, keep the decision log.",
            "background_color": "#8b1a1a",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [
                {
                    "command": c,
                    "url": events,
                    "description": d,
                    "usage_hint": u,
                    "should_escape": True,
                }
                for c, d, u in COMMANDS
            ],
            "shortcuts": [
                {"name": n, "type": "message", "callback_id": c, "description": d}
                for c, n, d in SHORTCUTS
            ],
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "event_subscriptions": {
                "request_url": events,
                "bot_events": [
                    "app_home_opened",
                    "member_joined_channel",
                    "member_left_channel",
                    "reaction_added",
                    "subteam_members_changed",
                ],
            },
            "interactivity": {"is_enabled": True, "request_url": events},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def render_manifest(url: str) -> str:
    """Return the manifest as YAML text."""
    return yaml.safe_dump(build_manifest(url), sort_keys=False, allow_unicode=True)


def build_socket_mode_manifest(name: str = "Escalations") -> dict[str, Any]:
    """Return the manifest of a bot connected over Socket Mode: no request URLs."""
    manifest = build_manifest("https://socket-mode.invalid", name)
    for command in manifest["features"]["slash_commands"]:
        del command["url"]
    settings = manifest["settings"]
    del settings["event_subscriptions"]["request_url"]
    del settings["interactivity"]["request_url"]
    settings["socket_mode_enabled"] = True
    return manifest


def render_socket_mode_manifest() -> str:
    """Return the Socket Mode manifest as YAML text."""
    return yaml.safe_dump(build_socket_mode_manifest(), sort_keys=False, allow_unicode=True)


def public_url(url: str) -> str:
    """Return the base URL Slack is to call, without a trailing slash; raise ValueError
    unless it is an `https://host…` URL (Slack calls nothing else)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url.strip()):
        raise ValueError(f"{url!r} is not an https:// URL (like https://escbot.example.com)")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a base URL has no ?query or #fragment")
    return url.strip().rstrip("/")
