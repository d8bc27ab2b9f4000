"""A workspace whose bot takes Slack's requests over Socket Mode instead of HTTP.

`E2E_TRANSPORT=socket` runs the whole end-to-end suite this way: every world the tests start
is a Socket Mode one, and the checks that are about HTTP itself (signatures) are skipped.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.runtime import start_local
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.seed import seed
from bot.sandbox.socket_mode import ACK_TIMEOUT, SocketMode
from bot.settings import Settings
from bot.slack import Sleep, make_client
from storage.db import Database
from tests.support.world import World

#: True when the end-to-end suite runs over Socket Mode (E2E_TRANSPORT=socket).
SOCKET_TRANSPORT = os.environ.get("E2E_TRANSPORT") == "socket"

#: Marks a check of HTTP itself (request signatures), which has no Socket Mode counterpart.
http_only = pytest.mark.skipif(SOCKET_TRANSPORT, reason="about HTTP request signatures")


@dataclass
class SocketWorld(World):
    """An emulated workspace, its Socket Mode endpoint, the bot connected to it, and a driver
    whose requests travel as envelopes (the same fields as the HTTP world's)."""

    socket: SocketMode

    def stop(self) -> None:
        """Stop the bot, then the workspace (its Socket Mode endpoint with it)."""
        self.bot.stop()
        self.emulator.stop()


def make_socket_world(
    config: TeamConfig,
    tmp_path: Path,
    clock: FakeClock,
    *,
    db: Database | None = None,
    ack_timeout: float = ACK_TIMEOUT,
    rate_limits: bool = False,
    scheduler: bool = False,
    emulator: Emulator | None = None,
    sleep: Sleep | None = None,
    slack_timeout: int = 10,
) -> SocketWorld:
    """Start an emulator with Socket Mode, seeded from `config`, and the bot connected to it.

    The other arguments are those of the HTTP world's `make_world`.
    """
    emulator = emulator or Emulator(rate_limits=rate_limits)
    emulator.start()
    handles = seed(emulator, config)
    socket = SocketMode(emulator, ack_timeout=ack_timeout).start()
    if db is None:
        db = Database(f"sqlite:///{tmp_path / 'socket.db'}")
        db.upgrade()
    settings = Settings(
        slack_bot_token=emulator.bot_token,
        slack_app_token=socket.app_token,
        slack_api_url=emulator.url,
        database_url=db.url,
        _env_file=None,
    )  # type: ignore[call-arg]
    client = make_client(
        emulator.bot_token, emulator.url, timeout=slack_timeout, sleep=sleep or time.sleep
    )
    bot = start_local(
        settings, config, db, clock=clock, outbox_interval=None, scheduler=scheduler, client=client
    )
    socket.wait_connected()
    driver = Driver(emulator, bot.events_url, "", transport=socket.transport)
    return SocketWorld(emulator, bot, driver, db, config, clock, handles, socket)
