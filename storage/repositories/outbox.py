"""The outbox repository: staged Slack side effects (:class:`NewItem`), the compiled
per-dialect bulk insert (:class:`OutboxInsert`), and due, lock and release queries.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Dialect,
    Table,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import (
    OutboxItem,
)
from storage.repositories.base import driver_error, unnest_insert


@dataclass(frozen=True)
class NewItem:
    """A side effect to stage: its unique key, its kind, its escalation and its payload."""

    key: str
    kind: str
    escalation_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def row(self, now: datetime) -> dict[str, Any]:
        """Return the outbox row staging this item at `now` (pending, due at once)."""
        return {
            "key": self.key,
            "kind": self.kind,
            "escalation_id": self.escalation_id,
            "payload": self.payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }


class OutboxInsert:
    """The statement staging one outbox row unless its key exists, in the driver's own terms.

    SQLAlchemy compiles it once per dialect and the columns' own types convert the values;
    it then runs on the driver's connection. Acknowledging a command waits for this insert,
    and there SQLAlchemy's execution of a statement costs several times what the database
    spends on it.
    """

    COLUMNS = ("key", "kind", "escalation_id", "payload", "status", "attempts")
    TIMES = ("next_attempt_at", "created_at")

    def __init__(self, dialect: Dialect):
        self.dialect = dialect
        table = cast(Table, OutboxItem.__table__)
        insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        names = self.COLUMNS + self.TIMES
        compiled = (
            insert(table)
            .values({name: bindparam(name) for name in names})
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(table.c.key)
            .compile(dialect=dialect)
        )
        self.sql = compiled.string
        self._order = compiled.positiontup if compiled.positional else None
        converters = {name: table.c[name].type.dialect_impl(dialect) for name in names}
        self._convert = {
            name: process
            for name, impl in converters.items()
            if (process := impl.bind_processor(dialect)) is not None
        }

    def params(self, item: NewItem, now: datetime) -> Any:
        """Return the driver's parameters staging `item` at `now`."""
        values = item.row(now)
        for name, convert in self._convert.items():
            values[name] = convert(values[name])
        return values if self._order is None else tuple(values[name] for name in self._order)

    def run(self, driver_connection: Any, items: Sequence[NewItem], now: datetime) -> set[str]:
        """Stage `items` in the driver connection's open transaction; return the new keys.

        A key already there, or repeated in `items`, is left as it is (the first wins).
        Driver errors come out as SQLAlchemy's, as from any other statement.
        """
        rows: dict[str, NewItem] = {}
        for item in items:
            rows.setdefault(item.key, item)
        created: set[str] = set()
        for item in rows.values():
            params = self.params(item, now)
            try:
                new = driver_connection.execute(self.sql, params).fetchone()
            except self.dialect.loaded_dbapi.Error as exc:
                raise driver_error(self.dialect, exc, self.sql, params) from exc
            if new is not None:
                created.add(new[0])
        return created

    @staticmethod
    def of(dialect: Dialect) -> OutboxInsert:
        """Return the statement for this dialect, compiled once."""
        return _outbox_inserts(dialect)


@functools.cache
def _outbox_inserts(dialect: Dialect) -> OutboxInsert:
    return OutboxInsert(dialect)


