"""Fakes of the bot's own ports, for unit tests of the use cases (bot/usecases).

`fake_services` builds a `Services` whose database is a real in-memory SQLite migrated to
head, whose clock is a FakeClock and whose policy is the real Policy, but whose outbox only
records what it is handed (no handler is registered, nothing is delivered) and whose Slack
gateway answers the few read calls a use case may make and fails the test on anything else:
use cases record and stage; only the delivery handlers talk to Slack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.pool import StaticPool

from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.delivery.intake import Intake
from bot.executors import TrackedPool
from bot.fastack import Foreground
from bot.health import SlackToken
from bot.parsing.escalate import EscalationDraft
from bot.policy import Policy
from bot.rotations import OnCall
from bot.services import Services
from bot.settings import Settings
from bot.telemetry import Telemetry
from storage.db import Database
from storage.models import Escalation, OutboxItem, ProcessedRequest, TimelineEvent
from storage.repositories import NewItem

# The read calls a use case may make of Slack; every other gateway method is a write (or a
# call a use case has no business making) and fails the test.
READS = ("user_timezone", "usergroup_members", "usergroup_members_or_none")


_migrated: Database | None = None


def memory_database() -> Database:
    """Return an in-memory SQLite database at the newest schema (one connection, shared).

    The migrations run once per process, into a template; each database is a copy of it
    (SQLite's backup API), so a test pays microseconds, not a full Alembic upgrade.
    """
    global _migrated
    if _migrated is None:
        _migrated = Database("sqlite://", poolclass=StaticPool)
        _migrated.upgrade()
    db = Database("sqlite://", poolclass=StaticPool)
    source = _migrated.engine.raw_connection()
    target = db.engine.raw_connection()
    try:
        source.driver_connection.backup(target.driver_connection)  # type: ignore[union-attr]
    finally:
        target.close()
        source.close()
    return db


class FakeOutbox:
    """Records the keys it is told to run and the items it is asked to accept; runs nothing.

    `accept` saves the item through the real Intake (the insert a request thread makes), so
    a repeated key is refused as in production; no handler is ever registered or called.
    """

    def __init__(self, db: Database, clock: FakeClock):
        self.intake = Intake(db, clock)
        self.submitted: list[str] = []
        self.accepted: list[NewItem] = []

    def accept(self, item: NewItem) -> bool:
        """Save the item unless its key is there already; return whether it was saved."""
        created = self.intake.add(item)
        if created:
            self.accepted.append(item)
            self.submitted.append(item.key)
        return created

    def submit(self, key: str) -> None:
        """Record that the use case asked for this committed item to run."""
        self.submitted.append(key)

    def register(self, kind: str, handler: Any) -> None:
        """Refuse: a use case test delivers nothing."""
        raise AssertionError(f"a use case registered an outbox handler for {kind}")

    def busy(self) -> bool:
        """Nothing ever runs."""
        return False

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Nothing to wait for."""


@dataclass
class FakeSlack:
    """A Slack gateway that answers reads from fixed data and fails on every other call.

    `timezones` maps user → IANA zone (others get the default); `usergroups` maps a Slack
    user group to its members (unknown: nobody, as when Slack cannot say).
    """

    timezones: dict[str, str] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    reads: list[tuple[str, str]] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)

    def user_timezone(self, user_id: str, default: str = "UTC") -> str:
        """Return the user's zone, as users.info would."""
        self.reads.append(("user_timezone", user_id))
        return self.timezones.get(user_id, default)

    def usergroup_members(self, usergroup_id: str) -> list[str]:
        """Return the members of a user group (none when unknown)."""
        self.reads.append(("usergroup_members", usergroup_id))
        return list(self.usergroups.get(usergroup_id, []))

    def usergroup_members_or_none(self, usergroup_id: str) -> list[str]:
        """Return the members of a user group, or nobody when unknown (as Slack failing)."""
        self.reads.append(("usergroup_members_or_none", usergroup_id))
        return list(self.usergroups.get(usergroup_id, []))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self.forbidden.append(name)
        raise AssertionError(f"a use case called Slack: SlackGateway.{name}")


@dataclass
class Fakes:
    """A Services over fakes, and the fakes themselves for the test to inspect."""

    svc: Services
    db: Database
    clock: FakeClock
    outbox: FakeOutbox
    slack: FakeSlack
    reschedules: list[int] = field(default_factory=list)

    def close(self) -> None:
        """Dispose of the database."""
        self.db.dispose()


def fake_services(
    config: TeamConfig,
    clock: FakeClock,
    *,
    db: Database | None = None,
    usergroups: dict[str, list[str]] | None = None,
    timezones: dict[str, str] | None = None,
) -> Fakes:
    """Return a Services for use-case tests: fakes at every port but the database."""
    db = db or memory_database()
    slack = FakeSlack(timezones=dict(timezones or {}), usergroups=dict(usergroups or {}))
    outbox = FakeOutbox(db, clock)
    foreground = Foreground()
    settings = Settings(
        slack_bot_token="xoxb-fake",
        slack_signing_secret="fake-secret",
        database_url="sqlite://",
        _env_file=None,
    )  # type: ignore[call-arg]
    svc = Services(
        settings=settings,
        config=config,
        db=db,
        slack=slack,  # type: ignore[arg-type]
        clock=clock,
        oncall=OnCall(config),
        policy=Policy(config, slack.usergroup_members_or_none),
        outbox=outbox,  # type: ignore[arg-type]
        listeners=TrackedPool(1, "listener"),
        foreground=foreground,
        telemetry=Telemetry(db, clock, config.severity_ids),
        token=SlackToken(slack),  # type: ignore[arg-type]
    )
    fakes = Fakes(svc, db, clock, outbox, slack)
    db.watch_schedule(lambda: fakes.reschedules.append(len(fakes.reschedules) + 1))
    return fakes


# -- reading back what a use case did -----------------------------------------------------------


def ads_draft(title: str = "Counterfeit ads wave", **fields: Any) -> EscalationDraft:
    """Return a draft the example config routes to Sales and Core Policy (SEV2 #ads)."""
    values: dict[str, Any] = {
        "title": title,
        "category": "ads",
        "policy_area": "advertising_standards",
        "severity": "SEV2",
        "region": "global",
        **fields,
    }
    return EscalationDraft(**values)


def outbox_items(db: Database) -> dict[str, str]:
    """Return key → kind of every staged outbox item, in the order staged."""
    with db.uow() as uow:
        rows = uow.session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        return {row.key: row.kind for row in rows}


def outbox_item(db: Database, key: str) -> OutboxItem:
    """Return the staged outbox item with this key."""
    with db.uow() as uow:
        item = uow.repos.outbox.get(key)
        assert item is not None, f"nothing staged under {key}"
        return item


def timeline(db: Database, number: int, kind: str | None = None) -> list[TimelineEvent]:
    """Return ESC-<number>'s timeline events (of one kind, if given), oldest first."""
    with db.uow() as uow:
        found = uow.repos.escalations.timeline(number)
    return [e for e in found if kind is None or e.kind == kind]


def stored(db: Database, number: int) -> Escalation:
    """Return ESC-<number> as stored, its participants loaded."""
    with db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        assert esc is not None
        _ = list(esc.participants)
        return esc


def processed(db: Database, key: str) -> ProcessedRequest | None:
    """Return the processed-request row of this request key, if any."""
    with db.uow() as uow:
        return uow.repos.requests.get(key)
