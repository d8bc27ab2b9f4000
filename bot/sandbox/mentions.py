"""`@name` as people type it, `<@U…>` as Slack sends it."""

from __future__ import annotations

import re
from collections.abc import Mapping

_HANDLE = re.compile(r"(?<![<\w])@([a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*)", re.IGNORECASE)


def translate_mentions(text: str, handles: Mapping[str, str]) -> str:
    """Replace each `@handle` of a known person with `<@U…>`; leave anything else as typed."""

    def one(match: re.Match[str]) -> str:
        user = handles.get(match.group(1).lower())
        return f"<@{user}>" if user else match.group(0)

    return _HANDLE.sub(one, text)