class OutboxRepository:
    """Slack side effects waiting to be done."""

    def __init__(self, session: Session):
        self.session = session

    def add(
        self,
        key: str,
        kind: str,
        now: datetime,
        *,
        escalation_id: int | None = None,
        **payload: Any,
    ) -> bool:
        """Stage a side effect under a unique key; return False when it exists already."""
        return key in self.add_many([NewItem(key, kind, escalation_id, payload)], now)

    def add_many(self, items: Sequence[NewItem], now: datetime) -> set[str]:
        """Stage many side effects in one statement; return the keys that were new.

        A key already there, or repeated in `items`, is left as it is (the first wins).
        """
        connection = self.session.connection()  # the session's transaction, begun
        if len(items) <= 1:
            insert = OutboxInsert.of(connection.dialect)
            return insert.run(connection.connection.driver_connection, items, now)
        # Many items (a scheduler pass): one statement, its rows sent in multi-row batches by
        # insertmanyvalues, not one round trip each (bench_scheduler: the first pass after
        # start over a backlog, on PostgreSQL).
        rows: dict[str, dict[str, Any]] = {}
        for item in items:
            rows.setdefault(item.key, item.row(now))
        table = cast(Table, OutboxItem.__table__)
        if connection.dialect.name == "postgresql":  # one short statement over arrays
            found = unnest_insert(
                connection, table, list(rows.values()), conflict="key", returning="key"
            )
            return set(found)
        upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        stmt = upsert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
        return set(connection.execute(stmt, list(rows.values())).scalars())

    def get(self, key: str) -> OutboxItem | None:
        """Return the item with this key, or None."""
        return self.session.scalars(select(OutboxItem).where(OutboxItem.key == key)).one_or_none()

    def due(
        self,
        now: datetime,
        limit: int = 50,
        *,
        like: Sequence[str] = (),
        skip: Collection[int] = (),
    ) -> list[OutboxItem]:
        """Return pending items whose time has come and that nobody holds, oldest first.

        Only keys matching one of the LIKE patterns `like` (when given); never the ids in
        `skip` (the caller's own queue: without this, its oldest items hide every newer one).
        """
        stmt = (
            select(OutboxItem)
            .where(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now)
            .where((OutboxItem.locked_until.is_(None)) | (OutboxItem.locked_until <= now))
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        if like:
            stmt = stmt.where(or_(*(OutboxItem.key.like(p) for p in like)))
        if skip:
            stmt = stmt.where(OutboxItem.id.not_in(list(skip)))
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt))

    def wake(self, escalation_id: int, marker: str, now: datetime) -> list[str]:
        """Make an escalation's waiting items (last error starting with marker) due now."""
        waiting = self._lock_in_order(
            (
                OutboxItem.escalation_id == escalation_id,
                OutboxItem.status == "pending",
                OutboxItem.last_error.startswith(marker, autoescape=True),
                OutboxItem.next_attempt_at > now,
            )
        )
        if not waiting:
            return []
        return list(
            self.session.scalars(
                update(OutboxItem)
                .where(OutboxItem.id.in_(waiting))
                .values(next_attempt_at=now)
                .returning(OutboxItem.key)
            )
        )

    def pending(self, escalation_id: int) -> list[OutboxItem]:
        """Return an escalation's side effects not yet done."""
        return list(
            self.session.scalars(
                select(OutboxItem)
                .where(OutboxItem.escalation_id == escalation_id, OutboxItem.status == "pending")
                .order_by(OutboxItem.id)
            )
        )

    def backlog(self) -> tuple[int, datetime | None]:
        """Return how many items are pending and when the oldest of them was recorded."""
        count, oldest = self.session.execute(
            select(func.count(), func.min(OutboxItem.created_at)).where(
                OutboxItem.status == "pending"
            )
        ).one()
        return int(count or 0), oldest

    def lock(self, item_id: int, until: datetime, now: datetime, owner: str | None = None) -> bool:
        """Take the item for a worker until `until`; return False when another holds it."""
        result = self.session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id, OutboxItem.status == "pending")
            .where((OutboxItem.locked_until.is_(None)) | (OutboxItem.locked_until <= now))
            .values(locked_until=until, locked_by=owner)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def renew(self, owner: str, item_ids: Sequence[int], until: datetime) -> int:
        """Extend the lease of these items while this worker still holds them; return how many.

        An item another transaction is changing right now (its worker settling it) is left
        out: it needs no longer lease, and waiting for it could deadlock with that worker.
        """
        held = self._lock_in_order(
            (
                OutboxItem.id.in_(item_ids),
                OutboxItem.locked_by == owner,
                OutboxItem.status == "pending",
                OutboxItem.locked_until.is_not(None),
            ),
            skip_locked=True,
        )
        if not held:
            return 0
        result = self.session.execute(
            update(OutboxItem).where(OutboxItem.id.in_(held)).values(locked_until=until)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _lock_in_order(self, where: Sequence[Any], *, skip_locked: bool = False) -> list[int]:
        """Lock the matching rows in ascending id order; return their ids.

        Every transaction that changes several outbox rows takes them in this one order (as
        `Outbox.settle` does), so two of them never wait for each other in a cycle: a
        PostgreSQL UPDATE over many rows takes its row locks in whatever order it scans.
        SQLite has a single writer and needs no row locks.
        """
        stmt = select(OutboxItem.id).where(*where).order_by(OutboxItem.id)
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=skip_locked)
        return list(self.session.scalars(stmt))

    def lockers(self, prefix: str) -> list[str]:
        """Return the workers whose names start with `prefix` that hold pending items."""
        return list(
            self.session.scalars(
                select(OutboxItem.locked_by)
                .where(OutboxItem.locked_by.startswith(prefix, autoescape=True))
                .where(OutboxItem.status == "pending", OutboxItem.locked_until.is_not(None))
                .distinct()
            )
        )

    def free(self, owner: str, item_ids: Sequence[int]) -> int:
        """Free these items if this worker still holds them; return how many."""
        held = self._lock_in_order(
            (
                OutboxItem.id.in_(item_ids),
                OutboxItem.locked_by == owner,
                OutboxItem.status == "pending",
            )
        )
        if not held:
            return 0
        result = self.session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(held))
            .values(locked_until=None, locked_by=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def release(self, owner: str) -> int:
        """Free every pending item a (dead) worker holds; return how many."""
        held = self._lock_in_order((OutboxItem.locked_by == owner, OutboxItem.status == "pending"))
        if not held:
            return 0
        result = self.session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(held))
            .values(locked_until=None, locked_by=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
