"""The override repository: on-call overrides and the ones active over a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from storage.models import (
    Override,
)


class OverrideRepository:
    """On-call overrides."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, override: Override) -> Override:
        """Stage an override."""
        self.session.add(override)
        self.session.flush()
        return override

    def get(self, override_id: int) -> Override | None:
        """Return the override, or None."""
        return self.session.get(Override, override_id)

    def active(
        self,
        *,
        rotation: str | None = None,
        ending_after: datetime | None = None,
        starting_before: datetime | None = None,
    ) -> list[Override]:
        """Return overrides not removed, in creation order, filtered by rotation and window."""
        stmt = select(Override).where(Override.removed_at.is_(None)).order_by(Override.id)
        if rotation is not None:
            stmt = stmt.where(Override.rotation == rotation)
        if ending_after is not None:
            stmt = stmt.where(Override.end > ending_after)
        if starting_before is not None:
            stmt = stmt.where(Override.start < starting_before)
        return list(self.session.scalars(stmt))
