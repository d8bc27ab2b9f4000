"""The sandbox's web workspace: a Slack-like page over the emulator, on loopback.

The page (``static/``: plain HTML, CSS and JavaScript) asks this server for a snapshot of
what the current user sees, and acts through it the way Slack's client acts for a person:
a slash command or a button press becomes a signed request to the bot (through the
:class:`~bot.sandbox.driver.Driver`), a form submission carries only the options the form
offered, and nobody reads or writes a private channel they are not in. A stream of
server-sent events tells the page when to ask again, so pages and replies arrive live.

The package re-exports the public names: ``common`` holds what the workspace and its
callers share (refusals, the commands the bot serves, message escaping), ``forms`` fills
Block Kit inputs from what the page sent, ``workspace`` the per-person view and actions,
and ``app`` the Starlette application serving the page and its JSON API.
"""

from __future__ import annotations

from bot.sandbox.web.app import create_web_app
from bot.sandbox.web.common import (
    KNOWN_COMMANDS,
    STATIC,
    Refused,
    app_features,
    slack_escape,
    unknown_command_text,
)
from bot.sandbox.web.workspace import Workspace

__all__ = [
    "KNOWN_COMMANDS",
    "STATIC",
    "Refused",
    "Workspace",
    "app_features",
    "create_web_app",
    "slack_escape",
    "unknown_command_text",
]
