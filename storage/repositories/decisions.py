"""The decision repository: the chain of decisions recorded for each escalation."""

from __future__ import annotations

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.orm import Session

from storage.models import (
    Decision,
)


class DecisionRepository:
    """The append-only decision log."""

    def __init__(self, session: Session):
        self.session = session

    def last(self, escalation_id: int) -> Decision | None:
        """Return the newest entry of an escalation's chain."""
        return self.session.scalars(
            select(Decision)
            .where(Decision.escalation_id == escalation_id)
            .order_by(Decision.seq.desc())
            .limit(1)
        ).first()

    def add(self, decision: Decision) -> Decision:
        """Stage a new entry (the caller computed its seq and hashes)."""
        self.session.add(decision)
        self.session.flush()
        return decision

    def chain(self, escalation_id: int) -> list[Decision]:
        """Return an escalation's entries in order."""
        return list(
            self.session.scalars(
                select(Decision)
                .where(Decision.escalation_id == escalation_id)
                .order_by(Decision.seq)
            )
        )

    def chains(self) -> list[int]:
        """Return the IDs of escalations that have decisions."""
        return list(
            self.session.scalars(
                select(Decision.escalation_id).distinct().order_by(Decision.escalation_id)
            )
        )

    def count(self, escalation_id: int) -> int:
        """Return how many entries an escalation has."""
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(Decision)
                .where(Decision.escalation_id == escalation_id)
            )
            or 0
        )

    def by_request_key(self, key: str) -> Decision | None:
        """Return the entry recorded by this request, or None."""
        return self.session.scalars(
            select(Decision).where(Decision.request_key == key)
        ).one_or_none()

    def get(self, decision_id: int) -> Decision | None:
        """Return the entry, or None."""
        return self.session.get(Decision, decision_id)
