"""Plain read models: what the use cases return and the Block Kit builders render.

A leaf: it imports only the storage models and the rotation engine's types, so the
renderer never imports a use case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schedules import rotation as engine
from storage.models import (
    ChecklistStep,
    Deadline,
    Decision,
    Escalation,
    Followup,
    Participant,
    Signoff,
    TimelineEvent,
)
from storage.models import Override as OverrideRow


@dataclass(frozen=True)
class Where:
    """Which escalation a request means: a named one, else the channel it came from."""

    number: int | None = None
    channel_id: str | None = None


@dataclass
class Outcome:
    """What a request did: the escalation after it, whether it changed, what to tell."""

    esc: Escalation
    changed: bool
    message: str


@dataclass
class Status:
    """Everything `/esc status` shows."""

    esc: Escalation
    decisions: int
    followups: list[Followup]
    signoffs: list[Signoff]
    participants: list[Participant]
    now: datetime
    related: list[Related] = field(default_factory=list)


@dataclass
class Related:
    """A related escalation as one viewer may see it: its title only when visible to them."""

    ref: str
    kind: str  # related | duplicate (this one duplicates it) | duplicated_by
    title: str | None = None
    channel_id: str | None = None


@dataclass
class Timeline:
    """An escalation and its events, oldest first."""

    esc: Escalation
    events: list[TimelineEvent]


@dataclass
class Listing:
    """Escalations a user may see, newest first."""

    scope: str
    escalations: list[Escalation] = field(default_factory=list)


@dataclass(frozen=True)
class OnCallNow:
    """Who covers a rotation now, and until when (None: nobody, a gap)."""

    rotation: str
    user: str | None
    until: datetime | None


@dataclass
class Home:
    """The App Home of one user at one instant."""

    user: str
    now: datetime
    oncall: list[OnCallNow] = field(default_factory=list)
    shifts: list[engine.Shift] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)


@dataclass
class Stats:
    """Trends over the last `days` days, of the escalations the viewer may see."""

    days: int
    since: datetime
    total: int = 0
    open: int = 0
    resolved: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    median_ack_s: int | None = None
    median_resolve_s: int | None = None
    sla_breached: int = 0
    deadlines: int = 0  # escalations with a deadline
    deadlines_breached: int = 0
    deadline_breaches_by_category: dict[str, int] = field(default_factory=dict)
    deadline_breaches_by_region: dict[str, int] = field(default_factory=dict)
    decisions: int = 0
    followups: dict[str, int] = field(default_factory=dict)


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


@dataclass
class Raised:
    """The outcome of raising: the escalation number and whether this call created it."""

    number: int
    created: bool
    outbox_key: str = ""
    paged: list[str] = field(default_factory=list)
    then: list[str] = field(default_factory=list)  # outbox keys to run after staffing


# -- working an escalation ------------------------------------------------------------------


@dataclass
class CardFacts:
    """What the live card shows beyond the escalation row."""

    decisions: int = 0
    open_followups: int = 0
    pending_signoffs: list[str] = field(default_factory=list)
    paging: list[str] = field(default_factory=list)  # see `paging`
    checklist: list[ChecklistStep] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # role ID -> holder


@dataclass
class Roles:
    """An escalation's configured roles and who holds each, as `/esc roles` shows them."""

    esc: Escalation
    holders: dict[str, str] = field(default_factory=dict)  # role ID -> user
    required: list[str] = field(default_factory=list)  # the role IDs its severity requires


@dataclass
class Checklist:
    """An escalation's checklist, in order, as `/esc checklist` shows it."""

    esc: Escalation
    steps: list[ChecklistStep] = field(default_factory=list)


@dataclass
class Review:
    """Everything the review document of an escalation shows, read at one instant."""

    esc: Escalation
    now: datetime
    ack_within_s: int | None = None
    checklist: list[ChecklistStep] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # role ID -> holder
    timeline: list[TimelineEvent] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    signoffs: list[Signoff] = field(default_factory=list)
    followups: list[Followup] = field(default_factory=list)
    # related escalations as (how: related | duplicate | duplicated_by, the other one)
    linked: list[tuple[str, Escalation]] = field(default_factory=list)
