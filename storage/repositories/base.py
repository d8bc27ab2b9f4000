"""Helpers shared by the repositories: named counters and the translation of driver
exceptions into SQLAlchemy's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Dialect,
    Table,
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


def unnest_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: str | None = None,
    returning: str | None = None,
) -> list[Any]:
    """Insert `rows` on PostgreSQL in one statement, `INSERT … SELECT FROM unnest(arrays)`:
    one parameter per column, however many rows, so the statement text stays short (the
    driver parses a multi-row VALUES list of thousands of parameters with a regular
    expression on every batch: most of a first pass's time over a backlog, bench_scheduler).

    With `conflict` (a unique column) a row whose value exists is left as it is; with
    `returning` the values of that column of the rows inserted are returned.
    """
    if not rows:
        return []
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = list(rows[0])
    arrays: list[list[Any]] = []
    casts: list[str] = []
    for name in names:
        column = table.c[name]
        values = [row[name] for row in rows]
        if isinstance(column.type, JSON):
            values = [None if v is None else json.dumps(v) for v in values]
            casts.append("json")
        else:
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                values = [process(v) for v in values]
            casts.append(column.type.compile(dialect))
        arrays.append(values)
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT * FROM unnest({', '.join(f'%b::{cast}[]' for cast in casts)})"
    )
    if conflict:
        sql += f" ON CONFLICT ({quote(conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {quote(returning)}"
    # Binary parameters (%b): the text format escapes every array element with a regex.
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(sql, arrays)
        return [row[0] for row in cursor.fetchall()] if returning else []
    except dialect.loaded_dbapi.Error as exc:
        raise driver_error(dialect, exc, sql, arrays) from exc
    finally:
        cursor.close()
