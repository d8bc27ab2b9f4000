"""The audit bundle: one escalation's decision chain, sign-offs and timeline in one JSON
document that can be checked offline, with no database.

Decisions keep the hashes of the decision log (`canonical`, `content_hash`). Sign-offs and
timeline events are chained the same way here: each entry's `hash` is SHA-256 over the
canonical JSON of its content and the previous entry's hash. The `seal` binds the three
chains' last hashes to the escalation, and the timeline's `decision` events must name the
hash prefix of the entry they announce, so editing, dropping or reordering any entry — or
swapping a section for another escalation's — is found, and named.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.usecases.decisions import GENESIS, PREFIX, canonical
from storage.db import Database
from storage.models import Decision, Signoff, TimelineEvent

FORMAT = "escbot-audit-bundle/1"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _digest(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _decision(d: Decision) -> dict[str, Any]:
    return {
        "seq": d.seq,
        "text": d.text,
        "rationale": d.rationale or "",
        "policy": d.policy or "",
        "decided_by": d.decided_by,
        "consulted": list(d.consulted or []),
        "supersedes": d.supersedes,
        "created_at": _iso(d.created_at),
        "prev_hash": d.prev_hash,
        "hash": d.hash,
    }


def _signoff(s: Signoff) -> dict[str, Any]:
    return {
        "id": s.id,
        "group": s.group,
        "question": s.question,
        "requested_by": s.requested_by,
        "requested_at": _iso(s.requested_at),
        "status": s.status,
        "answered_by": s.answered_by,
        "answered_at": _iso(s.answered_at),
    }


def _event(e: TimelineEvent) -> dict[str, Any]:
    return {"id": e.id, "at": _iso(e.at), "actor": e.actor, "kind": e.kind, "detail": e.detail}


def _chained(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out, prev = [], GENESIS
    for entry in entries:
        body = {**entry, "prev_hash": prev}
        prev = _digest(body)
        out.append({**body, "hash": prev})
    return out


def _seal(escalation: int, decisions: str, signoffs: str, timeline: str) -> str:
    return _digest(
        {
            "escalation": escalation,
            "decisions": decisions,
            "signoffs": signoffs,
            "timeline": timeline,
        }
    )


def _last(entries: Sequence[dict[str, Any]]) -> str:
    return str(entries[-1]["hash"]) if entries else GENESIS


def export_bundle(db: Database, number: int) -> dict[str, Any]:
    """Return ESC-<number>'s audit bundle; raise LookupError when there is no such escalation."""
    with db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        if esc is None:
            raise LookupError(f"ESC-{number} does not exist")
        decisions = [_decision(d) for d in uow.repos.decisions.chain(number)]
        signoffs = _chained([_signoff(s) for s in uow.repos.escalations.signoffs(number)])
        timeline = _chained([_event(e) for e in uow.repos.escalations.timeline(number)])
        ref, title = esc.ref, esc.title
    return {
        "format": FORMAT,
        "escalation": number,
        "ref": ref,
        "title": title,
        "decisions": decisions,
        "signoffs": signoffs,
        "timeline": timeline,
        "seal": _seal(number, _last(decisions), _last(signoffs), _last(timeline)),
    }


@dataclass(frozen=True)
class BundleCheck:
    """What verifying a bundle found: counts, and the first broken entry (None: intact)."""

    ref: str
    counts: tuple[int, int, int]
    seal: str
    broken: str | None


def _check_decisions(number: int, entries: list[dict[str, Any]]) -> str | None:
    prev = GENESIS
    for expected, entry in enumerate(entries, start=1):
        name = f"decision #{entry.get('seq', expected)}"
        if entry.get("seq") != expected:
            return f"{name}: broken link: entry #{expected} is missing"
        if entry.get("prev_hash") != prev:
            return f"{name}: broken link: prev_hash does not match the entry before it"
        body = canonical(
            escalation_id=number,
            seq=entry["seq"],
            text=entry["text"],
            rationale=entry["rationale"],
            policy=entry["policy"],
            decided_by=entry["decided_by"],
            consulted=entry["consulted"],
            supersedes=entry["supersedes"],
            created_at=datetime.fromisoformat(entry["created_at"]),
            prev_hash=entry["prev_hash"],
        )
        if hashlib.sha256(body).hexdigest() != entry.get("hash"):
            return f"{name}: content hash mismatch"
        prev = entry["hash"]
    return None


def _check_chain(what: str, entries: list[dict[str, Any]]) -> str | None:
    prev = GENESIS
    for n, entry in enumerate(entries, start=1):
        name = f"{what} #{n} ({entry.get('kind') or entry.get('group') or '?'})"
        body = {k: v for k, v in entry.items() if k != "hash"}
        if body.get("prev_hash") != prev:
            return f"{name}: broken link: prev_hash does not match the entry before it"
        if _digest(body) != entry.get("hash"):
            return f"{name}: content hash mismatch"
        prev = entry["hash"]
    return None


def _check_links(decisions: list[dict[str, Any]], timeline: list[dict[str, Any]]) -> str | None:
    hashes = {d["seq"]: str(d["hash"])[:PREFIX] for d in decisions}
    announced = set()
    for n, event in enumerate(timeline, start=1):
        if event.get("kind") != "decision":
            continue
        seq = event.get("detail", {}).get("seq")
        announced.add(seq)
        if hashes.get(seq) != event["detail"].get("hash"):
            return f"timeline #{n} (decision): does not match decision #{seq} of the chain"
    missing = sorted(set(hashes) - announced)
    if missing:
        return f"decision #{missing[0]}: not in the timeline"
    return None


def verify_bundle(bundle: Any) -> BundleCheck:
    """Check a bundle on its own; raise ValueError when it is not a bundle at all."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise ValueError(f"not an audit bundle (format {FORMAT!r} expected)")
    try:
        number = int(bundle["escalation"])
        decisions, signoffs, timeline = (
            list(bundle["decisions"]),
            list(bundle["signoffs"]),
            list(bundle["timeline"]),
        )
        ref = f"ESC-{number}"
        broken = (
            _check_decisions(number, decisions)
            or _check_chain("sign-off", signoffs)
            or _check_chain("timeline", timeline)
            or _check_links(decisions, timeline)
        )
        seal = _seal(number, _last(decisions), _last(signoffs), _last(timeline))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a well-formed audit bundle: {exc!r}") from None
    if broken is None and bundle.get("seal") != seal:
        broken = "seal: does not match the bundle's entries"
    counts = (len(decisions), len(signoffs), len(timeline))
    return BundleCheck(ref, counts, seal, f"{ref} {broken}" if broken else None)
