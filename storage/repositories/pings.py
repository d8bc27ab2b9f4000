"""Queries the scheduler plans pings from: few columns, instants as epoch seconds, in bulk."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Row,
    and_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from storage.models import (
    Deadline,
    Escalation,
    RoleHolder,
    Signoff,
)


class epoch(FunctionElement[int]):
    """Whole seconds since 1970 of a UTC timestamp column (floor), computed in the database.

    Fetching integers is several times cheaper than fetching and converting datetimes, and a
    pass over ten thousand open escalations reads one row each.
    """

    type = BigInteger()
    inherit_cache = True
    name = "epoch"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    # Stored as naive UTC text; strftime('%s') reads it as UTC and drops the fraction.
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


class PingRepository:
    """What is open, unacknowledged or pending, as the scheduler needs it."""

    def __init__(self, session: Session):
        self.session = session

    def reminders_due(
        self, statuses: Sequence[str], everies: dict[str, int], since_s: int, until_s: int
    ) -> Sequence[Row[int, str, int]]:
        """Return (id, severity, epoch of the last update or creation) of the escalations in
        these statuses with an update-reminder moment in (since_s, until_s].

        The moments of an escalation are its last update (or creation) plus k × the
        `update_every` of its severity (given in `everies`, seconds), k ≥ 1. The filter runs
        in the database, so a pass reads only the rows that have something due.
        """
        base = epoch(func.coalesce(Escalation.last_update_at, Escalation.created_at))
        age = literal(until_s, BigInteger()) - base
        window = until_s - since_s
        return self.session.execute(
            select(Escalation.id, Escalation.severity, base).where(
                Escalation.status.in_(statuses),
                or_(
                    *(
                        and_(Escalation.severity == severity, age >= every, age % every < window)
                        for severity, every in everies.items()
                    )
                ),
            )
        ).all()

    def unacknowledged(self, statuses: Sequence[str]) -> Sequence[Row[int, str, int, int]]:
        """Return (id, severity, epoch created, epoch of the ack deadline) of those paging."""
        return self.session.execute(
            select(
                Escalation.id,
                Escalation.severity,
                epoch(Escalation.created_at),
                epoch(Escalation.ack_deadline),
            ).where(
                Escalation.status.in_(statuses),
                Escalation.acknowledged_at.is_(None),
            )
        ).all()

    def pending_signoffs(self, open_statuses: Sequence[str]) -> Sequence[Row[int, int, int]]:
        """Return (id, escalation id, epoch requested) of sign-offs pending on open escalations."""
        return self.session.execute(
            select(Signoff.id, Signoff.escalation_id, epoch(Signoff.requested_at))
            .join(Escalation, Escalation.id == Signoff.escalation_id)
            .where(Signoff.status == "pending", Escalation.status.in_(open_statuses))
        ).all()

    def pending_deadlines(
        self, statuses: Sequence[str]
    ) -> Sequence[Row[int, int, int, int | None]]:
        """Return (id, escalation id, epoch due, epoch of the reminder or None) of the
        deadlines not yet paged as passed, of escalations in these statuses."""
        return self.session.execute(
            select(
                Deadline.id,
                Deadline.escalation_id,
                epoch(Deadline.due_at),
                epoch(Deadline.remind_at),
            )
            .join(Escalation, Escalation.id == Deadline.escalation_id)
            .where(Deadline.breached_at.is_(None), Escalation.status.in_(statuses))
        ).all()
    def role_gaps(
        self, statuses: Sequence[str], required: Mapping[str, Sequence[str]]
    ) -> list[tuple[int, str, int, frozenset[str]]]:
        """Return (id, severity, epoch created, roles held) of the escalations in these
        statuses whose severity requires roles (`required`: severity → role IDs) that are
        not all held."""
        if not required:
            return []
        rows = self.session.execute(
            select(Escalation.id, Escalation.severity, epoch(Escalation.created_at)).where(
                Escalation.status.in_(statuses), Escalation.severity.in_(list(required))
            )
        ).all()
        if not rows:
            return []
        held: dict[int, set[str]] = {}
        numbers = [row[0] for row in rows]
        for start in range(0, len(numbers), 1000):
            for number, role in self.session.execute(
                select(RoleHolder.escalation_id, RoleHolder.role).where(
                    RoleHolder.escalation_id.in_(numbers[start : start + 1000])
                )
            ):
                held.setdefault(number, set()).add(role)
        out = []
        for number, severity, created in rows:
            roles = frozenset(held.get(number, ()))
            if not set(required[severity]) <= roles:
                out.append((number, severity, created, roles))
        return out

    def owned(self, owner: str, statuses: Sequence[str]) -> list[int]:
        """Return the numbers of the escalations `owner` owns in these statuses."""
        return list(
            self.session.scalars(
                select(Escalation.id)
                .where(Escalation.owner == owner, Escalation.status.in_(statuses))
                .order_by(Escalation.id)
            )
        )

    def owned_many(self, owners: Collection[str], statuses: Sequence[str]) -> dict[str, list[int]]:
        """Return, for each of these owners, the numbers of the escalations they own in these
        statuses (one query for many owners, as `owned` is for one)."""
        found: dict[str, list[int]] = {owner: [] for owner in owners}
        ordered = sorted(found)
        for start in range(0, len(ordered), 1000):
            for owner, number in self.session.execute(
                select(Escalation.owner, Escalation.id)
                .where(Escalation.owner.in_(ordered[start : start + 1000]))
                .where(Escalation.status.in_(statuses))
                .order_by(Escalation.id)
            ):
                if owner is not None:
                    found[owner].append(number)
        return found

    def still_owned(
        self, numbers: Sequence[int], owner: str, statuses: Sequence[str]
    ) -> list[Escalation]:
        """Return those of these escalations that `owner` still owns in these statuses."""
        return list(
            self.session.scalars(
                select(Escalation)
                .where(Escalation.id.in_(numbers), Escalation.status.in_(statuses))
                .where(Escalation.owner == owner)
                .order_by(Escalation.id)
            )
        )

    def raised_between(self, start: datetime, end: datetime) -> list[Escalation]:
        """Return the escalations raised in [start, end), oldest first."""
        return list(
            self.session.scalars(
                select(Escalation)
                .where(Escalation.created_at >= start, Escalation.created_at < end)
                .order_by(Escalation.id)
            )
        )
