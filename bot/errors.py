"""Domain errors: each carries the short message its user sees."""

from __future__ import annotations

import logging

from pydantic import ValidationError
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


# PEP 249 names these the same in every driver (sqlite3, psycopg, psycopg2…)
_DRIVER_UNREACHABLE = frozenset({"OperationalError", "InterfaceError"})


def database_unreachable(error: BaseException) -> bool:
    """Return True when the error means the database could not be reached: nothing was saved.

    SQLAlchemy's OperationalError or InterfaceError, a connection it invalidated, or the
    driver's own OperationalError (from a raw connection) — also as the cause of another.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError | NotSaved):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if any(
            kind.__name__ in _DRIVER_UNREACHABLE and kind.__module__ != "builtins"
            for kind in type(current).__mro__
        ):
            return True
        current = current.__cause__
    return False


def form_errors(error: ValidationError, rename: dict[str, str] | None = None) -> dict[str, str]:
    """Return a form's inline errors for a draft that failed validation, block by block,
    in words a person reads (not the validator's)."""
    out: dict[str, str] = {}
    for item in error.errors():
        if not item["loc"]:
            continue
        field = str(item["loc"][0])
        ctx = item.get("ctx") or {}
        if item["type"] == "string_too_short" and ctx.get("min_length") == 1:
            message = "Please fill this in."
        elif item["type"] == "string_too_long":
            message = f"At most {ctx.get('max_length')} characters, please."
        else:
            message = str(item["msg"])
        out.setdefault((rename or {}).get(field, field), message)
    return out


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
