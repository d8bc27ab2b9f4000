"""The escalation repository: escalations, their participants, timeline events,
sign-offs and follow-ups.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    ChecklistStep,
    Deadline,
    Escalation,
    EscalationLink,
    Followup,
    Participant,
    RoleHolder,
    Signoff,
    TimelineEvent,
)
from storage.repositories.base import next_value


class EscalationRepository:
    """Escalations and what hangs off them."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, escalation: Escalation) -> Escalation:
        """Give the escalation the next ESC number and stage it."""
        escalation.id = next_value(self.session, "escalation")
        self.session.add(escalation)
        self.session.flush()
        return escalation

    def get(self, number: int) -> Escalation | None:
        """Return ESC-<number>, or None."""
        return self.session.get(Escalation, number)

    def load_many(self, numbers: Collection[int]) -> list[Escalation]:
        """Return these escalations with their participants, read in two queries; while the
        caller holds the list, `get` on each of them reads no more."""
        ordered = sorted(numbers)
        loaded: list[Escalation] = []
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start : start + 1000]
            loaded += self.session.scalars(
                select(Escalation)
                .where(Escalation.id.in_(chunk))
                .options(selectinload(Escalation.participants))
            ).all()
        return loaded

    def paging_states(
        self, numbers: Collection[int]
    ) -> dict[int, tuple[str, datetime | None, dict[str, str]]]:
        """Return, for each of these escalations that exists, its status, when it was
        acknowledged and its participants' roles by user: what staging a page reads, as plain
        rows (two queries a thousand escalations, no ORM objects)."""
        ordered = sorted(numbers)
        states: dict[int, tuple[str, datetime | None, dict[str, str]]] = {}
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start : start + 1000]
            for number, status, acknowledged_at in self.session.execute(
                select(Escalation.id, Escalation.status, Escalation.acknowledged_at).where(
                    Escalation.id.in_(chunk)
                )
            ):
                states[number] = (status, acknowledged_at, {})
            for number, user, role in self.session.execute(
                select(Participant.escalation_id, Participant.user_id, Participant.role).where(
                    Participant.escalation_id.in_(chunk)
                )
            ):
                states[number][2][user] = role
        return states

    def make_oncall(self, pairs: Collection[tuple[int, str]]) -> None:
        """Make these (escalation, user) participants responders ("oncall")."""
        ordered = sorted(pairs)
        for start in range(0, len(ordered), 500):
            self.session.execute(
                update(Participant)
                .where(
                    tuple_(Participant.escalation_id, Participant.user_id).in_(
                        ordered[start : start + 500]
                    )
                )
                .values(role="oncall"),
                execution_options={"synchronize_session": False},
            )

    def by_channel(self, channel_id: str) -> Escalation | None:
        """Return the escalation worked in this channel, or None."""
        return self.session.scalars(
            select(Escalation).where(Escalation.channel_id == channel_id)
        ).one_or_none()

    def by_request_key(self, key: str) -> Escalation | None:
        """Return the escalation created by this request, or None."""
        return self.session.scalars(
            select(Escalation).where(Escalation.request_key == key)
        ).one_or_none()

    def find(
        self,
        *,
        statuses: Sequence[str] | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Escalation]:
        """Return escalations, newest first, filtered by status and creation time."""
        stmt = select(Escalation).order_by(Escalation.id.desc())
        if statuses:
            stmt = stmt.where(Escalation.status.in_(statuses))
        if since is not None:
            stmt = stmt.where(Escalation.created_at >= since)
        if limit:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def open_by_severity(self, statuses: Sequence[str]) -> dict[str, int]:
        """Return how many escalations are in these statuses, by severity."""
        rows = self.session.execute(
            select(Escalation.severity, func.count())
            .where(Escalation.status.in_(statuses))
            .group_by(Escalation.severity)
        ).all()
        return {severity: int(n) for severity, n in rows}

    def add_participant(self, participant: Participant) -> None:
        """Stage a participant."""
        self.session.add(participant)

    def add_event(
        self, escalation_id: int, at: datetime, kind: str, actor: str | None = None, **detail: Any
    ) -> TimelineEvent:
        """Append a timeline event."""
        event = TimelineEvent(
            escalation_id=escalation_id, at=at, kind=kind, actor=actor, detail=detail
        )
        self.session.add(event)
        return event

    def link(self, escalation_id: int, related_id: int, kind: str, by: str, at: datetime) -> bool:
        """Record a related escalation unless already recorded; return True if recorded."""
        found = self.session.scalar(
            select(EscalationLink).where(
                EscalationLink.escalation_id == escalation_id,
                EscalationLink.related_id == related_id,
            )
        )
        if found is not None:
            if kind != "related" and found.kind == "related":
                found.kind = kind  # a link that turns out to be a duplicate says so
            return False
        self.session.add(
            EscalationLink(
                escalation_id=escalation_id,
                related_id=related_id,
                kind=kind,
                created_by=by,
                created_at=at,
            )
        )
        return True

    def links(self, escalation_id: int) -> list[EscalationLink]:
        """Return the escalation's related escalations, in the order recorded."""
        return list(
            self.session.scalars(
                select(EscalationLink)
                .where(EscalationLink.escalation_id == escalation_id)
                .order_by(EscalationLink.id)
            )
        )

    def event(self, event_id: int) -> TimelineEvent | None:
        """Return one timeline event."""
        return self.session.get(TimelineEvent, event_id)

    def timeline(self, escalation_id: int) -> list[TimelineEvent]:
        """Return the escalation's timeline, oldest first."""
        return list(
            self.session.scalars(
                select(TimelineEvent)
                .where(TimelineEvent.escalation_id == escalation_id)
                .order_by(TimelineEvent.at, TimelineEvent.id)
            )
        )

    def signoffs(self, escalation_id: int) -> list[Signoff]:
        """Return the escalation's sign-off requests, oldest first."""
        return list(
            self.session.scalars(
                select(Signoff).where(Signoff.escalation_id == escalation_id).order_by(Signoff.id)
            )
        )

    def followups(
        self, escalation_id: int | None = None, *, status: str | None = None
    ) -> list[Followup]:
        """Return follow-ups of one escalation (or all), oldest first."""
        stmt = select(Followup).order_by(Followup.id)
        if escalation_id is not None:
            stmt = stmt.where(Followup.escalation_id == escalation_id)
        if status is not None:
            stmt = stmt.where(Followup.status == status)
        return list(self.session.scalars(stmt))

    def lock(self, number: int) -> Escalation | None:
        """Return ESC-<number> locked for update until the unit of work ends, or None."""
        return self.session.get(Escalation, number, with_for_update=True, populate_existing=True)

    def signoff(self, signoff_id: int) -> Signoff | None:
        """Return the sign-off request, or None."""
        return self.session.get(Signoff, signoff_id)

    def add_signoff(self, signoff: Signoff) -> Signoff:
        """Stage a sign-off request and give it its ID."""
        self.session.add(signoff)
        self.session.flush()
        return signoff

    def followup(self, followup_id: int) -> Followup | None:
        """Return the follow-up, or None."""
        return self.session.get(Followup, followup_id)

    def add_followup(self, followup: Followup) -> Followup:
        """Stage a follow-up and give it its ID."""
        self.session.add(followup)
        self.session.flush()
        return followup

    def add_step(self, step: ChecklistStep) -> None:
        """Stage a checklist step."""
        self.session.add(step)

    def checklist(self, escalation_id: int) -> list[ChecklistStep]:
        """Return the escalation's checklist in order."""
        return list(
            self.session.scalars(
                select(ChecklistStep)
                .where(ChecklistStep.escalation_id == escalation_id)
                .order_by(ChecklistStep.position)
            )
        )

    def open_required(self, escalation_id: int) -> list[ChecklistStep]:
        """Return the required checklist steps not yet done, in order."""
        return [s for s in self.checklist(escalation_id) if s.required and s.done_at is None]

    def add_deadline(self, deadline: Deadline) -> None:
        """Stage a deadline."""
        self.session.add(deadline)

    def deadlines(self, escalation_id: int) -> list[Deadline]:
        """Return the escalation's deadlines, soonest first."""
        return self.deadlines_of([escalation_id]).get(escalation_id, [])

    def deadlines_of(self, escalation_ids: Sequence[int]) -> dict[int, list[Deadline]]:
        """Return the deadlines of these escalations by escalation, soonest first."""
        out: dict[int, list[Deadline]] = {}
        if not escalation_ids:
            return out
        rows = self.session.scalars(
            select(Deadline)
            .where(Deadline.escalation_id.in_(list(escalation_ids)))
            .order_by(Deadline.due_at, Deadline.position)
        )
        for row in rows:
            out.setdefault(row.escalation_id, []).append(row)
        return out


    def roles(self, escalation_id: int) -> dict[str, RoleHolder]:
        """Return the escalation's role holders by role."""
        rows = self.session.scalars(
            select(RoleHolder)
            .where(RoleHolder.escalation_id == escalation_id)
            .order_by(RoleHolder.id)
        )
        return {row.role: row for row in rows}

    def set_role(
        self, escalation_id: int, role: str, user: str, actor: str, now: datetime
    ) -> tuple[RoleHolder, str | None]:
        """Make `user` the holder of `role`; return the row and who held it before."""
        held = self.roles(escalation_id).get(role)
        if held is None:
            held = RoleHolder(
                escalation_id=escalation_id,
                role=role,
                user_id=user,
                assigned_by=actor,
                assigned_at=now,
            )
            self.session.add(held)
            self.session.flush()
            return held, None
        before = held.user_id
        held.user_id, held.assigned_by, held.assigned_at = user, actor, now
        return held, before
