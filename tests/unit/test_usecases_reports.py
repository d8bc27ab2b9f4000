"""Trends, the export and App Home on fakes: a restricted escalation is counted and shown only
for those inside it, and its title never leaves the channel."""

from __future__ import annotations

from datetime import timedelta

from bot.results import Where
from bot.usecases.escalations import raise_escalation
from bot.usecases.home import home_data
from bot.usecases.lifecycle import acknowledge, resolve
from bot.usecases.reports import RESTRICTED_TITLE, export_rows, stats
from tests.support.fakes import Fakes, ads_draft
from tests.support.people import MEMBER, ONCALL, OUTSIDER, REPORTER


def history(fakes: Fakes) -> None:
    """ESC-1 restricted, acknowledged after 4 min and resolved after 1 h; ESC-2 open."""
    raise_escalation(fakes.svc, ads_draft("Leak of VIP data", restricted=True), REPORTER)
    fakes.clock.advance(timedelta(minutes=4))
    acknowledge(fakes.svc, ONCALL, Where(1))
    fakes.clock.advance(timedelta(minutes=56))
    resolve(fakes.svc, ONCALL, Where(1), "Contained")
    raise_escalation(fakes.svc, ads_draft("Counterfeit ads wave", severity="SEV3"), MEMBER)


def test_stats_count_a_restricted_escalation_only_for_its_insiders(fakes: Fakes) -> None:
    history(fakes)

    inside = stats(fakes.svc, REPORTER, 7)
    outside = stats(fakes.svc, OUTSIDER, 7)

    assert (inside.total, inside.open, inside.resolved) == (2, 1, 1)
    assert inside.by_severity == {"SEV2": 1, "SEV3": 1}
    assert inside.median_ack_s == 240 and inside.median_resolve_s == 3600
    assert (outside.total, outside.open, outside.resolved) == (1, 1, 0)
    assert outside.by_severity == {"SEV3": 1}
    assert outside.median_ack_s is None


def test_the_export_hides_a_restricted_title(fakes: Fakes) -> None:
    history(fakes)

    with fakes.db.uow() as uow:
        rows = export_rows(uow, fakes.clock() - timedelta(days=1), fakes.clock())

    assert [(r["id"], r["title"], r["restricted"]) for r in rows] == [
        ("ESC-1", RESTRICTED_TITLE, True),
        ("ESC-2", "Counterfeit ads wave", False),
    ]
    assert (rows[0]["time_to_ack_s"], rows[0]["time_to_resolve_s"]) == (240, 3600)
    assert rows[0]["status"] == "resolved" and rows[1]["status"] == "open"
    assert "Leak of VIP data" not in repr(rows)


def test_home_lists_open_escalations_the_user_is_in(fakes: Fakes) -> None:
    raise_escalation(fakes.svc, ads_draft("Leak of VIP data", restricted=True), REPORTER)
    raise_escalation(fakes.svc, ads_draft("Counterfeit ads wave"), MEMBER)

    reporter = home_data(fakes.svc, REPORTER)
    outsider = home_data(fakes.svc, OUTSIDER)
    oncall = home_data(fakes.svc, ONCALL)

    assert [e.id for e in reporter.escalations] == [1]
    assert outsider.escalations == []
    assert [e.id for e in oncall.escalations] == [2, 1]  # paged into both
    assert [(o.rotation, o.user) for o in oncall.oncall] == [
        ("primary", ONCALL),
        ("secondary", "U0EVE00001"),
    ]
    assert oncall.shifts and all(s.user == ONCALL for s in oncall.shifts)
