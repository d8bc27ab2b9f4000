"""SQLAlchemy 2.x models: everything the bot must never lose."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Store instants in UTC; always hand back timezone-aware UTC datetimes."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Counter(Base):
    """Named sequences (ESC numbers): one row per name, bumped under a row lock."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Escalation(Base):
    """An escalation `ESC-<n>`: what happened, who owns it, where it is worked."""

    __tablename__ = "escalations"
    # A handoff lists what the outgoing person owns (bench_scheduler: first pass after start).
    __table_args__ = (Index("ix_escalations_owner_status", "owner", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40))
    policy_area: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(40))
    surfaces: Mapped[list[Any]] = mapped_column(default=list)
    links: Mapped[list[Any]] = mapped_column(default=list)
    reporter: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    graphic: Mapped[bool] = mapped_column(Boolean, default=False)
    channel_id: Mapped[str | None] = mapped_column(String(20), unique=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    card_pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    announce_ts: Mapped[str | None] = mapped_column(String(32))
    staffed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(20))
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    last_update_at: Mapped[datetime | None]
    ack_deadline: Mapped[datetime]
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("escalations.id", name="fk_escalations_duplicate_of")
    )

    participants: Mapped[list[Participant]] = relationship(
        back_populates="escalation", cascade="all, delete-orphan", order_by="Participant.id"
    )

    @property
    def ref(self) -> str:
        """Return the human ID, `ESC-<n>`."""
        return f"ESC-{self.id}"


class Participant(Base):
    """Someone in an escalation: reporter, owner, on-call, stakeholder or invitee."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("escalation_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20))
    group: Mapped[str | None] = mapped_column(String(40))
    added_at: Mapped[datetime]
    invited_at: Mapped[datetime | None]
    invite_error: Mapped[str | None] = mapped_column(String(60))
    left_at: Mapped[datetime | None]  # left or was removed from the channel (Slack told us)

    escalation: Mapped[Escalation] = relationship(back_populates="participants")


class TimelineEvent(Base):
    """A state change, ping, page, invite, sign-off or update, with actor and time."""

    __tablename__ = "timeline_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class EscalationLink(Base):
    """A related escalation, recorded on both: one row each way."""

    __tablename__ = "escalation_links"
    __table_args__ = (UniqueConstraint("escalation_id", "related_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    related_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"))
    kind: Mapped[str] = mapped_column(String(16))  # related | duplicate | duplicated_by
    created_by: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class Decision(Base):
    """An append-only decision log entry, hash-chained per escalation."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("escalation_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text, default="")
    policy: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(20))
    consulted: Mapped[list[Any]] = mapped_column(default=list)
    supersedes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    message_ts: Mapped[str | None] = mapped_column(String(32))


class Signoff(Base):
    """A sign-off request to a stakeholder group, answered by one of its members."""

    __tablename__ = "signoffs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    group: Mapped[str] = mapped_column(String(40))
    question: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    answered_by: Mapped[str | None] = mapped_column(String(20))
    answered_at: Mapped[datetime | None]
    message_ts: Mapped[str | None] = mapped_column(String(32))


class ChecklistStep(Base):
    """One step of an escalation's checklist, copied from the matching playbooks at creation."""

    __tablename__ = "checklist_steps"
    __table_args__ = (UniqueConstraint("escalation_id", "step_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    signoff: Mapped[str | None] = mapped_column(String(40))  # the group whose approval ticks it
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(20))
    done_signoff: Mapped[int | None] = mapped_column(Integer)  # the sign-off that ticked it


class Deadline(Base):
    """A clock an escalation got at creation from a matching `deadlines:` entry."""

    __tablename__ = "deadlines"
    __table_args__ = (UniqueConstraint("escalation_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[datetime]
    remind_at: Mapped[datetime | None]  # None: no reminder
    breached_at: Mapped[datetime | None]  # when its passing was paged

    def breached(self, resolved_at: datetime | None, now: datetime) -> bool:
        """Return True when it passed before the escalation was resolved."""
        if resolved_at is not None:
            return resolved_at > self.due_at
        return now >= self.due_at or self.breached_at is not None


class RoleHolder(Base):
    """Who holds one role (`roles:` in the config) on an escalation; one holder a role."""

    __tablename__ = "escalation_roles"
    __table_args__ = (UniqueConstraint("escalation_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str] = mapped_column(String(20))
    assigned_by: Mapped[str] = mapped_column(String(20))
    assigned_at: Mapped[datetime]


class Followup(Base):
    """An action item raised by an escalation."""

    __tablename__ = "followups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class Override(Base):
    """Someone covering a rotation for a window `[start, end)`."""

    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_rotation_end", "rotation", "end"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rotation: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str] = mapped_column(String(20))
    start: Mapped[datetime]
    end: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(20))


class SentNotification(Base):
    """The ledger of pings: one row per natural key, claimed in the sending transaction."""

    __tablename__ = "sent_notifications"
    __table_args__ = (Index("ix_sent_notifications_kind_due", "kind", "due_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # sent | skipped
    recorded_at: Mapped[datetime]


class OutboxItem(Base):
    """A Slack side effect accepted but not yet done; retried until done."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(120))  # host:pid:token of the worker
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class ProcessedRequest(Base):
    """A Slack request already handled, keyed by a stable ID, so a retry is a no-op."""

    __tablename__ = "processed_requests"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
