"""On-call queries over the configured rotations and the stored overrides."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.blocks import local_when
from bot.calendar import render_calendar
from bot.config import DAYS, USER_ID, RotationConfig, TeamConfig, split_target
from bot.errors import NotPermitted, UsageError, UserError
from bot.oncall_parsing import (
    GAPS_DAYS,
    ME_DAYS,
    SCHEDULE_DAYS,
    OnCallRequest,
    resolve_time,
    usage,
)
from bot.routing import Target
from schedules import rotation as engine
from storage.models import Override as OverrideRow
from storage.repositories import OverrideRepository

if TYPE_CHECKING:  # services.py imports this module
    from bot.services import Services

log = logging.getLogger(__name__)

#: How far either side of an instant the bounds of the shift or gap covering it are searched.
COVER_REACH = timedelta(days=366)
#: How far ahead a calendar feed reaches.
FEED_DAYS = 90


def to_engine(rotation_id: str, config: RotationConfig) -> engine.Rotation:
    """Translate a configured rotation into the engine's terms."""
    layers = []
    for layer in config.layers:
        restrict = None
        if layer.restrict is not None:
            restrict = engine.Restrict(
                days=frozenset(DAYS.index(d) for d in layer.restrict.days),
                start=layer.restrict.from_,
                end=layer.restrict.to,
            )
        layers.append(
            engine.Layer(
                members=tuple(layer.members),
                start=layer.start,
                shift=engine.ShiftLength.parse(layer.shift),
                restrict=restrict,
            )
        )
    return engine.Rotation(id=rotation_id, timezone=config.timezone, layers=tuple(layers))


def to_overrides(rows: Sequence[OverrideRow]) -> list[engine.Override]:
    """Translate stored overrides (creation order) into the engine's terms."""
    return [engine.Override(user=r.user_id, start=r.start, end=r.end, id=r.id) for r in rows]


class OnCall:
    """The team's rotations, translated once, queried with overrides from the database."""

    def __init__(self, config: TeamConfig):
        self.config = config
        self.rotations = {rid: to_engine(rid, rc) for rid, rc in config.rotations.items()}

    def overrides(
        self, repo: OverrideRepository, rotation_id: str, start: datetime, end: datetime
    ) -> list[engine.Override]:
        """Return the overrides of a rotation that touch [start, end)."""
        return to_overrides(
            repo.active(rotation=rotation_id, ending_after=start, starting_before=end)
        )

    def now(self, repo: OverrideRepository, rotation_id: str, at: datetime) -> engine.Shift | None:
        """Return the final shift covering `at`, or None in a gap."""
        rotation = self.rotations[rotation_id]
        overrides = self.overrides(
            repo, rotation_id, at - timedelta(days=60), at + timedelta(days=60)
        )
        return engine.on_call(rotation, at, overrides)

    def user_at(self, repo: OverrideRepository, rotation_id: str, at: datetime) -> str | None:
        """Return who is on call for the rotation at `at`, or None."""
        shift = self.now(repo, rotation_id, at)
        return shift.user if shift else None

    def target(self, repo: OverrideRepository, spec: str, at: datetime) -> Target:
        """Resolve `rotation:<id>`, `group:<id>`, `user:<U…>` or a bare group ID."""
        kind, name = split_target(spec)
        if kind == "user":
            return Target(users=(name,))
        if kind == "rotation":
            user = self.user_at(repo, name, at)
            return Target(users=(user,) if user else ())
        group = self.config.stakeholders[name]
        if group.members is not None:
            return Target(users=tuple(group.members))
        if group.usergroup is not None:
            return Target(usergroups=(group.usergroup,))
        user = self.user_at(repo, group.rotation or "", at)
        return Target(users=(user,) if user else ())

    # -- queries over the final schedule ---------------------------------------------------

    def rotation(self, rotation_id: str) -> engine.Rotation:
        """Return the rotation with this ID; raise UsageError listing the rotations."""
        try:
            return self.rotations[rotation_id]
        except KeyError:
            known = ", ".join(f"`{r}`" for r in self.rotations) or "none configured"
            raise UsageError(f"Unknown rotation `{rotation_id}`: rotations are {known}.") from None

    def covering(self, repo: OverrideRepository, rotation_id: str, at: datetime) -> engine.Shift:
        """Return the final shift covering `at`, or the gap around it (user None)."""
        rotation = self.rotation(rotation_id)
        overrides = self.overrides(repo, rotation_id, at - COVER_REACH, at + COVER_REACH)
        return covering(rotation, at, overrides)

    def next(
        self, repo: OverrideRepository, rotation_id: str, after: datetime
    ) -> engine.Shift | None:
        """Return the next final shift starting after `after` (within a year), or None."""
        rotation = self.rotation(rotation_id)
        overrides = self.overrides(repo, rotation_id, after, after + engine.NEXT_HANDOFF_HORIZON)
        return engine.next_handoff(rotation, after, overrides)

    def timeline(
        self, repo: OverrideRepository, rotation_id: str, start: datetime, end: datetime
    ) -> list[engine.Shift]:
        """Return the final schedule over [start, end): shifts and gaps, merged, cut to it."""
        rotation = self.rotation(rotation_id)
        return engine.timeline(rotation, start, end, self.overrides(repo, rotation_id, start, end))


