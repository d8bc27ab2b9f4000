"""App Home: published when a user opens the bot's Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot import blocks
from bot.services import Services
from bot.usecases.home import home_data


def handle_home_opened_event(svc: Services, event: dict[str, Any]) -> None:
    """Publish the user's Home: on call now, their next shifts, their open escalations."""
    if event.get("tab", "home") != "home":
        return
    user = event["user"]
    svc.slack.publish_home(user, blocks.home_view(home_data(svc, user)))


def register(app: App, svc: Services) -> None:
    """Register the App Home listener (events are acknowledged by Bolt itself)."""
    app.event("app_home_opened")(lambda event: handle_home_opened_event(svc, event))
