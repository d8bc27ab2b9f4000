"""Logging, set up in one place: plain text, or one JSON object a line (`LOG_FORMAT=json`).

Work on behalf of an escalation or an outbox item runs inside `context(...)`; every line it
logs then carries the escalation and outbox key, in both formats' records and in JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = ("escalation", "outbox_key")
_MARK = "escbot_handler"

_context: ContextVar[dict[str, Any] | None] = ContextVar("escbot_log_context", default=None)


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Tag every line logged inside the block (this thread or task) with these fields."""
    current = _context.get() or {}
    token = _context.set({**current, **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copy the fields of the current `context` onto each record (None where unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _context.get() or {}
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, fields.get(name))
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message and the context."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def configure(*, verbose: bool = False, fmt: str = "text") -> None:
    """Send every log line to stderr in this format (`text` or `json`), at INFO or DEBUG.

    Called again (once the settings are read), it only changes the format. Like
    `logging.basicConfig`, it leaves a root logger that others set up (a test runner) alone.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, False)]
    if root.handlers and not ours:
        return
    if ours:
        handler = ours[0]
    else:
        handler = logging.StreamHandler()
        setattr(handler, _MARK, True)
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
        # APScheduler logs every date job it adds and runs; the passes log what they send.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        # The sandbox's Socket Mode endpoint logs every socket it opens and closes.
        logging.getLogger("websockets").setLevel(logging.WARNING)
