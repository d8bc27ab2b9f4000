"""Workspace events the bot follows (App Home has its own module)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.services import Services
from bot.usecases import lifecycle


def handle_subteam_members_changed_event(svc: Services, event: dict[str, Any]) -> None:
    """A user group's members changed: follow it in the cache, with no Web API call."""
    usergroup = event.get("subteam_id")
    if not isinstance(usergroup, str):
        return
    added = [u for u in event.get("added_users") or [] if isinstance(u, str)]
    removed = [u for u in event.get("removed_users") or [] if isinstance(u, str)]
    svc.slack.apply_usergroup_change(usergroup, added, removed)


def handle_member_channel_event(svc: Services, event: dict[str, Any]) -> None:
    """Someone left, was removed from or joined a channel: if an escalation's, record it,
    so who may see a restricted escalation follows who is really in its channel."""
    channel, user = event.get("channel"), event.get("user")
    if isinstance(channel, str) and isinstance(user, str):
        left = event.get("type") == "member_left_channel"
        lifecycle.left_channel(svc, channel, user, left=left)


def register(app: App, svc: Services) -> None:
    """Register the workspace event listeners (Bolt acknowledges events itself)."""
    for kind in ("member_left_channel", "member_joined_channel"):
        app.event(kind)(lambda event: handle_member_channel_event(svc, event))
    app.event("subteam_members_changed")(
        lambda event: handle_subteam_members_changed_event(svc, event)
    )
