"""On-call queries over the configured rotations and the stored overrides."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.config import DAYS, RotationConfig, TeamConfig
from bot.routing import Target
from schedules import rotation as engine
from storage.models import Override as OverrideRow
from storage.repositories import OverrideRepository


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
        kind, _, name = spec.partition(":") if ":" in spec else ("group", ":", spec)
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
