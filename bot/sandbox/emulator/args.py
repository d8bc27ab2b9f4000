"""Web API argument parsing shared by the methods: booleans, text and JSON arguments, id
lists, and cursor pagination.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from bot.sandbox.emulator.records import SlackError


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _text_arg(args: dict, key: str) -> str | None:
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_arg(value: Any, error: str) -> Any:
    """Form bodies carry structured arguments as JSON strings; JSON bodies inline them."""
    if value is None or isinstance(value, list | dict):
        return value
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(error) from None
    raise SlackError(error)


def _id_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = [str(v) for v in value] if isinstance(value, list | tuple) else str(value).split(",")
    return [item.strip() for item in items if item.strip()]


def _encode_cursor(kind: str, key: str) -> str:
    return base64.b64encode(f"{kind}:{key}".encode()).decode()


def _decode_cursor(cursor: str, kind: str) -> str:
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    prefix = f"{kind}:"
    if not decoded.startswith(prefix):
        raise SlackError("invalid_cursor")
    return decoded[len(prefix) :]


def _limit(args: dict, default: int, maximum: int) -> int:
    raw = _text_arg(args, "limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SlackError("invalid_limit") from None
    if value < 0:
        raise SlackError("invalid_limit")
    if value == 0:
        return default
    return min(value, maximum)


def _paginate(
    items: list, key: Callable[[Any], str], args: dict, kind: str, default: int, maximum: int
) -> tuple[list, str]:
    """Cursor pagination the way Slack does it: an opaque cursor naming the next item."""
    limit = _limit(args, default, maximum)
    cursor = _text_arg(args, "cursor") or ""
    start = 0
    if cursor:
        wanted = _decode_cursor(cursor, kind)
        keys = [key(item) for item in items]
        if wanted not in keys:
            raise SlackError("invalid_cursor")
        start = keys.index(wanted)
    page = items[start : start + limit]
    rest = items[start + limit :]
    next_cursor = _encode_cursor(kind, key(rest[0])) if rest else ""
    return page, next_cursor
