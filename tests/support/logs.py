"""Catch what the bot logs, to check that no request leaves a traceback behind."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class Caught(logging.Handler):
    """Every record logged while installed (the web server's own logger included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        """Return the records that carry a traceback, formatted."""
        out = []
        for record in self.records:
            text = self.format(record)
            if record.exc_info or record.stack_info or "Traceback" in text:
                out.append(text)
        return out

    def clear(self) -> None:
        """Forget what was caught so far."""
        self.records.clear()


@contextmanager
def caught_logs() -> Iterator[Caught]:
    """Install a catching handler on the root logger and on uvicorn's (which do not propagate)."""
    handler = Caught()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
