"""Domain errors: each carries the short message its user sees."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

NOT_SAVED = "Not saved: the database is unreachable. Please try again."


class UserError(Exception):
    """Bad input or a refused action: shown to the user as is, nothing changed."""


class UsageError(UserError):
    """A command could not be parsed; the message includes how to use it."""


class NotPermitted(UserError):
    """The user may not do this."""


class NotSaved(UserError):
    """The database could not record the request; nothing was done."""


def database_unreachable(error: BaseException) -> bool:
    """Return True when the error means the database could not be reached: nothing was saved."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated
