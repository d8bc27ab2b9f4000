"""Repositories: the queries the use cases need, over one session."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Dialect, Table, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    Counter,
    Decision,
    Escalation,
    Followup,
    OutboxItem,
    Override,
    Participant,
    ProcessedRequest,
    SentNotification,
    Signoff,
    TimelineEvent,
)
from storage.pings import PingRepository


class Repositories:
    """Every repository, sharing one session (one unit of work)."""

    def __init__(self, session: Session):
        self.session = session
        self.escalations = EscalationRepository(session)
        self.decisions = DecisionRepository(session)
        self.overrides = OverrideRepository(session)
        self.ledger = LedgerRepository(session)
        self.outbox = OutboxRepository(session)
        self.requests = RequestRepository(session)
        self.pings = PingRepository(session)


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


class EscalationRepository:
    """Escalations and what hangs off them."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, escalation: Escalation) -> Escalation:
        """Give the escalation the next ESC number and stage it."""
        escalation.id = next_value(self.session, "escalation")
        self.session.add(escalation)
        self.session.flush()
        return escalation

    def get(self, number: int) -> Escalation | None:
        """Return ESC-<number>, or None."""
        return self.session.get(Escalation, number)

    def load_many(self, numbers: Collection[int]) -> list[Escalation]:
        """Return these escalations with their participants, read in two queries; while the
        caller holds the list, `get` on each of them reads no more."""
        ordered = sorted(numbers)
        loaded: list[Escalation] = []
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start : start + 1000]
            loaded += self.session.scalars(
                select(Escalation)
                .where(Escalation.id.in_(chunk))
                .options(selectinload(Escalation.participants))
            ).all()
        return loaded

    def by_channel(self, channel_id: str) -> Escalation | None:
        """Return the escalation worked in this channel, or None."""
        return self.session.scalars(
            select(Escalation).where(Escalation.channel_id == channel_id)
        ).one_or_none()

    def by_request_key(self, key: str) -> Escalation | None:
        """Return the escalation created by this request, or None."""
        return self.session.scalars(
            select(Escalation).where(Escalation.request_key == key)
        ).one_or_none()

    def find(
        self,
        *,
        statuses: Sequence[str] | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Escalation]:
        """Return escalations, newest first, filtered by status and creation time."""
        stmt = select(Escalation).order_by(Escalation.id.desc())
        if statuses:
            stmt = stmt.where(Escalation.status.in_(statuses))
        if since is not None:
            stmt = stmt.where(Escalation.created_at >= since)
        if limit:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def open_by_severity(self, statuses: Sequence[str]) -> dict[str, int]:
        """Return how many escalations are in these statuses, by severity."""
        rows = self.session.execute(
            select(Escalation.severity, func.count())
            .where(Escalation.status.in_(statuses))
            .group_by(Escalation.severity)
        ).all()
        return {severity: int(n) for severity, n in rows}

    def add_participant(self, participant: Participant) -> None:
        """Stage a participant."""
        self.session.add(participant)

    def add_event(
        self, escalation_id: int, at: datetime, kind: str, actor: str | None = None, **detail: Any
    ) -> TimelineEvent:
        """Append a timeline event."""
        event = TimelineEvent(
            escalation_id=escalation_id, at=at, kind=kind, actor=actor, detail=detail
        )
        self.session.add(event)
        return event

    def timeline(self, escalation_id: int) -> list[TimelineEvent]:
        """Return the escalation's timeline, oldest first."""
        return list(
            self.session.scalars(
                select(TimelineEvent)
                .where(TimelineEvent.escalation_id == escalation_id)
                .order_by(TimelineEvent.at, TimelineEvent.id)
            )
        )

    def signoffs(self, escalation_id: int) -> list[Signoff]:
        """Return the escalation's sign-off requests, oldest first."""
        return list(
            self.session.scalars(
                select(Signoff).where(Signoff.escalation_id == escalation_id).order_by(Signoff.id)
            )
        )

    def followups(
        self, escalation_id: int | None = None, *, status: str | None = None
    ) -> list[Followup]:
        """Return follow-ups of one escalation (or all), oldest first."""
        stmt = select(Followup).order_by(Followup.id)
        if escalation_id is not None:
            stmt = stmt.where(Followup.escalation_id == escalation_id)
        if status is not None:
            stmt = stmt.where(Followup.status == status)
        return list(self.session.scalars(stmt))

    def lock(self, number: int) -> Escalation | None:
        """Return ESC-<number> locked for update until the unit of work ends, or None."""
        return self.session.get(Escalation, number, with_for_update=True, populate_existing=True)

    def signoff(self, signoff_id: int) -> Signoff | None:
        """Return the sign-off request, or None."""
        return self.session.get(Signoff, signoff_id)

    def add_signoff(self, signoff: Signoff) -> Signoff:
        """Stage a sign-off request and give it its ID."""
        self.session.add(signoff)
        self.session.flush()
        return signoff

    def followup(self, followup_id: int) -> Followup | None:
        """Return the follow-up, or None."""
        return self.session.get(Followup, followup_id)

    def add_followup(self, followup: Followup) -> Followup:
        """Stage a follow-up and give it its ID."""
        self.session.add(followup)
        self.session.flush()
        return followup


