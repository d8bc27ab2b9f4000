"""The sandbox's workspace kept beside its database, so the two survive a restart together.

The bot's database remembers escalations whose channels live in the emulated workspace; a
database without its workspace would send the outbox after channels that no longer exist.
So the workspace (people, channels, members, messages) is written next to a SQLite file as
`<name>.workspace.json`, read back on start, and a database found without its workspace is
set aside so that both start fresh.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.sandbox.emulator import Emulator

SAVE_EVERY = 0.5  # seconds between writes while the workspace keeps changing


def database_file(database_url: str) -> Path | None:
    """Return the SQLite file of a database URL, or None (another database, or in memory)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def workspace_file(database: Path) -> Path:
    """Return where the workspace of this database is kept."""
    return database.with_name(database.stem + ".workspace.json")


SHARED_WORKSPACE = Path("sandbox.workspace.json")  # for a database that is not a file


class WorkspaceMissing(Exception):
    """A database holds escalations whose workspace is gone, and cannot be set aside."""


def reconcile(database: Path) -> str | None:
    """Set aside a database or a workspace found alone; return what was done, if anything."""
    workspace = workspace_file(database)
    stamp = int(time.time())
    if database.exists() and not workspace.exists():
        aside = database.with_name(f"{database.name}.without-workspace-{stamp}")
        database.rename(aside)
        return (
            f"{database} had no workspace beside it (its channels are gone), so it was moved to "
            f"{aside.name} and the sandbox starts fresh"
        )
    if workspace.exists() and not database.exists():
        aside = workspace.with_name(f"{workspace.name}.without-database-{stamp}")
        workspace.rename(aside)
        return f"{workspace} had no database beside it, so it was moved to {aside.name}"
    return None


def require_workspace(path: Path, escalations: int, database_url: str) -> None:
    """Refuse a database with escalations when the workspace it was used with is missing."""
    if escalations and not path.exists():
        raise WorkspaceMissing(
            f"{database_url} holds {escalations} escalations but their sandbox workspace "
            f"({path}) is missing: restore it, or give the sandbox a fresh DATABASE_URL"
        )


class Keeper:
    """Write the emulator's workspace to a file soon after each change, and on close."""

    def __init__(self, emulator: Emulator, path: Path):
        self.emulator, self.path = emulator, path
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sandbox-keeper", daemon=True)

    def load(self) -> bool:
        """Restore the workspace from the file if there is one; return whether it was."""
        if not self.path.exists():
            return False
        self.emulator.restore(json.loads(self.path.read_text(encoding="utf-8")))
        return True

    def start(self) -> Keeper:
        """Save now and after every change from here on."""
        self.save()
        self.emulator.listeners.append(self._dirty.set)
        self._thread.start()
        return self

    def save(self) -> None:
        """Write the workspace atomically (a whole file or the previous one)."""
        with self._lock:
            data = json.dumps(self.emulator.snapshot(), separators=(",", ":"))
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text(data, encoding="utf-8")
            os.replace(partial, self.path)

    def close(self) -> None:
        """Stop watching and write the last state."""
        self._closed.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.save()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait()
            if self._closed.is_set():
                break
            self._dirty.clear()
            self.save()
            self._closed.wait(SAVE_EVERY)
