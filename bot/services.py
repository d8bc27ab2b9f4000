"""The composition of what use cases need, built once at start and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config import TeamConfig
from bot.delivery.outbox import Outbox
from bot.executors import TrackedPool
from bot.fastack import Foreground, OnLoop
from bot.health import Readiness, SlackToken
from bot.policy import Policy
from bot.rotations import OnCall
from bot.settings import Settings
from bot.slack import SlackGateway
from bot.telemetry import Telemetry
from storage.db import Database


@dataclass
class Services:
    """Settings, team config, database, Slack gateway, clock, on-call, policy, outbox, pools."""

    settings: Settings
    config: TeamConfig
    db: Database
    slack: SlackGateway
    clock: Clock
    oncall: OnCall
    policy: Policy  # who may see and do what
    outbox: Outbox
    listeners: TrackedPool
    foreground: Foreground  # Slack requests being answered; background work gives way
    telemetry: Telemetry  # this process's /metrics
    token: SlackToken  # the bot token's auth.test, made at start
    readiness: Readiness = field(default_factory=Readiness)  # what /readyz checks
    on_loop: OnLoop = field(default_factory=OnLoop)  # requests dispatched on the event loop

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until every listener and the Slack work it handed on have finished."""
        while self.listeners.busy() or self.outbox.busy():
            self.listeners.wait_idle(timeout)
            self.outbox.wait_idle(timeout)