def _clamped(at: datetime, delta: timedelta) -> datetime:
    try:
        return at + delta
    except OverflowError:
        return (
            datetime.max.replace(tzinfo=UTC)
            if delta > timedelta(0)
            else datetime.min.replace(tzinfo=UTC)
        )


def covering(
    rotation: engine.Rotation,
    at: datetime,
    overrides: Sequence[engine.Override] = (),
    reach: timedelta = COVER_REACH,
) -> engine.Shift:
    """Return the final shift or gap (user None) covering `at`, overrides applied.

    Its bounds are where the person on call changes, searched up to `reach` either side
    (widening from a day, so the usual shift costs a few evaluations); beyond it they are cut.
    """
    step = timedelta(days=1)
    while True:
        step = min(step, reach)
        lo, hi = _clamped(at, -step), _clamped(at, step)
        for part in engine.timeline(rotation, lo, hi, overrides):
            if part.start <= at < part.end:
                break
        else:  # pragma: no cover - timeline covers [lo, hi) exactly
            raise AssertionError("timeline left a hole")
        if (part.start > lo and part.end < hi) or step >= reach:
            return part
        step *= 4


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


# -- use cases of `/oncall` -----------------------------------------------------------------


@dataclass(frozen=True)
class Covering:
    """Who covers a rotation now (a gap when `shift.user` is None), and who is next."""

    rotation: str
    shift: engine.Shift
    user_tz: str | None
    next: engine.Shift | None
    next_tz: str | None


@dataclass
class NowReport:
    """`/oncall [rotation]`: every rotation's cover, seen from the asker's time zone."""

    asker: str
    asker_tz: str
    now: datetime
    rotations: list[Covering] = field(default_factory=list)


@dataclass
class ScheduleReport:
    """`/oncall schedule`: each rotation's final schedule, gaps included."""

    asker_tz: str
    now: datetime
    days: int
    schedules: dict[str, list[engine.Shift]] = field(default_factory=dict)


@dataclass
class MyShifts:
    """`/oncall me`: the asker's next shifts across rotations, soonest first."""

    user: str
    tz: str
    now: datetime
    days: int
    shifts: list[engine.Shift] = field(default_factory=list)


@dataclass
class OverrideMade:
    """An override just recorded (or found again for a retried request)."""

    row: OverrideRow
    asker_tz: str
    user_tz: str
    replaces: list[str]
    created: bool


@dataclass
class OverridesReport:
    """`/oncall overrides`: current and upcoming overrides, soonest first."""

    asker_tz: str
    now: datetime
    rows: list[OverrideRow] = field(default_factory=list)


@dataclass
class GapsReport:
    """`/oncall gaps`: windows where a rotation has nobody on call, soonest first."""

    asker_tz: str
    now: datetime
    days: int
    gaps: list[engine.Shift] = field(default_factory=list)


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
