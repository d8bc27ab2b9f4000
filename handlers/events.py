"""Workspace events the bot follows (App Home has its own module)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.services import Services


def handle_subteam_members_changed_event(svc: Services, event: dict[str, Any]) -> None:
    """A user group's members changed: follow it in the cache, with no Web API call."""
    usergroup = event.get("subteam_id")
    if not isinstance(usergroup, str):
        return
    added = [u for u in event.get("added_users") or [] if isinstance(u, str)]
    removed = [u for u in event.get("removed_users") or [] if isinstance(u, str)]
    svc.slack.apply_usergroup_change(usergroup, added, removed)


def register(app: App, svc: Services) -> None:
    """Register the workspace event listeners (Bolt acknowledges events itself)."""
    app.event("subteam_members_changed")(
        lambda event: handle_subteam_members_changed_event(svc, event)
    )
