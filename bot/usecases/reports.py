"""Trends and the export: `/esc stats` and `escbot export`."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.kinds import OPEN
from bot.results import Stats
from bot.services import Services
from bot.usecases.lifecycle import visible_escalations
from storage.db import UnitOfWork
from storage.models import Deadline, Escalation

COLUMNS = (
    "id",
    "title",
    "category",
    "policy_area",
    "severity",
    "region",
    "status",
    "restricted",
    "reporter",
    "owner",
    "created_at",
    "acknowledged_at",
    "resolved_at",
    "time_to_ack_s",
    "time_to_resolve_s",
    "sla_breached",
    "decisions",
    "followups",
    "duplicate_of",
    "deadline_at",
    "deadline_breached",
)
RESTRICTED_TITLE = "[restricted]"


def iso(instant: datetime | None) -> str | None:
    """Return an instant as ISO-8601 UTC (`…Z`), or None."""
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_since(text: str) -> datetime:
    """Parse `YYYY-MM-DD` (midnight UTC) or ISO-8601 (UTC unless it has an offset)."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(
            value.replace("Z", "+00:00") if value.endswith("Z") else value
        )
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or ISO-8601 time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def seconds_between(start: datetime, end: datetime | None) -> int | None:
    """Return whole seconds from start to end, or None when end has not happened."""
    if end is None:
        return None
    return int((end - start).total_seconds())


def sla_breached(esc: Escalation, now: datetime) -> bool:
    """Return True when the ack came after its deadline, or none came and it has passed.

    Resolving an escalation nobody acknowledged answers it too: the clock stops there.
    """
    answered = esc.acknowledged_at or esc.resolved_at
    if answered is not None:
        return answered > esc.ack_deadline
    return now > esc.ack_deadline


def deadline_breached(esc: Escalation, deadlines: Sequence[Deadline], now: datetime) -> bool | None:
    """Return True when any deadline passed unresolved, None when there is none."""
    if not deadlines:
        return None
    return any(d.breached(esc.resolved_at, now) for d in deadlines)


def export_row(
    esc: Escalation,
    decisions: int,
    followups: int,
    now: datetime,
    deadlines: Sequence[Deadline] = (),
) -> dict[str, Any]:
    """Return one escalation as an export row, columns in SPEC order; `deadline_at` is the
    soonest deadline's due instant."""
    values: dict[str, Any] = {
        "id": esc.ref,
        "title": RESTRICTED_TITLE if esc.restricted else esc.title,
        "category": esc.category,
        "policy_area": esc.policy_area,
        "severity": esc.severity,
        "region": esc.region,
        "status": esc.status,
        "restricted": bool(esc.restricted),
        "reporter": esc.reporter,
        "owner": esc.owner,
        "created_at": iso(esc.created_at),
        "acknowledged_at": iso(esc.acknowledged_at),
        "resolved_at": iso(esc.resolved_at),
        "time_to_ack_s": seconds_between(esc.created_at, esc.acknowledged_at),
        "time_to_resolve_s": seconds_between(esc.created_at, esc.resolved_at),
        "sla_breached": sla_breached(esc, now),
        "decisions": decisions,
        "followups": followups,
        "duplicate_of": f"ESC-{esc.duplicate_of}" if esc.duplicate_of else None,
        "deadline_at": iso(min(d.due_at for d in deadlines)) if deadlines else None,
        "deadline_breached": deadline_breached(esc, deadlines, now),
    }
    return {name: values[name] for name in COLUMNS}


def export_rows(uow: UnitOfWork, since: datetime, now: datetime) -> list[dict[str, Any]]:
    """Return a row per escalation created since `since`, oldest first."""
    rows = []
    found = list(reversed(uow.repos.escalations.find(since=since)))
    deadlines = uow.repos.escalations.deadlines_of([esc.id for esc in found])
    for esc in found:
        rows.append(
            export_row(
                esc,
                uow.repos.decisions.count(esc.id),
                len(uow.repos.escalations.followups(esc.id)),
                now,
                deadlines.get(esc.id, []),
            )
        )
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Render export rows as CSV with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[name]) for name in COLUMNS])
    return out.getvalue()


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    """Render export rows as one JSON list of objects."""
    return json.dumps(list(rows), indent=2, ensure_ascii=False) + "\n"


def _median(values: list[int]) -> int | None:
    return int(statistics.median(values)) if values else None


def stats(svc: Services, viewer: str, days: int) -> Stats:
    """Return trends of the last `days` days as the viewer may see them."""
    now = svc.clock()
    since = now - timedelta(days=days)
    result = Stats(days, since)
    acks: list[int] = []
    resolves: list[int] = []
    severities: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    late_categories: Counter[str] = Counter()
    late_regions: Counter[str] = Counter()
    with svc.db.uow() as uow:
        shown = visible_escalations(svc, uow, viewer, since=since)
        clocks = uow.repos.escalations.deadlines_of([esc.id for esc in shown])
        for esc in shown:
            if esc.id in clocks:
                result.deadlines += 1
                if deadline_breached(esc, clocks[esc.id], now):
                    result.deadlines_breached += 1
                    late_categories[esc.category] += 1
                    late_regions[esc.region] += 1
            result.total += 1
            result.open += esc.status in OPEN
            result.resolved += esc.status == "resolved"
            severities[esc.severity] += 1
            categories[esc.category] += 1
            if (ack := seconds_between(esc.created_at, esc.acknowledged_at)) is not None:
                acks.append(ack)
            if (done := seconds_between(esc.created_at, esc.resolved_at)) is not None:
                resolves.append(done)
            result.sla_breached += sla_breached(esc, now)
            result.decisions += uow.repos.decisions.count(esc.id)
            kinds.update(f.kind for f in uow.repos.escalations.followups(esc.id))
    order = {s: i for i, s in enumerate(svc.config.severity_ids)}
    result.by_severity = dict(sorted(severities.items(), key=lambda kv: order.get(kv[0], 99)))
    result.by_category = dict(categories.most_common())
    result.followups = dict(kinds.most_common())
    result.deadline_breaches_by_category = dict(late_categories.most_common())
    result.deadline_breaches_by_region = dict(late_regions.most_common())
    result.median_ack_s = _median(acks)
    result.median_resolve_s = _median(resolves)
    return result
