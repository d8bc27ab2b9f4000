"""Real database outages, as the bot's connections see them.

PostgreSQL: the bot connects through a `Proxy` that refuses new connections and cuts the
open ones. SQLite: another process's connection holds the database's write lock, as a
backup or a stray `sqlite3` shell does.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from storage.db import Database
from tests.support.proxy import Proxy


class Outage:
    """Take a database away and give it back."""

    def __init__(self, down: Callable[[], None], up: Callable[[], None]):
        self._down, self._up = down, up
        self.is_down = False

    def down(self) -> None:
        """The database stops answering."""
        if not self.is_down:
            self._down()
            self.is_down = True

    def up(self) -> None:
        """The database answers again."""
        if self.is_down:
            self._up()
            self.is_down = False

    @contextmanager
    def during(self) -> Iterator[None]:
        """Within the block, the database is down."""
        self.down()
        try:
            yield
        finally:
            self.up()


def sqlite_outage(path: str) -> Outage:
    """An outage of the SQLite file at `path`: its write lock held from elsewhere."""
    holder: list[sqlite3.Connection] = []

    def down() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=5)
        conn.execute("BEGIN EXCLUSIVE")
        holder.append(conn)

    def up() -> None:
        conn = holder.pop()
        conn.execute("ROLLBACK")
        conn.close()

    return Outage(down, up)


@contextmanager
def postgres_behind_proxy(url: str) -> Iterator[tuple[Database, Outage]]:
    """A fresh, upgraded schema on the PostgreSQL at `url`, the bot's database reaching it
    through a proxy; the schema is made and dropped over a direct connection."""
    proxy, proxied = Proxy.for_url(url)
    schema = f"o_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(proxied, connect_args={"options": f"-csearch_path={schema}"})
    try:
        db.upgrade()
        yield db, Outage(proxy.down, proxy.up)
    finally:
        with contextlib.suppress(Exception):
            proxy.up()
        db.dispose()
        proxy.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
