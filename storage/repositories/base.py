"""Helpers shared by the repositories: named counters and the translation of driver
exceptions into SQLAlchemy's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Dialect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from storage.models import (
    Counter,
)


def next_value(session: Session, name: str) -> int:
    """Bump and return the named counter; concurrent callers never get the same value."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Counter)
        .values(name=name, value=1)
        .on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )
    return int(session.execute(stmt).scalar_one())


def driver_error(dialect: Dialect, exc: Exception, sql: str, params: Any) -> Exception:
    """Return SQLAlchemy's exception (OperationalError, IntegrityError…) for a driver's."""
    return DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error, dialect=dialect)
