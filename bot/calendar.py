"""On-call calendar feeds (RFC 5545): one event per final shift, with stable UIDs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from schedules import rotation as engine

PRODID = "-//escbot//On-call schedule//EN"
REFRESH = timedelta(hours=1)


def event_uid(shift: engine.Shift) -> str:
    """Return the UID of a shift's event: `<rotation>-<user>-<start epoch>@escbot`."""
    return f"{shift.rotation}-{shift.user}-{int(shift.start.timestamp())}@escbot"


def render_calendar(name: str, shifts: Sequence[engine.Shift], now: datetime) -> bytes:
    """Return a VCALENDAR named `name` with one VEVENT per shift, stamped `now`."""
    from icalendar import Calendar, Event  # 0.5 s to import: only when a feed is asked for

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for shift in shifts:
        event = Event()
        event.add("uid", event_uid(shift))
        event.add("dtstamp", now)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", f"On call: {shift.rotation}")
        how = "an override" if shift.layer is None else f"layer {shift.layer + 1}"
        event.add(
            "description",
            f"{shift.user} is on call for the {shift.rotation} rotation ({how}).",
        )
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return cal.to_ical()
