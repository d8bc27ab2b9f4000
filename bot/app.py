"""Composition: services from settings and config, and the Bolt app with every listener."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.clock import Clock, system_clock
from bot.config import TeamConfig
from bot.delivery import registry
from bot.delivery.outbox import Outbox
from bot.executors import TrackedPool
from bot.fastack import Foreground
from bot.health import SlackToken, database_check
from bot.policy import Policy
from bot.rotations import OnCall
from bot.services import Services
from bot.settings import Settings
from bot.slack import SlackGateway, make_client
from bot.telemetry import Telemetry
from handlers import (
    actions,
    commands,
    deliveries,
    esc,
    events,
    home,
    replying,
    shortcuts,
    views,
)
from handlers import oncall as oncall_listeners
from storage.db import Database


def build_services(
    settings: Settings,
    config: TeamConfig,
    *,
    clock: Clock = system_clock,
    db: Database | None = None,
    client: WebClient | None = None,
) -> Services:
    """Wire the database, Slack gateway, on-call engine and outbox once, at start."""
    db = db or Database(settings.database_url)
    client = client or make_client(settings.slack_bot_token or "", settings.slack_api_url)
    foreground = Foreground()
    db.set_background(foreground.background)
    telemetry = Telemetry(db, clock, config.severity_ids)
    slack = SlackGateway(client, foreground=foreground, telemetry=telemetry)
    svc = Services(
        settings=settings,
        config=config,
        db=db,
        slack=slack,
        clock=clock,
        oncall=OnCall(config),
        policy=Policy(config, slack.usergroup_members_or_none),
        outbox=Outbox(db, clock, foreground=foreground),
        listeners=TrackedPool(32, "listener", initializer=foreground.mark_request),
        foreground=foreground,
        telemetry=telemetry,
        token=SlackToken(slack),
    )
    svc.readiness.add("database", database_check(db))
    svc.readiness.add("slack_token", svc.token.readiness)
    registry.register(svc)
    return svc


def usergroups_of(config: TeamConfig) -> list[str]:
    """Return the Slack user groups the config's stakeholder groups are."""
    return [g.usergroup for g in config.stakeholders.values() if g.usergroup]


def create_app(svc: Services) -> App:
    """Build the Bolt app with every listener registered (signatures: checked at bot.web)."""
    app = App(
        # Listeners call Slack through svc.slack; Bolt's own client takes its token from
        # `authorize` on each request (given one here, Bolt would warn that it ignores it).
        client=WebClient(base_url=svc.slack.client.base_url, timeout=svc.slack.client.timeout),
        signing_secret=svc.settings.slack_signing_secret or "",
        # Who the bot is comes from the token's one check at start (bot.health.SlackToken),
        # never from an auth.test on a request's path.
        authorize=svc.token.authorizer(),
        # Every request over HTTP is verified before it is parsed (bot.web, bot.edge), and
        # nothing else reaches Bolt but Socket Mode's, which carries no signature.
        request_verification_enabled=False,
        # Over HTTP the web endpoint answers at the ack while the listener goes on (bot.web);
        # in Socket Mode Bolt runs listeners on the pool and answers at the ack itself.
        process_before_response=not svc.settings.slack_app_token,
        raise_error_for_unhandled_request=False,
        listener_executor=svc.listeners,
    )
    app.error(replying.on_error)
    deliveries.register(app, svc)
    commands.register(app, svc)
    views.register(app, svc)
    esc.register(app, svc)
    actions.register(app, svc)
    home.register(app, svc)
    events.register(app, svc)
    shortcuts.register(app, svc)
    oncall_listeners.register(app, svc)
    return app
