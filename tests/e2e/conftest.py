"""End-to-end fixtures: the bot over real HTTP against the Slack emulator over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import TeamConfig
from storage.db import Database
from tests.support.world import World, make_world


@pytest.fixture
def world(config: TeamConfig, tmp_path: Path, clock: FakeClock) -> Iterator[World]:
    """A running workspace with the example config, rate limits off."""
    w = make_world(config, tmp_path, clock)
    yield w
    w.bot.stop()
    w.emulator.stop()


@pytest.fixture
def any_world(
    db: Database, config: TeamConfig, tmp_path: Path, clock: FakeClock
) -> Iterator[World]:
    """A running workspace on each database backend (the parametrized `db`)."""
    w = make_world(config, tmp_path, clock, db=db)
    yield w
    w.bot.stop()
    w.emulator.stop()
