"""Why the database cannot be used: errors the command line reports in one line.

Apart from storage.db so that the command line can name them without importing SQLAlchemy.
"""

from __future__ import annotations


class DatabaseProblem(RuntimeError):
    """The database cannot be used; the message is one line, the password hidden."""


class SchemaBehind(DatabaseProblem):
    """The database schema is older than this code."""


class DatabaseUnreachable(DatabaseProblem):
    """The database did not answer (or refused the connection)."""

