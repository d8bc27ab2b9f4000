"""Log lines: one JSON object each with LOG_FORMAT=json, tagged with the work they belong to."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs
from bot.settings import load_settings


def _logger(fmt: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(fmt)
    logger = logging.getLogger("escbot.test_logs")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_a_json_line_carries_time_level_logger_message_and_the_context():
    logger, stream = _logger(logs.JsonFormatter())
    logger.info("outside")
    with logs.context(escalation=7, outbox_key="staff:7"):
        logger.warning("inside %s", "a job")
        with logs.context(outbox_key="page:7:1"):
            logger.info("nested")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logger.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4  # a traceback stays inside its one line
    outside, inside, nested, failed = (json.loads(line) for line in lines)
    assert set(outside) == {"time", "level", "logger", "message"}
    assert outside["time"].endswith("+00:00") and outside["logger"] == "escbot.test_logs"
    assert inside == {
        **inside,
        "level": "WARNING",
        "message": "inside a job",
        "escalation": 7,
        "outbox_key": "staff:7",
    }
    assert (nested["escalation"], nested["outbox_key"]) == (7, "page:7:1")
    assert "escalation" not in failed and "ValueError: boom" in failed["exc_info"]


def test_the_context_is_gone_after_the_block_even_on_error():
    logger, stream = _logger(logs.JsonFormatter())
    with pytest.raises(RuntimeError), logs.context(escalation=1, outbox_key="k"):
        raise RuntimeError
    logger.info("after")
    assert "outbox_key" not in json.loads(stream.getvalue())


def test_text_is_the_default_and_json_is_chosen_by_log_format(monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert load_settings().log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert load_settings().log_format == "json"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        load_settings()
