"""Parsing `/oncall` text into typed requests, and the times people type into instants.

Times in a command are `2026-12-24 18:00` (or `2026-12-24T18:00`, or a date alone for its
midnight, or `today`/`tomorrow` with an optional `HH:MM`) in the asker's time zone, `now`, or
`+90m`/`+4h`/`+2d`/`+1w` — relative to now for a start, to the start for an end. Parsing is
pure; anything malformed raises UsageError and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from bot.errors import UsageError
from bot.parsing.esc import parse_user
from bot.text import escape, truncate

SCHEDULE_DAYS = 7
GAPS_DAYS = 14
MAX_DAYS = 90
ME_DAYS = 28

USAGE: dict[str, str] = {
    "now": "`/oncall [rotation]` — who is on call now, until when, and who is next",
    "schedule": "`/oncall schedule [rotation] [days]` — the schedule (7 days, at most 90)",
    "me": "`/oncall me` — my next shifts (28 days, every rotation)",
    "override": (
        "`/oncall override <@user> <start> <end> [rotation]` — cover a window; times like "
        "`2026-12-24 18:00` in your time zone, `now`, or `+4h` (an end's `+4h` counts from "
        "the start); the rotation defaults to the first one"
    ),
    "overrides": "`/oncall overrides [rotation]` — current and upcoming overrides, with IDs",
    "remove": "`/oncall override remove <id>` — cancel an override (its author or the team)",
    "gaps": "`/oncall gaps [days]` — windows with nobody on call (14 days, at most 90)",
    "help": "`/oncall help` — this list",
}

Sub = Literal["now", "schedule", "me", "override", "overrides", "remove", "gaps", "help"]

_RELATIVE = re.compile(r"(?i)^\+(\d{1,6})(m|min|mins|h|hr|hrs|d|w)$")
_RELATIVE_UNITS = {
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "mins": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "hr": timedelta(hours=1),
    "hrs": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2})(?::00)?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAYS = re.compile(r"(?i)^(\d{1,6})d?$")
_ID = re.compile(r"^#?(\d{1,9})$")
_MAX_RELATIVE = timedelta(days=3660)


def help_text() -> str:
    """Return the list of `/oncall` subcommands."""
    return "*`/oncall` subcommands*\n" + "\n".join(f"• {line}" for line in USAGE.values())


def usage(sub: str) -> str:
    """Return the usage line of one subcommand."""
    return "Usage: " + USAGE[sub]


class TimeSpec(BaseModel):
    """A time as typed: `now`, a step from a base, or a local wall-clock time (or a day)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["now", "relative", "absolute", "today", "tomorrow"]
    delta: timedelta | None = None
    local: datetime | None = None  # absolute: naive wall-clock time in the asker's zone
    clock: time | None = None  # today/tomorrow: the time of day (midnight if not given)


class OnCallRequest(BaseModel):
    """One `/oncall` invocation: the subcommand and its arguments."""

    model_config = ConfigDict(frozen=True)

    sub: Sub
    rotation: str | None = None
    days: int | None = None
    user: str | None = None
    start: TimeSpec | None = None
    end: TimeSpec | None = None
    override_id: int | None = None


def _rotation(word: str, rotations: Sequence[str], sub: str) -> str:
    wanted = word.lower()
    if wanted in rotations:
        return wanted
    known = ", ".join(f"`{r}`" for r in rotations) or "none configured"
    raise UsageError(
        f"Unknown rotation `{escape(truncate(word, 40))}`: rotations are {known}. {usage(sub)}"
    )


def _days(word: str, sub: str) -> int | None:
    match = _DAYS.match(word)
    if not match:
        return None
    days = int(match.group(1))
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"Days must be between 1 and {MAX_DAYS}. {usage(sub)}")
    return days


def _clock(word: str) -> time | None:
    match = _CLOCK.match(word)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise UsageError(f"`{escape(word)}` is not a time of day (use HH:MM). {usage('override')}")
    return time(hour, minute)


def _date(match: re.Match[str], word: str) -> date:
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise UsageError(
            f"`{escape(truncate(word, 40))}` is not a date. {usage('override')}"
        ) from None


def take_time(words: list[str], what: str) -> TimeSpec:
    """Consume one time (one or two words) from the front of `words`; raise UsageError."""
    if not words:
        raise UsageError(f"The override needs its {what}. {usage('override')}")
    word = words.pop(0)
    lower = word.lower()
    if lower == "now":
        return TimeSpec(kind="now")
    relative = _RELATIVE.match(word)
    if relative:
        delta = int(relative.group(1)) * _RELATIVE_UNITS[relative.group(2).lower()]
        if not timedelta(0) < delta <= _MAX_RELATIVE:
            raise UsageError(
                f"`{escape(word)}` is out of range for the {what}. {usage('override')}"
            )
        return TimeSpec(kind="relative", delta=delta)
    if lower in ("today", "tomorrow"):
        clock = _clock(words[0]) if words else None
        if clock is not None:
            words.pop(0)
        return TimeSpec(kind=lower, clock=clock or time(0))  # type: ignore[arg-type]
    full = _DATETIME.match(word)
    if full:
        day = _date(full, word)
        clock = _clock(f"{full.group(4)}:{full.group(5)}")
        return TimeSpec(kind="absolute", local=datetime.combine(day, clock or time(0)))
    only_date = _DATE.match(word)
    if only_date:
        day = _date(only_date, word)
        clock = _clock(words[0]) if words else None
        if clock is not None:
            words.pop(0)
        return TimeSpec(kind="absolute", local=datetime.combine(day, clock or time(0)))
    raise UsageError(
        f"`{escape(truncate(word, 40))}` is not a valid {what} time: use `2026-12-24 18:00`, "
        f"`now` or `+4h`. {usage('override')}"
    )


