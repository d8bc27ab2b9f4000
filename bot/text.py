"""Making user text safe for Slack: no broadcasts, no markup injection, within limits."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    pass


ZWSP = "\u200b"
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_SLUG_BAD = re.compile(r"[^a-z0-9_-]+")


def escape(text: str) -> str:
    """Escape user text for mrkdwn: control characters and broadcast words made inert."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@" + ZWSP + m.group(1), text)


def truncate(text: str, limit: int, note: str = "… (truncated)") -> str:
    """Cut text to at most `limit` characters, saying so when it was cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))] + note


def slugify(text: str, limit: int) -> str:
    """Return a channel-name slug: lowercase `[a-z0-9-_]`, at most `limit` characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _SLUG_BAD.sub("-", ascii_text.lower()).strip("-_")
    slug = re.sub(r"-{2,}", "-", slug)
    return slug[:limit].rstrip("-_")


def local_when(instant: datetime, tz: str, *, year: bool = False) -> str:
    """Return an instant as `Mon 9 Mar 09:00 PDT` (with `year`, `Mon 9 Mar 2026 09:00 PDT`)
    in the IANA time zone `tz`."""
    local = instant.astimezone(ZoneInfo(tz))
    month = f"{local:%b %Y}" if year else f"{local:%b}"
    return f"{local:%a} {local.day} {month} {local:%H:%M} {local.tzname()}"
