"""Test databases: a fresh SQLite file, or a new schema of the PostgreSQL at TEST_DATABASE_URL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage.db import Database
from tests.support.config import PG_URL


def make_database(kind: str, tmp_path: Path) -> tuple[Database, Callable[[], None]]:
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


@contextmanager
def pg_schema_url(url: str, prefix: str = "p") -> Iterator[str]:
    """Yield a URL of the PostgreSQL at `url` whose connections use a new, empty schema."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
