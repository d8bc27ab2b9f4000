"""The decision log: append-only, hash-chained per escalation, verifiable.

Entry n carries `prev_hash` = the hash of entry n-1 (64 zeros for the first) and `hash` =
SHA-256 over a canonical JSON of its content and `prev_hash`, so changing, removing or
reordering any entry breaks the chain from that entry on. A correction is a new entry that
`supersedes` an earlier one; nothing is ever edited.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from bot.errors import UserError
from bot.parsing.esc import DecisionDraft
from bot.policy import Act
from bot.results import Where
from bot.services import Services
from bot.usecases import staging as effects
from bot.usecases.lifecycle import locate, mark_response
from storage.db import Database, UnitOfWork
from storage.models import Decision, Escalation

GENESIS = "0" * 64
PREFIX = 10


def canonical(
    *,
    escalation_id: int,
    seq: int,
    text: str,
    rationale: str,
    policy: str,
    decided_by: str,
    consulted: Sequence[str],
    supersedes: int | None,
    created_at: datetime,
    prev_hash: str,
) -> bytes:
    """Return the canonical JSON an entry's hash is computed over."""
    if created_at.tzinfo is None:
        raise ValueError("created_at must be aware")
    body = {
        "escalation_id": escalation_id,
        "seq": seq,
        "text": text,
        "rationale": rationale,
        "policy": policy,
        "decided_by": decided_by,
        "consulted": list(consulted),
        "supersedes": supersedes,
        "created_at": created_at.astimezone(UTC).isoformat(),
        "prev_hash": prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(decision: Decision) -> str:
    """Return the hash an entry should carry, computed from its stored content."""
    return hashlib.sha256(
        canonical(
            escalation_id=decision.escalation_id,
            seq=decision.seq,
            text=decision.text,
            rationale=decision.rationale or "",
            policy=decision.policy or "",
            decided_by=decision.decided_by,
            consulted=decision.consulted or [],
            supersedes=decision.supersedes,
            created_at=decision.created_at,
            prev_hash=decision.prev_hash,
        )
    ).hexdigest()


@dataclass
class Recorded:
    """A decision entry and whether this request created it (False: a retry found it)."""

    esc: Escalation
    decision: Decision
    created: bool


def append(
    uow: UnitOfWork,
    esc: Escalation,
    draft: DecisionDraft,
    actor: str,
    now: datetime,
    *,
    request_key: str | None = None,
) -> tuple[Decision, list[str]]:
    """Chain a new entry onto the (locked) escalation's log; return it and its outbox keys."""
    last = uow.repos.decisions.last(esc.id)
    seq = last.seq + 1 if last else 1
    if draft.supersedes is not None and not 1 <= draft.supersedes < seq:
        raise UserError(
            f"There is no decision #{draft.supersedes} in {esc.ref} to supersede"
            + (f" (entries #1–#{seq - 1})." if seq > 1 else " (its log is empty).")
        )
    decision = Decision(
        escalation_id=esc.id,
        seq=seq,
        text=draft.text,
        rationale=draft.rationale,
        policy=draft.policy,
        decided_by=actor,
        consulted=list(dict.fromkeys(draft.consulted)),
        supersedes=draft.supersedes,
        created_at=now,
        prev_hash=last.hash if last else GENESIS,
        request_key=request_key,
    )
    decision.hash = content_hash(decision)
    uow.repos.decisions.add(decision)
    mark_response(esc, actor, now)
    event = uow.repos.escalations.add_event(
        esc.id,
        now,
        "decision",
        actor,
        seq=seq,
        hash=decision.hash[:PREFIX],
        supersedes=draft.supersedes,
    )
    keys = [effects.queue_decision(uow, decision, now), effects.queue_card(uow, esc, event, now)]
    return decision, keys


def record_decision(
    svc: Services, actor: str, where: Where, draft: DecisionDraft, *, request_key: str
) -> Recorded:
    """Log a decision once per request (a retried or double submit finds the first)."""
    now = svc.clock()
    try:
        with svc.db.uow() as uow:
            esc = locate(svc, uow, where, actor, Act.DECISION, lock=True)
            existing = uow.repos.decisions.by_request_key(request_key)
            if existing is not None:
                return Recorded(esc, existing, False)
            decision, keys = append(uow, esc, draft, actor, now, request_key=request_key)
            uow.commit()
    except IntegrityError:  # a concurrent copy of this request won the race
        with svc.db.uow() as uow:
            esc = locate(svc, uow, where, actor, Act.DECISION)
            existing = uow.repos.decisions.by_request_key(request_key)
            if existing is None:
                raise
            return Recorded(esc, existing, False)
    effects.submit(svc, keys)
    return Recorded(esc, decision, True)


def decision_log(svc: Services, actor: str, where: Where) -> tuple[Escalation, list[Decision]]:
    """Return the escalation and its decision entries in order."""
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor)
        return esc, uow.repos.decisions.chain(esc.id)


@dataclass(frozen=True)
class Broken:
    """The first entry of a chain that does not verify, and why."""

    escalation_id: int
    seq: int
    problem: str

    def render(self) -> str:
        """Return `ESC-<n> decision #<seq>: <problem>`."""
        return f"ESC-{self.escalation_id} decision #{self.seq}: {self.problem}"


@dataclass(frozen=True)
class Verification:
    """The result of walking every chain."""

    entries: int
    chains: int
    broken: Broken | None


def verify_chain(escalation_id: int, entries: Sequence[Decision]) -> Broken | None:
    """Return the first broken entry of one escalation's chain (entries in seq order)."""
    previous: Decision | None = None
    for expected, entry in enumerate(entries, start=1):
        if entry.seq != expected:
            return Broken(
                escalation_id,
                expected,
                f"broken link: entry #{expected} is missing (next is #{entry.seq})",
            )
        if content_hash(entry) != entry.hash:
            return Broken(escalation_id, entry.seq, "content hash mismatch")
        wanted = previous.hash if previous else GENESIS
        if entry.prev_hash != wanted:
            what = f"the hash of #{previous.seq}" if previous else "the chain's start (64 zeros)"
            return Broken(escalation_id, entry.seq, f"broken link: prev_hash does not match {what}")
        previous = entry
    return None


def verify_all(db: Database) -> Verification:
    """Walk every escalation's chain; stop at the first broken entry."""
    entries = chains = 0
    with db.uow() as uow:
        for escalation_id in uow.repos.decisions.chains():
            chain = uow.repos.decisions.chain(escalation_id)
            broken = verify_chain(escalation_id, chain)
            if broken is not None:
                return Verification(entries, chains, broken)
            entries += len(chain)
            chains += 1
    return Verification(entries, chains, None)
