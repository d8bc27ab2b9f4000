"""The end-to-end world: an emulated workspace, the bot serving it, a driver acting as users."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.runtime import Running
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from storage.db import Database


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
