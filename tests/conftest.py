"""Shared fixtures: databases on SQLite always, on PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.clock import FakeClock
from bot.config import TeamConfig, load_config
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "escalation.example.yaml"
PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def make_database(kind: str, tmp_path: Path) -> tuple[Database, object]:
    """Return a fresh, empty database of this kind and a function that disposes of it."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'test.db'}")
        return db, db.dispose
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    return pg_schema_database(PG_URL)


def pg_schema_database(url: str, prefix: str = "t") -> tuple[Database, Callable[[], None]]:
    """Return a Database on a new schema of the PostgreSQL at `url`, and its disposal."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(url, connect_args={"options": f"-csearch_path={schema}"})

    def drop() -> None:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return db, drop


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no schema, on each backend."""
    db, dispose = make_database(request.param, tmp_path)
    yield db
    dispose()  # type: ignore[operator]


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
