"""Raising an escalation and *Escalate now*, on fakes of the bot's ports (no HTTP, no Slack)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import UserError
from bot.kinds import OUT_PAGE, OUT_PAGE_DM, PAGE, RAISE, SENT, STAFF
from bot.pings.plan import Due, seconds
from bot.pings.stage import claim
from bot.results import Where
from bot.usecases.escalations import accept_escalation, raise_escalation
from bot.usecases.lifecycle import acknowledge
from bot.usecases.paging import escalate_now
from tests.support.fakes import Fakes, ads_draft, outbox_item, outbox_items, stored, timeline
from tests.support.people import LEAD, MEMBER, ONCALL, OUTSIDER, REPORTER, SALES

CORE_POLICY = "U0CPO00001"  # Core Policy: routed into #ads escalations


def test_raise_records_the_escalation_pages_the_first_step_and_stages_its_staffing(
    fakes: Fakes,
) -> None:
    raised = raise_escalation(fakes.svc, ads_draft(), REPORTER, request_key="req-1")

    assert raised.created and raised.number == 1
    assert raised.outbox_key == "staff:1"
    assert raised.paged == [ONCALL]  # rotation:primary, the policy's first step
    esc = stored(fakes.db, 1)
    assert (esc.title, esc.severity, esc.status, esc.owner) == (
        "Counterfeit ads wave",
        "SEV2",
        "open",
        ONCALL,
    )
    assert esc.ack_deadline == fakes.clock() + timedelta(minutes=15)  # SEV2 ack_within
    roles = {p.user_id: (p.role, p.group) for p in esc.participants}
    assert roles == {
        REPORTER: ("reporter", None),
        ONCALL: ("oncall", None),
        SALES: ("stakeholder", "sales"),
        CORE_POLICY: ("stakeholder", "core_policy"),
    }
    [created] = timeline(fakes.db, 1)
    assert created.kind == "created" and created.actor == REPORTER
    assert created.detail["paged"] == [ONCALL]
    assert created.detail["groups"] == ["sales", "core_policy"]
    assert outbox_items(fakes.db) == {"staff:1": STAFF}
    assert outbox_item(fakes.db, "staff:1").payload["paged"] == [ONCALL]
    assert fakes.outbox.submitted == []  # the caller runs the staffing item, not the use case


def test_raise_is_idempotent_on_its_request_key(fakes: Fakes) -> None:
    first = raise_escalation(fakes.svc, ads_draft(), REPORTER, request_key="req-1")
    again = raise_escalation(fakes.svc, ads_draft("Typed twice"), REPORTER, request_key="req-1")
    other = raise_escalation(fakes.svc, ads_draft("Another"), REPORTER, request_key="req-2")

    assert (again.number, again.created, again.outbox_key) == (first.number, False, "staff:1")
    assert (other.number, other.created) == (2, True)
    assert len(timeline(fakes.db, 1, "created")) == 1
    assert stored(fakes.db, 1).title == "Counterfeit ads wave"
    assert list(outbox_items(fakes.db)) == ["staff:1", "staff:2"]


def test_a_restricted_escalation_is_recorded_restricted(fakes: Fakes) -> None:
    raise_escalation(fakes.svc, ads_draft("Leak of VIP data", restricted=True), REPORTER)

    assert stored(fakes.db, 1).restricted is True
    assert stored(fakes.db, 1).title == "Leak of VIP data"  # kept; hidden only where shown


def test_accept_saves_one_raise_item_per_request_key_and_submits_it(fakes: Fakes) -> None:
    assert accept_escalation(fakes.svc, ads_draft(), REPORTER, request_key="raise:abc") is True
    assert accept_escalation(fakes.svc, ads_draft(), REPORTER, request_key="raise:abc") is False

    assert outbox_items(fakes.db) == {"raise:abc": RAISE}
    payload = outbox_item(fakes.db, "raise:abc").payload
    assert payload["reporter"] == REPORTER
    assert payload["draft"]["title"] == "Counterfeit ads wave"
    assert fakes.outbox.submitted == ["raise:abc"]  # once, for the first request only
    with fakes.db.uow() as uow:
        assert uow.repos.escalations.find() == []  # recorded later, by the outbox worker


def _page_first_step(fakes: Fakes, number: int) -> None:
    """Send ESC-<number>'s first page as the scheduler would (claimed in the ledger)."""
    now = fakes.clock()
    due = Due(
        f"{PAGE}:{number}:0:0", PAGE, seconds(now), True, number, number, {"round": 0, "step": 0}
    )
    assert claim(fakes.svc, [due], now).sent == [due.key]


