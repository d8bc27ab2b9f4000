"""Unit-test fixtures: a Services over fakes of the bot's ports (see tests/support/fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.clock import FakeClock
from bot.config import TeamConfig
from tests.support.fakes import Fakes, fake_services


@pytest.fixture
def fakes(config: TeamConfig, clock: FakeClock) -> Iterator[Fakes]:
    """A Services over an in-memory database, a recording outbox and a read-only Slack."""
    built = fake_services(config, clock)
    yield built
    built.close()
    assert built.slack.forbidden == [], f"use cases called Slack: {built.slack.forbidden}"
