"""Durations as written in the config and in commands: `<n>s|m|h|d|w`."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d{1,7})\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse `90s`, `15m`, `2h`, `1d` or `1w` into a timedelta; raise ValueError otherwise."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"invalid duration {text!r}: use <n>s|m|h|d|w, like 15m or 2h")
    amount = int(match.group(1))
    if amount == 0:
        raise ValueError(f"invalid duration {text!r}: must be more than zero")
    return timedelta(**{_UNITS[match.group(2)]: amount})


def format_duration(value: timedelta) -> str:
    """Render a timedelta in the largest exact unit, the inverse of parse_duration."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
