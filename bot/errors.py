"""Domain errors: each carries the short message its user sees."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)

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


def user_message(error: BaseException) -> str | None:
    """Return what the user is told about an error, or None for one to raise (a bug).

    A UserError says it itself; a database out of reach means nothing was saved.
    """
    if isinstance(error, UserError):
        return str(error)
    if database_unreachable(error):
        log.error("not saved, the database is unreachable: %s", error)
        return NOT_SAVED
    return None
