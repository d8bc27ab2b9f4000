"""`/oncall` and `escbot oncall`: who is on call, schedules, my shifts, overrides, gaps,
and the calendar feed, over the team's rotations (`bot.rotations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.calendar import render_calendar
from bot.config import USER_ID
from bot.errors import NotPermitted, UsageError, UserError
from bot.parsing.oncall import GAPS_DAYS, ME_DAYS, SCHEDULE_DAYS, OnCallRequest, resolve_time, usage
from bot.results import (
    Covering,
    GapsReport,
    MyShifts,
    NowReport,
    OverrideMade,
    OverridesReport,
    ScheduleReport,
)
from bot.rotations import OnCall
from bot.services import Services
from bot.text import local_when
from schedules import rotation as engine
from storage.models import Override as OverrideRow
from storage.repositories import OverrideRepository

#: How far ahead a calendar feed reaches.
FEED_DAYS = 90


def iso_utc(instant: datetime) -> str:
    """Return an instant as ISO-8601 UTC to the second: `2026-03-04T17:00:00Z`."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_rows(
    oncall: OnCall,
    repo: OverrideRepository,
    rotation_ids: Sequence[str],
    *,
    at: dict[str, datetime] | None = None,
    window: dict[str, tuple[datetime, datetime]] | None = None,
) -> list[dict[str, Any]]:
    """Return `escbot oncall` rows: the shift or gap covering each rotation's `at`, or each
    rotation's final schedule over its window (gaps included, merged, cut to the window)."""
    rows: list[dict[str, Any]] = []
    for rid in rotation_ids:
        if window is not None:
            parts = oncall.timeline(repo, rid, *window[rid])
        else:
            assert at is not None
            parts = [oncall.covering(repo, rid, at[rid])]
        rows.extend(
            {"rotation": rid, "user": p.user, "start": iso_utc(p.start), "end": iso_utc(p.end)}
            for p in parts
        )
    return rows


def user_tz(svc: Services, user: str) -> str:
    """Return the user's IANA time zone from Slack, else the team's."""
    default = svc.config.team.timezone
    tz = svc.slack.user_timezone(user, default=default)
    try:
        ZoneInfo(tz)
    except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        return default
    return tz


def _shift_start(
    svc: Services, repo: OverrideRepository, rotation_id: str, now: datetime
) -> datetime:
    """Return where the shift running at `now` began (so it is listed whole), else now."""
    shift = svc.oncall.covering(repo, rotation_id, now)
    return shift.start if shift.user is not None else now


def _rotation_ids(svc: Services, rotation: str | None) -> list[str]:
    if rotation is None:
        return list(svc.oncall.rotations)
    svc.oncall.rotation(rotation)
    return [rotation]


def who_is_on_call(svc: Services, asker: str, rotation: str | None = None) -> NowReport:
    """Return who covers every rotation (or one) now, until when, and who is next."""
    now = svc.clock()
    report = NowReport(asker, user_tz(svc, asker), now)
    with svc.db.uow() as uow:
        repo = uow.repos.overrides
        found = [
            (rid, svc.oncall.covering(repo, rid, now), svc.oncall.next(repo, rid, now))
            for rid in _rotation_ids(svc, rotation)
        ]
    # Time zones after the transaction: they may ask Slack.
    report.rotations = [
        Covering(
            rid,
            shift,
            user_tz(svc, shift.user) if shift.user else None,
            following,
            user_tz(svc, following.user) if following and following.user else None,
        )
        for rid, shift, following in found
    ]
    return report


def schedule(
    svc: Services, asker: str, rotation: str | None = None, days: int = SCHEDULE_DAYS
) -> ScheduleReport:
    """Return the final schedule of every rotation (or one) for the next `days` days."""
    now = svc.clock()
    report = ScheduleReport(user_tz(svc, asker), now, days)
    with svc.db.uow() as uow:
        for rid in _rotation_ids(svc, rotation):
            start = _shift_start(svc, uow.repos.overrides, rid, now)
            report.schedules[rid] = svc.oncall.timeline(
                uow.repos.overrides, rid, start, now + timedelta(days=days)
            )
    return report


def my_shifts(svc: Services, user: str, days: int = ME_DAYS) -> MyShifts:
    """Return the user's shifts (the current one included) over the next `days` days."""
    now = svc.clock()
    report = MyShifts(user, user_tz(svc, user), now, days)
    with svc.db.uow() as uow:
        for rid in svc.oncall.rotations:
            start = _shift_start(svc, uow.repos.overrides, rid, now)
            report.shifts.extend(
                s
                for s in svc.oncall.timeline(
                    uow.repos.overrides, rid, start, now + timedelta(days=days)
                )
                if s.user == user
            )
    report.shifts.sort(key=lambda s: (s.start, s.rotation))
    return report


