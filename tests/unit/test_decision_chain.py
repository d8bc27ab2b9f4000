"""The decision log's hash chain, and the export's pure helpers: table-driven."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.usecases.decisions import GENESIS, Broken, canonical, content_hash, verify_chain
from bot.usecases.reports import COLUMNS, iso, parse_since, seconds_between, sla_breached, to_csv
from storage.models import Decision, Escalation

T0 = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)


def _chain(n: int, escalation_id: int = 4) -> list[Decision]:
    entries: list[Decision] = []
    for seq in range(1, n + 1):
        entry = Decision(
            escalation_id=escalation_id,
            seq=seq,
            text=f"Decision {seq}",
            rationale="because",
            policy="CS 4.2",
            decided_by="U0ANA00001",
            consulted=["U0LEG00001"],
            supersedes=seq - 1 if seq > 2 else None,
            created_at=T0 + timedelta(minutes=seq),
            prev_hash=entries[-1].hash if entries else GENESIS,
        )
        entry.hash = content_hash(entry)
        entries.append(entry)
    return entries


FIELDS: dict[str, Any] = {
    "escalation_id": 4,
    "seq": 1,
    "text": "Remove — all",
    "rationale": "",
    "policy": "",
    "decided_by": "U0ANA00001",
    "consulted": ["U0LEG00001"],
    "supersedes": None,
    "created_at": T0,
    "prev_hash": GENESIS,
}


def test_canonical_form_is_stable_and_documented():
    body = canonical(**FIELDS)
    assert (
        body
        == (
            '{"consulted":["U0LEG00001"],"created_at":"2026-03-04T17:00:00+00:00",'
            '"decided_by":"U0ANA00001","escalation_id":4,"policy":"","prev_hash":"'
            + GENESIS
            + '","rationale":"","seq":1,"supersedes":null,"text":"Remove — all"}'
        ).encode()
    )
    assert content_hash(Decision(**FIELDS)) == hashlib.sha256(body).hexdigest()


def test_the_instant_is_hashed_in_utc_whatever_its_zone():
    elsewhere = T0.astimezone(timezone(timedelta(hours=-8)))
    assert canonical(**{**FIELDS, "created_at": elsewhere}) == canonical(**FIELDS)
    with pytest.raises(ValueError):
        canonical(**{**FIELDS, "created_at": T0.replace(tzinfo=None)})


def test_an_intact_chain_verifies():
    assert verify_chain(4, _chain(5)) is None
    assert verify_chain(4, []) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "Decision two, edited"),
        ("rationale", "changed"),
        ("policy", "CS 9"),
        ("decided_by", "U0MAL00001"),
        ("consulted", []),
        ("supersedes", 1),
        ("created_at", T0 + timedelta(hours=5)),
        ("escalation_id", 5),
    ],
)
def test_any_edited_field_is_a_content_mismatch(field: str, value: object):
    chain = _chain(4)
    setattr(chain[1], field, value)
    assert verify_chain(4, chain) == Broken(4, 2, "content hash mismatch")


def test_a_rehashed_edit_breaks_the_next_link():
    chain = _chain(4)
    chain[1].text = "Rewritten"
    chain[1].hash = content_hash(chain[1])
    broken = verify_chain(4, chain)
    assert broken is not None and (broken.seq, broken.problem.startswith("broken link")) == (
        3,
        True,
    )
    assert broken.render().startswith("ESC-4 decision #3: broken link")


@pytest.mark.parametrize(
    ("drop", "seq"),
    [(0, 1), (2, 3), (3, None)],  # the first, a middle one, the last (undetectable alone)
)
def test_a_removed_entry_is_found(drop: int, seq: int | None):
    chain = _chain(4)
    del chain[drop]
    broken = verify_chain(4, chain)
    assert (broken.seq if broken else None) == seq
    if broken:
        assert "missing" in broken.problem


def test_a_forged_first_link_is_found():
    chain = _chain(2)
    chain[0].prev_hash = "f" * 64
    chain[0].hash = content_hash(chain[0])
    chain[1].prev_hash = chain[0].hash
    chain[1].hash = content_hash(chain[1])
    broken = verify_chain(4, chain)
    assert broken == Broken(
        4, 1, "broken link: prev_hash does not match the chain's start (64 zeros)"
    )


# -- export helpers --------------------------------------------------------------------------


def _esc(**values: object) -> Escalation:
    base: dict[str, object] = {
        "created_at": T0,
        "ack_deadline": T0 + timedelta(minutes=15),
        "acknowledged_at": None,
        "resolved_at": None,
    }
    base.update(values)
    return Escalation(**base)


@pytest.mark.parametrize(
    ("values", "now", "breached"),
    [
        ({"acknowledged_at": T0 + timedelta(minutes=14)}, T0 + timedelta(days=1), False),
        ({"acknowledged_at": T0 + timedelta(minutes=15)}, T0 + timedelta(days=1), False),
        ({"acknowledged_at": T0 + timedelta(minutes=16)}, T0 + timedelta(days=1), True),
        ({}, T0 + timedelta(minutes=10), False),
        ({}, T0 + timedelta(minutes=16), True),
        ({"resolved_at": T0 + timedelta(minutes=5)}, T0 + timedelta(days=1), False),
        ({"resolved_at": T0 + timedelta(hours=1)}, T0 + timedelta(days=1), True),
    ],
)
def test_sla_breached(values: dict[str, object], now: datetime, breached: bool):
    assert sla_breached(_esc(**values), now) is breached


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-04", T0.replace(hour=0)),
        ("2026-03-04T17:00:00Z", T0),
        ("2026-03-04T17:00:00", T0),
        ("2026-03-04T09:00:00-08:00", T0),
        ("2026-03-04 17:00", T0),
    ],
)
def test_parse_since(text: str, expected: datetime):
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-02-30", "04/03/2026"])
def test_parse_since_refuses(text: str):
    with pytest.raises(ValueError):
        parse_since(text)


def test_times_and_cells():
    assert iso(T0) == "2026-03-04T17:00:00Z"
    assert iso(None) is None
    assert seconds_between(T0, T0 + timedelta(seconds=90.9)) == 90
    assert seconds_between(T0, None) is None
    spec = (
        "id, title, category, policy_area, severity, region, status, restricted, reporter, "
        "owner, created_at, acknowledged_at, resolved_at, time_to_ack_s, time_to_resolve_s, "
        "sla_breached, decisions, followups, duplicate_of, deadline_at, deadline_breached"
    )
    assert tuple(spec.split(", ")) == COLUMNS
    row: dict[str, object] = dict.fromkeys(COLUMNS)
    row.update(id="ESC-1", title='Say "hi", then go', restricted=True, sla_breached=False)
    lines = to_csv([row]).splitlines()
    assert lines[1] == 'ESC-1,"Say ""hi"", then go",,,,,,true,,,,,,,,false,,,,,'