def _override(words: list[str], rotations: Sequence[str]) -> OnCallRequest:
    if words and words[0].lower() in ("remove", "rm", "delete", "cancel"):
        words.pop(0)
        match = _ID.match(words[0]) if len(words) == 1 else None
        if not match or int(match.group(1)) < 1:
            raise UsageError(usage("remove"))
        return OnCallRequest(sub="remove", override_id=int(match.group(1)))
    user = parse_user(words.pop(0)) if words else None
    if user is None:
        raise UsageError(f"Name who covers with an @mention. {usage('override')}")
    start = take_time(words, "start")
    end = take_time(words, "end")
    rotation = _rotation(words.pop(0), rotations, "override") if words else None
    if words:
        raise UsageError(
            f"Unexpected `{escape(truncate(' '.join(words), 60))}`. {usage('override')}"
        )
    if end.kind == "now":
        raise UsageError(f"An override cannot end now. {usage('override')}")
    return OnCallRequest(sub="override", user=user, start=start, end=end, rotation=rotation)


def _window(sub: Sub, words: list[str], rotations: Sequence[str]) -> OnCallRequest:
    """`schedule`/`gaps`/`overrides`: an optional rotation and (not overrides) days, any order."""
    rotation: str | None = None
    days: int | None = None
    for word in words:
        found = _days(word, sub) if sub != "overrides" else None
        if found is not None and days is None:
            days = found
        elif rotation is None and found is None:
            rotation = _rotation(word, rotations, sub)
        else:
            raise UsageError(f"Unexpected `{escape(truncate(word, 40))}`. {usage(sub)}")
    if sub == "schedule":
        days = days or SCHEDULE_DAYS
    elif sub == "gaps":
        days = days or GAPS_DAYS
    return OnCallRequest(sub=sub, rotation=rotation, days=days)


def parse_oncall(text: str, rotations: Sequence[str]) -> OnCallRequest:
    """Parse `/oncall …` text against the configured rotation IDs; raise UsageError."""
    words = text.split()
    if not words:
        return OnCallRequest(sub="now")
    head = words.pop(0)
    sub = head.lower()
    if sub in ("help", "-h", "--help", "?"):
        return OnCallRequest(sub="help")
    if sub == "me":
        if words:
            raise UsageError(usage("me"))
        return OnCallRequest(sub="me", days=ME_DAYS)
    if sub == "override":
        return _override(words, rotations)
    if sub in ("schedule", "gaps", "overrides"):
        return _window(sub, words, rotations)  # type: ignore[arg-type]
    if sub == "now":
        head = words.pop(0) if words else ""
        if not head:
            return OnCallRequest(sub="now")
    if words:
        raise UsageError(help_text())
    return OnCallRequest(sub="now", rotation=_rotation(head, rotations, "now"))


def localize(local: datetime, tz: str) -> datetime:
    """Return the instant of a wall-clock time in `tz`, in UTC.

    An ambiguous time means its first occurrence; a time skipped by a daylight-saving change
    means the first valid instant after the gap (02:30 → 03:00), as rotations do.
    """
    zone = ZoneInfo(tz)
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return first
    # In a gap: fold=1 reads it with the offset after the change, fold=0 before; the change
    # itself lies between the two, and is the first instant whose wall time passes `local`.
    low = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= local:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)


def resolve_time(spec: TimeSpec, tz: str, now: datetime, base: datetime | None = None) -> datetime:
    """Return the UTC instant a typed time means for someone in `tz` at `now`.

    A relative time counts from `base` (the start, for an end) or else from now.
    """
    try:
        if spec.kind == "now":
            return now
        if spec.kind == "relative":
            assert spec.delta is not None
            return (base or now) + spec.delta
        if spec.kind in ("today", "tomorrow"):
            day = now.astimezone(ZoneInfo(tz)).date()
            if spec.kind == "tomorrow":
                day += timedelta(days=1)
            return localize(datetime.combine(day, spec.clock or time(0)), tz)
        assert spec.local is not None
        return localize(spec.local, tz)
    except (OverflowError, ValueError):
        raise UsageError(f"That time is out of range. {usage('override')}") from None


def parse_instant(text: str, tz: str, now: datetime) -> datetime:
    """Parse ISO-8601 (or `now`) into UTC; without an offset it is wall-clock time in `tz`.

    Raise ValueError with a message fit for the command line.
    """
    text = text.strip()
    if text.lower() == "now":
        return now
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: use ISO-8601, like 2026-03-04T09:00 (in the rotation's "
            "time zone) or 2026-03-04T17:00:00Z"
        ) from None
    try:
        if parsed.tzinfo is None:
            return localize(parsed, tz)
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"time {text!r} is out of range") from None
