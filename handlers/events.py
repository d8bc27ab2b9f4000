"""Workspace events the bot follows (App Home has its own module)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.errors import UserError
from bot.services import Services
from bot.usecases import coordination, lifecycle

PIN = "pushpin"


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


def handle_reaction_added_event(svc: Services, event: dict[str, Any]) -> None:
    """A :pushpin: on a message of an escalation channel adds it to the timeline (once);
    other reactions, and pins elsewhere, are no business of the bot's."""
    item = event.get("item") or {}
    channel, ts, user = item.get("channel"), item.get("ts"), event.get("user")
    if event.get("reaction") != PIN or item.get("type", "message") != "message":
        return
    if not (isinstance(channel, str) and isinstance(ts, str) and isinstance(user, str)):
        return
    author = event.get("item_user")
    try:
        coordination.add_to_timeline(
            svc,
            user,
            channel,
            ts,
            author=author if isinstance(author, str) else None,
            text=None,  # a reaction carries no text: looked up after
            via="reaction",
        )
    except UserError:  # not an escalation channel, or not theirs to see: nothing to do
        return


def register(app: App, svc: Services) -> None:
    """Register the workspace event listeners (Bolt acknowledges events itself)."""
    for kind in ("member_left_channel", "member_joined_channel"):
        app.event(kind)(lambda event: handle_member_channel_event(svc, event))
    app.event("reaction_added")(lambda event: handle_reaction_added_event(svc, event))
    app.event("subteam_members_changed")(
        lambda event: handle_subteam_members_changed_event(svc, event)
    )
