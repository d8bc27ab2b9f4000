"""Engine, sessions and the unit of work; schema upgrades through Alembic.

Alembic (with Mako and Pygments, ~0.8 s to import) is imported only to upgrade: whether the
schema is current is read with plain SQLAlchemy (the `alembic_version` row against the
newest revision named in the shipped migrations), so `escbot run` on a current schema never
loads it.
"""

from __future__ import annotations

import ast
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.problems import DatabaseProblem, DatabaseUnreachable, SchemaBehind
from storage.repositories import Repositories, driver_error

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def safe_url(url: str) -> str:
    """Return the URL as it may be shown: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: show its scheme at most
        return url.split("://", 1)[0] + "://…" if "://" in url else "(not a database URL)"


def unreachable(url: str, exc: BaseException) -> DatabaseUnreachable:
    """Return the one-line error for a database that could not be reached."""
    cause = getattr(exc, "orig", None) or exc
    first = next((line.strip() for line in str(cause).splitlines() if line.strip()), "")
    return DatabaseUnreachable(f"cannot reach the database {safe_url(url)}: {first[:300]}")


class WriteLock:
    """The lock SQLite transactions of this process queue on; background ones go last.

    `background` says whether the calling thread does background work (staffing, pings);
    such a thread waits while any other thread waits, so an acknowledgement that must save
    its work is never queued behind a batch of background transactions.
    """

    def __init__(self) -> None:
        self._free = threading.Condition()
        self._held = False
        self._urgent = 0  # threads other than background ones waiting
        self.background: Callable[[], bool] = lambda: False

    def acquire(self) -> None:
        """Take the lock, after every waiting thread that is not background if this one is.

        A request thread waits at most `REQUEST_QUEUE_S`, then gets the OperationalError of a
        locked database: while another process holds SQLite's lock, the requests queued here
        must each say "not saved" in time, not one after the other's wait.
        """
        background = self.background()
        deadline = None if background else time.monotonic() + REQUEST_QUEUE_S
        with self._free:
            if not background:
                self._urgent += 1
            try:
                while self._held or (background and self._urgent):
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise OperationalError(
                            "BEGIN IMMEDIATE",
                            {},
                            sqlite3.OperationalError("database is locked (queued too long)"),
                        )
                    self._free.wait(left)
                self._held = True
            finally:
                if not background:
                    self._urgent -= 1

    def try_acquire(self) -> bool:
        """Take the lock if it is free and nobody waits for it; return whether it was taken."""
        with self._free:
            if self._held or self._urgent:
                return False
            self._held = True
            return True

    def release(self) -> None:
        """Let the next transaction go."""
        with self._free:
            self._held = False
            self._free.notify_all()

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


# How long a request's transaction waits for the others of this process (see WriteLock).
REQUEST_QUEUE_S = 1.2
# How long a transaction waits for another process's SQLite write lock. A request must answer
# within Slack's 3 s, "not saved" included, so it gives up well before; background work
# (staffing, pings) can wait out a long transaction elsewhere.
REQUEST_BUSY_MS = 1500
BACKGROUND_BUSY_MS = 30000


def begin_immediate(record: Any, background: bool, wait: int | None = None) -> None:
    """Open a SQLite write transaction on a pooled connection, waiting as long as fits (or
    `wait` ms for another process's lock)."""
    if wait is None:
        wait = BACKGROUND_BUSY_MS if background else REQUEST_BUSY_MS
    driver = record.driver_connection
    if record.info.get("busy_ms") != wait:
        driver.execute(f"PRAGMA busy_timeout={wait}")
        record.info["busy_ms"] = wait
    driver.execute("BEGIN IMMEDIATE")


class WouldWait(Exception):
    """The transaction cannot begin at once (another one writes), and the caller won't wait."""


def make_engine(url: str, write_lock: WriteLock | None = None, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and write-serialising transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let the "begin" hook below open transactions
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cursor.execute("PRAGMA journal_mode=WAL")
                # In WAL mode NORMAL survives a crash of the process (the WAL is on disk before
                # COMMIT returns); only a power cut may lose the newest transactions.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        # SQLite has one writer at a time. Queue this process's transactions on a lock rather
        # than in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and
        # starves the threads that wait; BEGIN IMMEDIATE still guards against other processes.
        lock = write_lock or WriteLock()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            lock.acquire()
            conn.info["holds_write_lock"] = True
            try:  # straight to the driver: a full statement execution costs 5x more here
                begin_immediate(conn.connection, lock.background())
            except sqlite3.Error as exc:  # as SQLAlchemy's, like any statement's failure
                _end(conn)
                raise DBAPIError.instance(
                    "BEGIN IMMEDIATE", None, exc, sqlite3.Error, dialect=engine.dialect
                ) from exc
            except BaseException:
                _end(conn)
                raise

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _end(conn: Any) -> None:
            if conn.info.pop("holds_write_lock", False):
                lock.release()

        return engine
    if url.startswith("postgresql") and "connect_timeout" not in url:
        # A server that drops packets must not hold a request for minutes: give up on a
        # connection after 2 s, on data unacknowledged for 2 s, on a peer silent for ~9 s.
        kwargs["connect_args"] = {
            "connect_timeout": 2,
            "tcp_user_timeout": 2000,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            **kwargs.get("connect_args", {}),
        }
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class UnitOfWork:
    """One transaction: `with uow:` … `uow.commit()`; anything not committed rolls back."""

    session: Session
    repos: Repositories

    def __init__(
        self,
        session_factory: Callable[[], Session],
        committed: Callable[[], None] | None = None,
    ):
        self._session_factory = session_factory
        self._committed = committed
        self._reschedules = False

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.repos = Repositories(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back anything uncommitted but, unlike rollback(), leaves loaded
        # objects readable after the unit of work ends.
        self.session.close()

    def commit(self) -> None:
        """Commit everything done in this unit of work; then, if it moved a ping's moment,
        tell whoever watches (see `reschedules`)."""
        self.session.commit()
        if self._reschedules:
            self._reschedules = False
            if self._committed is not None:
                self._committed()

    def reschedules(self) -> None:
        """Mark this transaction as changing when a ping falls due (a new or acknowledged
        escalation, a severity, an update, a sign-off, an override): once it commits, the
        database's schedule watchers are told, so a scheduler passes at once instead of at
        its next reconcile."""
        self._reschedules = True

    def flush(self) -> None:
        """Send pending changes to the database without committing."""
        self.session.flush()


class Database:
    """An engine and the factory of units of work over it."""

    def __init__(self, url: str, **engine_kwargs: Any):
        self.url = url
        self.write_lock = WriteLock()  # used by the embedded SQLite only
        try:
            self.engine = make_engine(url, self.write_lock, **engine_kwargs)
        except (ArgumentError, ImportError) as exc:  # no URL, or no driver for it
            raise DatabaseProblem(f"cannot use the database {safe_url(url)}: {exc}") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._watchers: list[Callable[[], None]] = []

    def uow(self) -> UnitOfWork:
        """Open a new unit of work (one per request or job)."""
        return UnitOfWork(self._sessions, self._rescheduled)

    def watch_schedule(self, watcher: Callable[[], None]) -> None:
        """Call `watcher` after every commit marked `UnitOfWork.reschedules`."""
        self._watchers.append(watcher)

    def unwatch_schedule(self, watcher: Callable[[], None]) -> None:
        """Stop calling `watcher`."""
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def _rescheduled(self) -> None:
        for watcher in list(self._watchers):
            watcher()

    @contextmanager
    def driver_transaction(self) -> Iterator[Any]:
        """Yield the driver's own connection in a transaction committed at the end.

        For a hot statement that must not pay for SQLAlchemy's execution (see `OutboxInsert`).
        On SQLite it queues on the write lock like any transaction of this process. Driver
        errors come out as SQLAlchemy's.
        """
        dialect = self.engine.dialect
        try:
            pooled = self.engine.raw_connection()
        except dialect.loaded_dbapi.Error as exc:  # the pool hands the driver's error on as is
            raise driver_error(dialect, exc, "", None) from exc
        driver: Any = pooled.driver_connection
        try:
            lock = self.write_lock if self.is_sqlite else nullcontext()
            with lock, self._committed(driver):
                if self.is_sqlite:
                    begin_immediate(pooled, self.write_lock.background())
                yield driver
        finally:
            pooled.close()

    @contextmanager
    def driver_transaction_now(self) -> Iterator[Any]:
        """`driver_transaction` for a caller that must not wait (the event loop): it begins
        only if the embedded SQLite database can be written at once, else raises WouldWait.

        A commit in WAL mode is a local write without fsync; any wait (this process's other
        writers, another process's lock, a database across the network) is not taken here.
        """
        if not self.is_sqlite or not self.write_lock.try_acquire():
            raise WouldWait
        try:
            pooled = self.engine.raw_connection()
        except BaseException:
            self.write_lock.release()
            raise WouldWait from None  # the caller's way round (a thread) meets the error
        driver: Any = pooled.driver_connection
        try:
            try:
                begin_immediate(pooled, False, wait=0)
            except sqlite3.Error:  # another process holds SQLite's write lock
                raise WouldWait from None
            with self._committed(driver):
                yield driver
        finally:
            pooled.close()
            self.write_lock.release()

    @contextmanager
    def _committed(self, driver: Any) -> Iterator[None]:
        """Commit the driver's transaction at the end, or roll it back; errors as SQLAlchemy's."""
        dialect = self.engine.dialect
        try:
            yield
            driver.commit()
        except BaseException as exc:
            driver.rollback()
            if isinstance(exc, dialect.loaded_dbapi.Error):
                raise driver_error(dialect, exc, "", None) from exc
            raise

    def set_background(self, background: Callable[[], bool]) -> None:
        """Let background threads' transactions queue after the others' (embedded SQLite)."""
        self.write_lock.background = background

    @property
    def is_sqlite(self) -> bool:
        """Return True for the embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from alembic import command

        try:
            with self.engine.begin() as conn:
                cfg = alembic_config(self.url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except DBAPIError as exc:
            if not exc.connection_invalidated and not isinstance(exc, OperationalError):
                raise
            raise unreachable(self.url, exc) from None

    def schema_revision(self) -> tuple[str | None, str | None]:
        """Return (the database's revision, the code's head revision)."""
        with self.engine.connect() as conn:
            current = None
            if inspect(conn).has_table("alembic_version"):
                current = conn.scalar(text("SELECT version_num FROM alembic_version"))
        return current, head_revision()

    def prepare(self, *, auto_upgrade: bool | None = None) -> None:
        """Upgrade embedded SQLite; elsewhere refuse to run on a schema that is behind.

        Raises DatabaseProblem (one line, password hidden) when it cannot be used.
        """
        if auto_upgrade is None:
            auto_upgrade = self.is_sqlite
        try:
            current, head = self.schema_revision()
        except DBAPIError as exc:
            raise unreachable(self.url, exc) from None
        if current == head:
            return
        if auto_upgrade:
            self.upgrade()
            return
        raise SchemaBehind(
            f"the schema of {safe_url(self.url)} is at {current or 'empty'}, this code needs "
            f"{head}: run `escbot db upgrade` first"
        )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def head_revision(versions: Path = MIGRATIONS / "versions") -> str | None:
    """Return the newest revision of the shipped migrations (one line of history: the one
    no other migration names as its `down_revision`), read without importing Alembic."""
    revisions: dict[str, str | None] = {}
    for path in versions.glob("*.py"):
        names: dict[str, Any] = {}
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
                node.value, ast.Constant
            ):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, ast.Name):
                        names[target.id] = node.value.value
        if isinstance(names.get("revision"), str):
            revisions[names["revision"]] = names.get("down_revision")
    heads = set(revisions) - set(revisions.values())
    if len(heads) > 1:
        raise DatabaseProblem(f"the shipped migrations have several heads: {sorted(heads)}")
    return next(iter(heads), None)


def alembic_config(url: str) -> Config:
    """Build an Alembic config pointing at the shipped migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