def create_override(
    svc: Services, actor: str, request: OnCallRequest, *, request_key: str
) -> OverrideMade:
    """Record that `request.user` covers a rotation for a window.

    The rotation defaults to the first one in the config. Team members and the rotation's
    own members may override it. A retried request returns the override it made.
    """
    assert request.user and request.start and request.end
    if not svc.oncall.rotations:
        raise UsageError("No rotations are configured.")
    rotation_id = request.rotation or next(iter(svc.oncall.rotations))
    rotation = svc.oncall.rotation(rotation_id)
    if not svc.policy.may_override(actor, rotation_id):
        raise NotPermitted(
            f"Only team members and members of `{rotation_id}` can override its schedule."
        )
    now = svc.clock()
    asker_tz = user_tz(svc, actor)
    start = resolve_time(request.start, asker_tz, now)
    end = resolve_time(request.end, asker_tz, now, base=start)
    if end <= start:
        raise UsageError(
            f"The override must end after it starts ({local_when(start, asker_tz, year=True)} → "
            f"{local_when(end, asker_tz, year=True)}). {usage('override')}"
        )
    if end <= now:
        raise UsageError(
            "That override would end in the past "
            f"({local_when(end, asker_tz, year=True)}): nothing to cover. " + usage("override")
        )
    with svc.db.uow() as uow:
        repo = uow.repos.overrides
        earlier = svc.oncall.overrides(repo, rotation_id, start, end)
        replaces = list(
            dict.fromkeys(
                s.user
                for s in engine.shifts(rotation, start, end, earlier)
                if s.user and s.user != request.user
            )
        )
        if not uow.repos.requests.claim(request_key, "override", now):
            done = uow.repos.requests.get(request_key)
            again = repo.get(int((done.result if done else {}).get("override", 0)))
            if again is None:
                raise UserError("This request was already handled.")
            return OverrideMade(again, asker_tz, user_tz(svc, again.user_id), [], False)
        uow.reschedules()
        row = repo.add(
            OverrideRow(
                rotation=rotation_id,
                user_id=request.user,
                start=start,
                end=end,
                created_by=actor,
                created_at=now,
            )
        )
        claimed = uow.repos.requests.get(request_key)
        assert claimed is not None
        claimed.result = {"override": row.id}
        uow.commit()
    return OverrideMade(row, asker_tz, user_tz(svc, request.user), replaces, True)


def list_overrides(svc: Services, asker: str, rotation: str | None = None) -> OverridesReport:
    """Return the overrides not yet over (of every rotation, or one), soonest first."""
    now = svc.clock()
    report = OverridesReport(user_tz(svc, asker), now)
    ids = _rotation_ids(svc, rotation)
    with svc.db.uow() as uow:
        rows = uow.repos.overrides.active(ending_after=now)
    report.rows = sorted((r for r in rows if r.rotation in ids), key=lambda r: (r.start, r.id))
    return report


def remove_override(svc: Services, actor: str, override_id: int) -> OverrideRow:
    """Cancel an override; only its author or a team member may, and not once it is over."""
    now = svc.clock()
    with svc.db.uow() as uow:
        row = uow.repos.overrides.get(override_id)
        if row is None:
            raise UserError(f"There is no override #{override_id}. See `/oncall overrides`.")
        if row.removed_at is not None:
            raise UserError(f"Override #{override_id} was already removed.")
        if not svc.policy.may_cancel_override(actor, row.created_by):
            raise NotPermitted(
                f"Only <@{row.created_by}>, who made override #{override_id}, or a team "
                "member can remove it."
            )
        if row.end <= now:
            raise UserError(f"Override #{override_id} is over already; it stays on record.")
        row.removed_at = now
        uow.reschedules()
        row.removed_by = actor
        uow.commit()
    return row


def coverage_gaps(
    svc: Services, asker: str, days: int = GAPS_DAYS, rotation: str | None = None
) -> GapsReport:
    """Return the windows of the next `days` days where a rotation has nobody on call."""
    now = svc.clock()
    report = GapsReport(user_tz(svc, asker), now, days)
    with svc.db.uow() as uow:
        for rid in _rotation_ids(svc, rotation):
            report.gaps.extend(
                s
                for s in svc.oncall.timeline(
                    uow.repos.overrides, rid, now, now + timedelta(days=days)
                )
                if s.user is None
            )
    report.gaps.sort(key=lambda s: (s.start, s.rotation))
    return report


def feed_shifts(
    svc: Services, *, rotation: str | None = None, user: str | None = None
) -> list[engine.Shift]:
    """Return the final shifts of the next FEED_DAYS days for a calendar feed, uncut.

    Of one rotation, or of one user across rotations. Shifts are whole (the one running now
    keeps its real start), so each keeps the same calendar UID from one fetch to the next.
    """
    now = svc.clock()
    horizon = now + timedelta(days=FEED_DAYS)
    found: list[engine.Shift] = []
    with svc.db.uow() as uow:
        repo = uow.repos.overrides
        for rid in _rotation_ids(svc, rotation):
            last = svc.oncall.covering(repo, rid, horizon)
            end = last.end if last.user is not None else horizon
            found.extend(
                s
                for s in svc.oncall.timeline(repo, rid, _shift_start(svc, repo, rid, now), end)
                if s.user is not None and s.start < horizon and (user is None or s.user == user)
            )
    found.sort(key=lambda s: (s.start, s.rotation))
    return found


def calendar_feed(
    svc: Services, *, rotation: str | None = None, user: str | None = None
) -> bytes | None:
    """Return the iCalendar feed of a rotation, or of a user across rotations; None if unknown."""
    if rotation is not None and rotation not in svc.oncall.rotations:
        return None
    if user is not None and not USER_ID.match(user):
        return None
    shifts = feed_shifts(svc, rotation=rotation, user=user)
    name = f"On call: {rotation}" if rotation else f"On call: {user}"
    return render_calendar(name, shifts, svc.clock())


def rows_table(rows: Sequence[dict[str, Any]], zones: dict[str, str]) -> str:
    """Render `escbot oncall` rows as a readable table, local times in each rotation's zone."""
    header = ("ROTATION", "USER", "START (UTC)", "END (UTC)", "LOCAL (ROTATION TIME ZONE)")
    lines = [header]
    for row in rows:
        start = datetime.fromisoformat(row["start"])
        end = datetime.fromisoformat(row["end"])
        tz = zones[row["rotation"]]
        local = f"{local_when(start, tz)} → {local_when(end, tz)}"
        lines.append((row["rotation"], row["user"] or "— gap —", row["start"], row["end"], local))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True))
        + "  "
        + line[-1]
        for line in lines
    )