class DecisionRepository:
    """The append-only decision log."""

    def __init__(self, session: Session):
        self.session = session

    def last(self, escalation_id: int) -> Decision | None:
        """Return the newest entry of an escalation's chain."""
        return self.session.scalars(
            select(Decision)
            .where(Decision.escalation_id == escalation_id)
            .order_by(Decision.seq.desc())
            .limit(1)
        ).first()

    def add(self, decision: Decision) -> Decision:
        """Stage a new entry (the caller computed its seq and hashes)."""
        self.session.add(decision)
        self.session.flush()
        return decision

    def chain(self, escalation_id: int) -> list[Decision]:
        """Return an escalation's entries in order."""
        return list(
            self.session.scalars(
                select(Decision)
                .where(Decision.escalation_id == escalation_id)
                .order_by(Decision.seq)
            )
        )

    def chains(self) -> list[int]:
        """Return the IDs of escalations that have decisions."""
        return list(
            self.session.scalars(
                select(Decision.escalation_id).distinct().order_by(Decision.escalation_id)
            )
        )

    def count(self, escalation_id: int) -> int:
        """Return how many entries an escalation has."""
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(Decision)
                .where(Decision.escalation_id == escalation_id)
            )
            or 0
        )

    def by_request_key(self, key: str) -> Decision | None:
        """Return the entry recorded by this request, or None."""
        return self.session.scalars(
            select(Decision).where(Decision.request_key == key)
        ).one_or_none()

    def get(self, decision_id: int) -> Decision | None:
        """Return the entry, or None."""
        return self.session.get(Decision, decision_id)


class OverrideRepository:
    """On-call overrides."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, override: Override) -> Override:
        """Stage an override."""
        self.session.add(override)
        self.session.flush()
        return override

    def get(self, override_id: int) -> Override | None:
        """Return the override, or None."""
        return self.session.get(Override, override_id)

    def active(
        self,
        *,
        rotation: str | None = None,
        ending_after: datetime | None = None,
        starting_before: datetime | None = None,
    ) -> list[Override]:
        """Return overrides not removed, in creation order, filtered by rotation and window."""
        stmt = select(Override).where(Override.removed_at.is_(None)).order_by(Override.id)
        if rotation is not None:
            stmt = stmt.where(Override.rotation == rotation)
        if ending_after is not None:
            stmt = stmt.where(Override.end > ending_after)
        if starting_before is not None:
            stmt = stmt.where(Override.start < starting_before)
        return list(self.session.scalars(stmt))


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
        stmt = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(table.c.key)
        )
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


def driver_error(dialect: Dialect, exc: Exception, sql: str, params: Any) -> Exception:
    """Return SQLAlchemy's exception (OperationalError, IntegrityError…) for a driver's."""
    return DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error, dialect=dialect)


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
        return list(
            self.session.scalars(
                update(OutboxItem)
                .where(
                    OutboxItem.escalation_id == escalation_id,
                    OutboxItem.status == "pending",
                    OutboxItem.last_error.startswith(marker, autoescape=True),
                    OutboxItem.next_attempt_at > now,
                )
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
        """Extend the lease of these items while this worker still holds them; return how many."""
        result = self.session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(item_ids), OutboxItem.locked_by == owner)
            .where(OutboxItem.status == "pending", OutboxItem.locked_until.is_not(None))
            .values(locked_until=until)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

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
        result = self.session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(item_ids), OutboxItem.locked_by == owner)
            .where(OutboxItem.status == "pending")
            .values(locked_until=None, locked_by=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def release(self, owner: str) -> int:
        """Free every pending item a (dead) worker holds; return how many."""
        result = self.session.execute(
            update(OutboxItem)
            .where(OutboxItem.locked_by == owner, OutboxItem.status == "pending")
            .values(locked_until=None, locked_by=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class RequestRepository:
    """Keys of Slack requests already handled (retries and double clicks)."""

    def __init__(self, session: Session):
        self.session = session

    def claim(self, key: str, kind: str, now: datetime, **result: Any) -> bool:
        """Record the request key; return False when it was seen before."""
        try:
            with self.session.begin_nested():
                self.session.add(
                    ProcessedRequest(key=key, kind=kind, created_at=now, result=result)
                )
        except IntegrityError:
            return False
        return True

    def get(self, key: str) -> ProcessedRequest | None:
        """Return the processed request, or None."""
        return self.session.get(ProcessedRequest, key)
