"""The end-to-end world: an emulated workspace, the bot serving it, a driver acting as users.

`make_world` starts one (over Socket Mode instead of HTTP when E2E_TRANSPORT=socket).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.runtime import Running, start_local
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.seed import seed
from bot.settings import Settings
from bot.slack import Sleep, make_client
from storage.db import Database

SECRET = "e2e-signing-secret"  # the signing secret every end-to-end bot is started with


@dataclass
class World:
    """An emulated workspace, the bot serving it, and a driver acting as users."""

    emulator: Emulator
    bot: Running
    driver: Driver
    db: Database
    config: TeamConfig
    clock: FakeClock
    handles: dict[str, str]

    def settle(self) -> None:
        """Wait until the bot has finished the Slack work already handed to it."""
        self.bot.services.wait_idle(timeout=30)


def make_world(
    config: TeamConfig,
    tmp_path: Path,
    clock: FakeClock,
    *,
    rate_limits: bool = False,
    db: Database | None = None,
    scheduler: bool = False,
    emulator: Emulator | None = None,
    sleep: Sleep | None = None,
    slack_timeout: int = 10,
    token: str | None = None,
    api_url: str | None = None,
) -> World:
    """Start an emulator seeded from `config` and the bot wired to it (over Socket Mode
    instead of HTTP when E2E_TRANSPORT=socket).

    `sleep` replaces the Web API client's waits between retries (a drill advances a fake
    clock instead of sleeping); `emulator` may be a prepared (unstarted) one; `token` and
    `api_url` replace the bot's token and Web API address (a refused token, Slack away).
    """
    from tests.support.socket_world import SOCKET_TRANSPORT, make_socket_world

    if SOCKET_TRANSPORT:  # the same checks with the bot on Socket Mode
        return make_socket_world(
            config,
            tmp_path,
            clock,
            db=db,
            rate_limits=rate_limits,
            scheduler=scheduler,
            emulator=emulator,
            sleep=sleep,
            slack_timeout=slack_timeout,
        )
    emulator = emulator or Emulator(rate_limits=rate_limits)
    emulator.start()
    handles = seed(emulator, config)
    if db is None:
        db = Database(f"sqlite:///{tmp_path / 'e2e.db'}")
        db.upgrade()
    settings = Settings(
        slack_bot_token=emulator.bot_token,
        slack_signing_secret=SECRET,
        slack_api_url=emulator.url,
        database_url=db.url,
        _env_file=None,
    )  # type: ignore[call-arg]
    client = make_client(
        token or emulator.bot_token,
        api_url or emulator.url,
        timeout=slack_timeout,
        sleep=sleep or time.sleep,
    )
    bot = start_local(
        settings,
        config,
        db,
        clock=clock,
        outbox_interval=None,
        scheduler=scheduler,
        client=client,
    )
    driver = Driver(emulator, bot.events_url, SECRET)
    return World(emulator, bot, driver, db, config, clock, handles)
