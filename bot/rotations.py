"""On-call queries over the configured rotations and the stored overrides."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.config import DAYS, RotationConfig, TeamConfig, split_target
from bot.errors import UsageError
from bot.routing import Target
from schedules import rotation as engine
from storage.models import Override as OverrideRow
from storage.repositories import OverrideRepository

#: How far either side of an instant the bounds of the shift or gap covering it are searched.
COVER_REACH = timedelta(days=366)


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

    @staticmethod
    def overrides_by_rotation(
        repo: OverrideRepository, start: datetime, end: datetime
    ) -> dict[str, list[engine.Override]]:
        """Return every rotation's overrides that touch [start, end), read in one query."""
        rows: dict[str, list[OverrideRow]] = {}
        for row in repo.active(ending_after=start, starting_before=end):
            rows.setdefault(row.rotation, []).append(row)
        return {rid: to_overrides(found) for rid, found in rows.items()}

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
