"""The ledger repository: sent-notification keys claimed once, their statuses and the
row recording since when pings run on this database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import (
    Table,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import (
    SentNotification,
)
from storage.repositories.base import unnest_insert

FIRST_START = "start:first"  # the ledger row saying since when pings run on this database


class LedgerRepository:
    """The sent-notifications ledger: a ping's key is claimed once, ever."""

    def __init__(self, session: Session):
        self.session = session

    def claim(
        self, key: str, kind: str, due_at: datetime, now: datetime, status: str = "sent"
    ) -> bool:
        """Record the ping's key; return False when it was already claimed."""
        try:
            with self.session.begin_nested():
                self.session.add(
                    SentNotification(
                        key=key, kind=kind, due_at=due_at, status=status, recorded_at=now
                    )
                )
        except IntegrityError:
            return False
        return True

    def has(self, key: str) -> bool:
        """Return True when the key was claimed."""
        return (
            self.session.scalar(select(SentNotification.id).where(SentNotification.key == key))
            is not None
        )

    def status(self, key: str) -> str | None:
        """Return the status the key was claimed with (sent, skipped, empty), or None."""
        return self.session.scalar(
            select(SentNotification.status).where(SentNotification.key == key)
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Return the claimed keys starting with prefix."""
        return list(
            self.session.scalars(
                select(SentNotification.key)
                .where(SentNotification.key.startswith(prefix))
                .order_by(SentNotification.id)
            )
        )

    def first_start(self, now: datetime) -> datetime:
        """Return since when pings run on this database, recording `now` on the first start.

        A ledger already holding pings (kept before this record existed) dates from its
        oldest one.
        """
        found = self.session.scalar(
            select(SentNotification.due_at).where(SentNotification.key == FIRST_START)
        )
        if found is not None:
            return found
        oldest = self.session.scalar(select(func.min(SentNotification.recorded_at)))
        self.claim_many([(FIRST_START, "start", oldest or now, "skipped")], now)
        return self.session.scalar(
            select(SentNotification.due_at).where(SentNotification.key == FIRST_START)
        ) or (oldest or now)

    def claim_many(
        self, pings: Sequence[tuple[str, str, datetime, str]], now: datetime
    ) -> set[str]:
        """Record many (key, kind, due_at, status) at once; return the keys this call won."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # One order for every caller, so two processes claiming overlapping keys never deadlock.
        ordered = sorted(dict((p[0], p) for p in pings).values())
        if not ordered:
            return set()
        rows = [
            {"key": k, "kind": kind, "due_at": due, "status": status, "recorded_at": now}
            for k, kind, due, status in ordered
        ]
        # One statement compiled once (and cached), its rows sent in multi-row batches by the
        # driver's insertmanyvalues: a third of the cost of compiling a VALUES list per batch
        # (bench_scheduler: the first pass after start over a backlog).
        table = cast(Table, SentNotification.__table__)
        if dialect == "postgresql":  # one short statement over arrays, however many rows
            connection = self.session.connection()
            return set(unnest_insert(connection, table, rows, conflict="key", returning="key"))
        stmt = insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
        return set(self.session.connection().execute(stmt, rows).scalars())

    def set_status(self, key: str, status: str) -> None:
        """Change the recorded status of a claimed key (e.g. nothing turned out to be due)."""
        self.session.execute(
            update(SentNotification).where(SentNotification.key == key).values(status=status)
        )

    def present(self, keys: Sequence[str]) -> set[str]:
        """Return those of these keys already in the ledger (read on the unique key's index)."""
        found: set[str] = set()
        for start in range(0, len(keys), 1000):
            chunk = list(keys[start : start + 1000])
            found.update(
                self.session.scalars(
                    select(SentNotification.key).where(SentNotification.key.in_(chunk))
                )
            )
        return found

    def recent(self, kinds: Sequence[str], since: datetime) -> list[tuple[str, datetime]]:
        """Return (key, due_at) of the pings of these kinds due since `since`."""
        return [
            (key, due_at)
            for key, due_at in self.session.execute(
                select(SentNotification.key, SentNotification.due_at).where(
                    SentNotification.kind.in_(kinds), SentNotification.due_at >= since
                )
            )
        ]
