"""Domain errors: each carries the short message its user sees."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a refused action: shown to the user as is, nothing changed."""


class UsageError(UserError):
    """A command could not be parsed; the message includes how to use it."""


class NotPermitted(UserError):
    """The user may not do this."""


class NotSaved(UserError):
    """The database could not record the request; nothing was done."""
