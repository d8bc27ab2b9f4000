"""Running the bot: web server or Socket Mode, with the outbox worker (and scheduler)."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient

from bot import fastack
from bot.app import build_services, create_app, usergroups_of
from bot.boot import Booting, Started
from bot.clock import Clock, system_clock
from bot.config import TeamConfig
from bot.health import scheduler_check
from bot.services import Services
from bot.settings import Settings
from bot.socket_mode import SocketLink
from bot.web import Server, create_operational_web, create_web, serve_forever
from schedules.scheduler import Scheduler
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class Running:
    """A bot serving HTTP on loopback in this process (tests, benchmarks, the sandbox)."""

    services: Services
    app: App
    server: Server
    scheduler: Scheduler | None = None
    socket: SocketLink | None = None  # in Socket Mode (an app token): the bot's connection

    @property
    def events_url(self) -> str:
        """Return the URL Slack posts to."""
        return f"{self.server.url}/slack/events"

    def stop(self) -> None:
        """Stop serving and the background workers."""
        if self.socket is not None:
            self.socket.close()
        self.server.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown()
        self.services.token.stop()
        self.services.outbox.stop()
        self.services.db.dispose()


def start_local(
    settings: Settings,
    config: TeamConfig,
    db: Database,
    *,
    clock: Clock = system_clock,
    port: int = 0,
    outbox_interval: float | None = 1.0,
    scheduler: bool = True,
    client: WebClient | None = None,
) -> Running:
    """Start the bot's HTTP server on loopback in background threads (and the scheduler).

    With an app token in `settings`, Slack's requests come over Socket Mode instead: the
    server then serves only health, readiness, metrics and calendar feeds.
    """
    svc = build_services(settings, config, clock=clock, db=db, client=client)
    svc.token.start()
    svc.slack.refresh_usergroups(usergroups_of(config))  # here at once: tests count calls
    app = create_app(svc)
    link = SocketLink(app, settings.slack_app_token) if settings.slack_app_token else None
    if link is None:
        web = create_web(app, svc)
    else:
        web = create_operational_web(svc, checks={"socket_mode": link.connected})
    server = Server(web, port=port).start()
    if outbox_interval:
        svc.outbox.start(outbox_interval)
    timer = None
    if scheduler:
        timer = _start_scheduler(svc)
    if link is not None:
        link.connect()
    return Running(svc, app, server, timer, link)


def _start_scheduler(svc: Services) -> Scheduler:
    """Start the scheduler, its readiness check being that a pass ended recently."""
    timer = Scheduler(svc)
    svc.readiness.add(
        "scheduler",
        scheduler_check(lambda: timer.last_pass_at, max_age=3 * timer.reconcile_every),
    )
    timer.start()
    return timer


def wire_http(
    settings: Settings,
    config: TeamConfig,
    booting: Booting,
    started: Started,
    *,
    scheduler: bool = True,
) -> None:
    """Wire `escbot run` over HTTP while `bot.boot` serves liveness: check the database,
    build the services, start the outbox and the scheduler, then serve Slack's requests."""
    db = Database(settings.database_url)
    started.stops.append(db.dispose)
    db.prepare()
    fastack.tune_process()
    svc = build_services(settings, config, db=db)
    svc.token.start()
    started.stops.append(svc.token.stop)
    app = create_app(svc)
    svc.slack.keep_fresh(usergroups_of(config))
    svc.outbox.start()
    started.stops.append(svc.outbox.stop)
    if scheduler:
        started.stops.append(_start_scheduler(svc).shutdown)
    booting.set(create_web(app, svc))
    fastack.freeze_heap()
    log.info("serving Slack at :%d/slack/events", settings.port)


def run_production(
    settings: Settings, config: TeamConfig, db: Database, *, scheduler: bool = True
) -> None:
    """Serve Slack until stopped: Socket Mode with an app token, else HTTP on PORT.

    `escbot run` over HTTP starts through `bot.boot` and `wire_http` instead, serving
    liveness while it wires; this runs the same bot with the database already checked."""
    fastack.tune_process()
    svc = build_services(settings, config, db=db)
    svc.token.start()
    app = create_app(svc)
    # In Socket Mode, learn first whether Slack takes the app token: a refused one stops the
    # process before it has sent anything.
    link = SocketLink(app, settings.slack_app_token) if settings.slack_app_token else None
    if link is not None:
        link.start()
    svc.slack.keep_fresh(usergroups_of(config))
    svc.outbox.start()
    timer = _start_scheduler(svc) if scheduler else None
    fastack.freeze_heap()
    # uvicorn stops on SIGTERM, then raises it again once it has: a handler of ours takes that
    # second one, so the workers below stop cleanly instead of the process dying mid-way.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        if link is not None:
            log.info("Socket Mode; health, readiness and metrics at :%d", settings.port)
            try:
                checks = {"socket_mode": link.connected}
                serve_forever(create_operational_web(svc, checks=checks), settings.port)
            finally:
                link.close()
        else:
            log.info("serving Slack at :%d/slack/events", settings.port)
            serve_forever(create_web(app, svc), settings.port)
    finally:
        if timer is not None:
            timer.shutdown()
        svc.outbox.stop()
        log.info("stopped")


def run_scheduler(settings: Settings, config: TeamConfig, db: Database) -> None:
    """Run only the scheduler (and the outbox sending its pings) until SIGTERM or Ctrl-C."""
    svc = build_services(settings, config, db=db)
    svc.token.start()
    svc.slack.keep_fresh(usergroups_of(config))
    svc.outbox.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    timer = _start_scheduler(svc)
    # health, readiness and metrics on PORT, as every process kind serves them
    server = Server(create_operational_web(svc), host="0.0.0.0", port=settings.port).start()
    log.info(
        "scheduler running (health, readiness and metrics at :%d); Ctrl-C to stop", server.port
    )
    stop.wait()
    server.stop()
    timer.shutdown()
    svc.outbox.stop()
