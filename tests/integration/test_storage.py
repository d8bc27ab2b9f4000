"""Storage on a real database: migrations, round-trips, concurrent ESC numbers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from storage.db import Database, SchemaBehind
from storage.models import Decision, Escalation, Participant

T0 = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)


def _escalation(title: str = "Vote-buying ads", **kw) -> Escalation:
    values = dict(
        title=title,
        category="election",
        policy_area="advertising_standards",
        severity="SEV1",
        region="latam",
        reporter="U0ANA00001",
        created_at=T0,
        ack_deadline=T0 + timedelta(minutes=5),
    )
    values.update(kw)
    return Escalation(**values)


def test_upgrade_from_empty(empty_db: Database):
    assert empty_db.schema_revision()[0] is None
    with pytest.raises(SchemaBehind, match="escbot db upgrade"):
        empty_db.prepare(auto_upgrade=False)
    empty_db.upgrade()
    current, head = empty_db.schema_revision()
    assert current == head is not None
    tables = set(inspect(empty_db.engine).get_table_names())
    assert {
        "escalations",
        "participants",
        "timeline_events",
        "decisions",
        "signoffs",
        "followups",
        "escalation_links",
        "overrides",
        "sent_notifications",
        "outbox",
        "processed_requests",
        "counters",
    } <= tables
    empty_db.prepare(auto_upgrade=False)  # current: no error, no change
    empty_db.upgrade()  # idempotent


def test_embedded_sqlite_upgrades_itself(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.prepare()
    assert db.schema_revision()[0] == db.schema_revision()[1]
    db.dispose()


def test_escalation_round_trip(db: Database):
    with db.uow() as uow:
        esc = uow.repos.escalations.add(
            _escalation(surfaces=["facebook"], links=["https://x.test"])
        )
        uow.repos.escalations.add_participant(
            Participant(
                escalation_id=esc.id,
                user_id="U0LEG00001",
                role="stakeholder",
                group="legal",
                added_at=T0,
            )
        )
        uow.repos.escalations.add_event(esc.id, T0, "created", "U0ANA00001", severity="SEV1")
        uow.commit()
        number = esc.id
    with db.uow() as uow:
        got = uow.repos.escalations.get(number)
        assert got is not None
        assert got.ref == f"ESC-{number}"
        assert got.created_at == T0 and got.created_at.tzinfo is not None
        assert got.surfaces == ["facebook"] and got.links == ["https://x.test"]
        assert [(p.user_id, p.group) for p in got.participants] == [("U0LEG00001", "legal")]
        [event] = uow.repos.escalations.timeline(number)
        assert event.kind == "created" and event.detail == {"severity": "SEV1"}
        assert uow.repos.escalations.find(statuses=["open"])[0].id == number


def test_uncommitted_work_is_rolled_back(db: Database):
    with db.uow() as uow:
        uow.repos.escalations.add(_escalation())
    with db.uow() as uow:
        assert uow.repos.escalations.find() == []


def test_numbers_are_sequential_and_never_reused(db: Database):
    with db.uow() as uow:
        first = uow.repos.escalations.add(_escalation()).id
        uow.commit()
    with db.uow() as uow:
        uow.repos.escalations.add(_escalation())  # rolled back: the number is never used
    with db.uow() as uow:
        second = uow.repos.escalations.add(_escalation()).id
        uow.commit()
    assert first == 1
    assert second == 2


def test_concurrent_allocation_has_no_duplicates(db: Database):
    per_thread, threads = 15, 8
    numbers: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                with db.uow() as uow:
                    number = uow.repos.escalations.add(_escalation()).id
                    uow.commit()
                with lock:
                    numbers.append(number)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, per_thread * threads + 1))


def test_ledger_claims_once(db: Database):
    with db.uow() as uow:
        assert uow.repos.ledger.claim("page:1:0:0", "page", T0, T0)
        assert not uow.repos.ledger.claim("page:1:0:0", "page", T0, T0)
        assert uow.repos.ledger.claim("page:1:0:1", "page", T0, T0)
        uow.commit()
    with db.uow() as uow:
        assert not uow.repos.ledger.claim("page:1:0:0", "page", T0, T0)
        assert uow.repos.ledger.keys("page:1:") == ["page:1:0:0", "page:1:0:1"]


def test_processed_requests_and_outbox(db: Database):
    with db.uow() as uow:
        assert uow.repos.requests.claim("event:Ev1", "event", T0, escalation=3)
        assert not uow.repos.requests.claim("event:Ev1", "event", T0)
        assert uow.repos.outbox.add("staff:1", "escalation.staff", T0, payload_key=1)
        assert not uow.repos.outbox.add("staff:1", "escalation.staff", T0)
        uow.commit()
    with db.uow() as uow:
        stored = uow.repos.requests.get("event:Ev1")
        assert stored is not None and stored.result == {"escalation": 3}
        [item] = uow.repos.outbox.due(T0)
        assert item.key == "staff:1" and item.payload == {"payload_key": 1}
        assert uow.repos.outbox.lock(item.id, T0 + timedelta(minutes=2), T0)
        assert not uow.repos.outbox.lock(item.id, T0 + timedelta(minutes=2), T0)
        uow.commit()
    with db.uow() as uow:
        assert uow.repos.outbox.due(T0) == []
        assert len(uow.repos.outbox.due(T0 + timedelta(minutes=3))) == 1


def test_decisions_and_overrides(db: Database):
    with db.uow() as uow:
        esc = uow.repos.escalations.add(_escalation())
        for seq in (1, 2):
            uow.repos.decisions.add(
                Decision(
                    escalation_id=esc.id,
                    seq=seq,
                    text=f"d{seq}",
                    decided_by="U0ANA00001",
                    created_at=T0,
                    prev_hash="0" * 64,
                    hash=str(seq) * 64,
                )
            )
        from storage.models import Override

        uow.repos.overrides.add(
            Override(
                rotation="primary",
                user_id="U0DAN00001",
                start=T0,
                end=T0 + timedelta(hours=4),
                created_by="U0ANA00001",
                created_at=T0,
            )
        )
        uow.commit()
        number = esc.id
    with db.uow() as uow:
        assert [d.text for d in uow.repos.decisions.chain(number)] == ["d1", "d2"]
        assert uow.repos.decisions.last(number).seq == 2  # type: ignore[union-attr]
        assert uow.repos.decisions.count(number) == 2
        active = uow.repos.overrides.active(
            rotation="primary", ending_after=T0, starting_before=T0 + timedelta(hours=1)
        )
        assert [o.user_id for o in active] == ["U0DAN00001"]
        assert (
            uow.repos.overrides.active(rotation="primary", ending_after=T0 + timedelta(hours=4))
            == []
        )


def test_migrations_match_the_models(db: Database):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.models import Base

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_the_head_read_without_alembic_is_alembics():
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config, head_revision

    assert (
        head_revision()
        == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    )


def test_checking_a_current_schema_does_not_import_alembic(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'current.db'}"
    Database(url).upgrade()
    probe = (
        "import sys; from storage.db import Database; Database(sys.argv[1]).prepare(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, url], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
