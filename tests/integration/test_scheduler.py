"""The scheduler on a real database: claims, restarts, missed pings, two processes at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from storage.db import Database

T0 = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)


def test_claim_many_wins_each_key_once(db: Database):
    rows = [(f"page:{n}:0:0", "page", T0, "sent") for n in range(1500)]
    with db.uow() as uow:
        assert uow.repos.ledger.claim_many(rows[:10], T0) == {r[0] for r in rows[:10]}
        uow.commit()
    with db.uow() as uow:
        won = uow.repos.ledger.claim_many(rows, T0)  # crosses a batch boundary
        uow.commit()
    assert won == {r[0] for r in rows[10:]}
    with db.uow() as uow:
        assert len(uow.repos.ledger.keys("page:")) == 1500
        assert uow.repos.ledger.recent(["page"], T0) and not uow.repos.ledger.recent(
            ["page"], T0 + timedelta(seconds=1)
        )
        uow.repos.ledger.set_status("page:1:0:0", "skipped")
        uow.commit()


def test_concurrent_claims_split_the_keys(db: Database):
    keys = [f"handoff:r{n}:20260304T170000Z" for n in range(300)]
    results: list[set[str]] = []
    barrier = threading.Barrier(4)

    def claim(offset: int) -> None:
        other = second_database(db)
        try:
            barrier.wait()
            # each claimer sees the keys in its own order; the repository sorts them
            mine = keys[offset:] + keys[:offset]
            with other.uow() as uow:
                won = uow.repos.ledger.claim_many([(k, "handoff", T0, "sent") for k in mine], T0)
                uow.commit()
            results.append(won)
        finally:
            other.dispose()

    threads = [threading.Thread(target=claim, args=(i * 70,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 4
    assert sum(len(r) for r in results) == len(keys)
    assert set().union(*results) == set(keys)


def second_database(db: Database) -> Database:
    """Open another engine on the same database (and schema), as another process would."""
    if db.is_sqlite:
        return Database(db.url)
    with db.engine.connect() as conn:
        schema = conn.exec_driver_sql("SHOW search_path").scalar()
    return Database(db.url, connect_args={"options": f"-csearch_path={schema}"})