def test_escalate_now_pages_the_next_step_once(fakes: Fakes) -> None:
    raise_escalation(fakes.svc, ads_draft(), REPORTER)
    _page_first_step(fakes, 1)
    staged_before = set(outbox_items(fakes.db))

    reply = escalate_now(fakes.svc, MEMBER, 1, 0, 0)

    assert reply == "Paging step 2 of ESC-1 now."
    with fakes.db.uow() as uow:
        assert uow.repos.ledger.status(f"{PAGE}:1:0:1") == SENT
    [pressed] = timeline(fakes.db, 1, "escalated_now")
    assert (pressed.actor, pressed.detail) == (MEMBER, {"round": 0, "step": 1})
    [paged] = [e for e in timeline(fakes.db, 1, "paged") if e.detail["step"] == 1]
    assert paged.detail["users"] == ["U0EVE00001"]  # rotation:secondary this week
    new = {k: v for k, v in outbox_items(fakes.db).items() if k not in staged_before}
    assert new == {"page:1:0:1": OUT_PAGE, "page:1:0:1:dm:U0EVE00001": OUT_PAGE_DM}
    assert fakes.outbox.submitted == list(new)

    again = escalate_now(fakes.svc, LEAD, 1, 0, 0)  # a double click, another responder

    assert again == "Step 2 of ESC-1 was already paged."
    assert len(timeline(fakes.db, 1, "escalated_now")) == 1
    assert set(outbox_items(fakes.db)) == staged_before | set(new)


def test_escalate_now_refuses_an_out_of_date_button(fakes: Fakes) -> None:
    raise_escalation(fakes.svc, ads_draft(), REPORTER)

    with pytest.raises(UserError, match="out of date"):
        escalate_now(fakes.svc, MEMBER, 1, 0, 0)  # that page never went out
    with pytest.raises(UserError, match="out of date"):
        escalate_now(fakes.svc, MEMBER, 1, 0, 7)  # no such step
    assert timeline(fakes.db, 1, "escalated_now") == []


def test_escalate_now_after_an_ack_pages_no_one(fakes: Fakes) -> None:
    raise_escalation(fakes.svc, ads_draft(), REPORTER)
    _page_first_step(fakes, 1)
    acknowledge(fakes.svc, ONCALL, Where(1))
    staged = outbox_items(fakes.db)

    reply = escalate_now(fakes.svc, MEMBER, 1, 0, 0)

    assert reply == "ESC-1 is no longer paging: it was acknowledged."
    assert outbox_items(fakes.db) == staged
    assert timeline(fakes.db, 1, "escalated_now") == []


def test_escalate_now_is_for_responders_only(fakes: Fakes) -> None:
    raise_escalation(fakes.svc, ads_draft(), REPORTER)
    _page_first_step(fakes, 1)

    with pytest.raises(UserError, match="Only responders"):
        escalate_now(fakes.svc, SALES, 1, 0, 0)
    with pytest.raises(UserError, match="does not exist"):
        escalate_now(fakes.svc, OUTSIDER, 9, 0, 0)
    with fakes.db.uow() as uow:
        assert uow.repos.ledger.status(f"{PAGE}:1:0:1") is None
