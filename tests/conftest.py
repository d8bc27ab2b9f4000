"""Shared fixtures: databases on SQLite always, on PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import TeamConfig, load_config
from storage.db import Database
from tests.support.config import BACKENDS, EXAMPLE
from tests.support.databases import make_database


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no schema, on each backend."""
    db, dispose = make_database(request.param, tmp_path)
    yield db
    dispose()


@pytest.fixture
def db(empty_db: Database) -> Database:
    """A database upgraded to the newest schema, on each backend."""
    empty_db.upgrade()
    return empty_db


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """An upgraded SQLite database only (for tests about behaviour, not storage)."""
    database = Database(f"sqlite:///{tmp_path / 'bot.db'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def config() -> TeamConfig:
    """The shipped example team config."""
    return load_config(EXAMPLE)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at a fixed Wednesday morning."""
    return FakeClock(datetime(2026, 3, 4, 17, 0, tzinfo=UTC))
