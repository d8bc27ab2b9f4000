"""The escalation's records on fakes: the decision log and its hash chain, sign-offs (asked of
a group, answered once by a member, into the log) and follow-ups."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.kinds import CARD, DECISION, INVITE, POST, SIGNOFF
from bot.parsing.esc import DecisionDraft
from bot.results import Where
from bot.usecases.decisions import GENESIS, decision_log, record_decision, verify_chain
from bot.usecases.escalations import raise_escalation
from bot.usecases.followups import add_followup, complete_followup
from bot.usecases.signoffs import answer_signoff, request_signoff
from storage.models import Decision
from tests.support.fakes import Fakes, ads_draft, outbox_items, processed, stored, timeline
from tests.support.people import MEMBER, ONCALL, OUTSIDER, REPORTER, SALES

ESC1 = Where(1)
LEGAL = ("U0LEG00001", "U0LEG00002")


@pytest.fixture
def raised(fakes: Fakes) -> Fakes:
    """ESC-1 raised (SEV2 #ads by the reporter); what raising told the scheduler is forgotten."""
    raise_escalation(fakes.svc, ads_draft(), REPORTER)
    fakes.reschedules.clear()
    return fakes


def staged_since(fakes: Fakes, before: dict[str, str]) -> dict[str, str]:
    """Return the outbox items staged after `before` was read."""
    return {k: v for k, v in outbox_items(fakes.db).items() if k not in before}


def chain(fakes: Fakes, actor: str = ONCALL) -> list[Decision]:
    """Return ESC-1's decision log as `actor` reads it."""
    return decision_log(fakes.svc, actor, ESC1)[1]


# -- decisions --------------------------------------------------------------------------------


def test_record_decision_chains_entries_once_per_request(raised: Fakes) -> None:
    before = outbox_items(raised.db)

    first = record_decision(
        raised.svc, ONCALL, ESC1, DecisionDraft(text="Pause the ads"), request_key="d-1"
    )
    retry = record_decision(
        raised.svc, ONCALL, ESC1, DecisionDraft(text="Pause the ads"), request_key="d-1"
    )
    second = record_decision(
        raised.svc,
        MEMBER,
        ESC1,
        DecisionDraft(text="Refund advertisers", supersedes=1),
        request_key="d-2",
    )

    assert (first.created, retry.created, second.created) == (True, False, True)
    assert retry.decision.id == first.decision.id
    entries = chain(raised)
    assert [(d.seq, d.text, d.decided_by) for d in entries] == [
        (1, "Pause the ads", ONCALL),
        (2, "Refund advertisers", MEMBER),
    ]
    assert entries[0].prev_hash == GENESIS and entries[1].prev_hash == entries[0].hash
    assert verify_chain(1, entries) is None
    events = timeline(raised.db, 1, "decision")
    assert [(e.detail["seq"], e.detail["supersedes"]) for e in events] == [(1, None), (2, 1)]
    assert staged_since(raised, before) == {
        f"decision:{first.decision.id}": DECISION,
        f"card:1:{events[0].id}": CARD,
        f"decision:{second.decision.id}": DECISION,
        f"card:1:{events[1].id}": CARD,
    }
    assert stored(raised.db, 1).first_response_at == raised.clock()
    assert raised.reschedules == []


def test_verify_chain_finds_an_edited_entry(raised: Fakes) -> None:
    for n, text in enumerate(("One", "Two", "Three"), start=1):
        record_decision(raised.svc, ONCALL, ESC1, DecisionDraft(text=text), request_key=f"d{n}")
    entries = chain(raised)
    entries[1].text = "Two, edited"

    broken = verify_chain(1, entries)

    assert broken is not None
    assert broken.render() == "ESC-1 decision #2: content hash mismatch"
    assert verify_chain(1, [entries[0], entries[2]]) is not None  # #2 missing


def test_a_decision_cannot_supersede_what_is_not_there(raised: Fakes) -> None:
    with pytest.raises(UserError, match="no decision #3 in ESC-1"):
        record_decision(
            raised.svc, ONCALL, ESC1, DecisionDraft(text="x", supersedes=3), request_key="d-1"
        )
    assert chain(raised) == []
    assert outbox_items(raised.db) == {"staff:1": "escalation.staff"}


# -- sign-offs --------------------------------------------------------------------------------


def test_request_signoff_invites_the_group_and_stages_the_request(raised: Fakes) -> None:
    before = outbox_items(raised.db)

    asked = request_signoff(raised.svc, ONCALL, ESC1, "legal", "OK to refund?", request_key="s-1")
    again = request_signoff(raised.svc, ONCALL, ESC1, "legal", "OK to refund?", request_key="s-1")

    assert asked.message == "Asked Legal to sign off in ESC-1."
    assert (again.changed, again.message) == (False, "That sign-off request is already posted.")
    with raised.db.uow() as uow:
        [signoff] = uow.repos.escalations.signoffs(1)
    assert (signoff.group, signoff.status, signoff.requested_by) == ("legal", "pending", ONCALL)
    [event] = timeline(raised.db, 1, "signoff_requested")
    assert staged_since(raised, before) == {
        f"signoff:{signoff.id}:asked": SIGNOFF,
        f"invite:1:signoff:{signoff.id}": INVITE,
        f"card:1:{event.id}": CARD,
    }
    roles = {p.user_id: (p.role, p.group) for p in stored(raised.db, 1).participants}
    assert roles[LEGAL[0]] == roles[LEGAL[1]] == ("stakeholder", "legal")
    assert raised.reschedules == [1]  # its reminder is scheduled
    with pytest.raises(UserError, match="Unknown group"):
        request_signoff(raised.svc, ONCALL, ESC1, "nobody", "?", request_key="s-2")


def test_answer_signoff_once_by_a_member_of_the_group(raised: Fakes) -> None:
    request_signoff(raised.svc, ONCALL, ESC1, "legal", "OK to refund?", request_key="s-1")
    with raised.db.uow() as uow:
        [signoff] = uow.repos.escalations.signoffs(1)
    raised.reschedules.clear()
    before = outbox_items(raised.db)

    for stranger in (SALES, ONCALL, OUTSIDER):  # not Legal, in the channel or not
        with pytest.raises(UserError, match="Only Legal can answer"):
            answer_signoff(raised.svc, stranger, signoff.id, True)
    assert staged_since(raised, before) == {}

    answered = answer_signoff(raised.svc, LEGAL[0], signoff.id, True)
    twice = answer_signoff(raised.svc, LEGAL[1], signoff.id, False)

    assert answered.changed and answered.message == "Recorded: Legal approved (decision #1)."
    assert not twice.changed
    assert twice.message == f"This sign-off was already approved by <@{LEGAL[0]}>. Nothing changed."
    assert (answered.signoff.status, answered.signoff.answered_by) == ("approved", LEGAL[0])
    [entry] = chain(raised)
    assert (entry.text, entry.decided_by, entry.consulted) == (
        "Legal approved: OK to refund?",
        LEGAL[0],
        [ONCALL],
    )
    [event] = timeline(raised.db, 1, "signoff_answered")
    assert event.detail["outcome"] == "approved" and event.detail["decision"] == 1
    staged = staged_since(raised, before)
    assert list(staged.values()) == [DECISION, CARD, SIGNOFF]
    assert f"signoff:{signoff.id}:answered" in staged
    assert raised.reschedules == [1]  # its reminders stop


def test_answering_a_missing_signoff_is_refused(raised: Fakes) -> None:
    with pytest.raises(UserError, match="no longer exists"):
        answer_signoff(raised.svc, LEGAL[0], 42, True)


# -- follow-ups -------------------------------------------------------------------------------


def test_add_and_complete_a_followup(raised: Fakes) -> None:
    before = outbox_items(raised.db)

    added = add_followup(
        raised.svc, ONCALL, ESC1, "tooling_gap", " Detect wave earlier ", request_key="f-1"
    )
    repeat = add_followup(
        raised.svc, ONCALL, ESC1, "tooling_gap", "Detect wave earlier", request_key="f-1"
    )

    assert added.changed and added.message == f"Follow-up #1 recorded for <@{ONCALL}>."
    assert (repeat.changed, repeat.message) == (False, "That follow-up is already recorded.")
    with raised.db.uow() as uow:
        [item] = uow.repos.escalations.followups(1)
    assert (item.kind, item.text, item.owner, item.status) == (
        "tooling_gap",
        "Detect wave earlier",
        ONCALL,
        "open",
    )
    [event] = timeline(raised.db, 1, "followup_added")
    assert staged_since(raised, before) == {f"post:1:{event.id}": POST, f"card:1:{event.id}": CARD}
    request = processed(raised.db, "f-1")
    assert request is not None and request.kind == "followup"

    done = complete_followup(raised.svc, MEMBER, ESC1, item.id)
    done_again = complete_followup(raised.svc, MEMBER, ESC1, item.id)

    assert done.changed and done_again.message == "Follow-up #1 is already done."
    with raised.db.uow() as uow:
        assert uow.repos.escalations.followups(1)[0].status == "done"
    assert len(timeline(raised.db, 1, "followup_done")) == 1
    assert raised.reschedules == []
    with pytest.raises(UserError, match="has no follow-up #7"):
        complete_followup(raised.svc, MEMBER, ESC1, 7)
    with pytest.raises(UserError, match="Unknown follow-up kind"):
        add_followup(raised.svc, ONCALL, ESC1, "chores", "x", request_key="f-2")


def test_a_usergroup_backed_group_answers_through_its_members(raised: Fakes) -> None:
    raised.slack.usergroups["S0PUBPOL01"] = ["U0PUB00001"]  # Public Policy's Slack user group
    request_signoff(raised.svc, ONCALL, ESC1, "public_policy", "Statement?", request_key="s-1")
    with raised.db.uow() as uow:
        [signoff] = uow.repos.escalations.signoffs(1)

    with pytest.raises(UserError, match="Only Public Policy can answer"):
        answer_signoff(raised.svc, "U0PUB00002", signoff.id, False)
    answered = answer_signoff(raised.svc, "U0PUB00001", signoff.id, False)

    assert answered.message == "Recorded: Public Policy rejected (decision #1)."
    assert ("usergroup_members_or_none", "S0PUBPOL01") in raised.slack.reads
    invite = [k for k in outbox_items(raised.db) if k.startswith("invite:1:signoff:")]
    assert invite == [f"invite:1:signoff:{signoff.id}"]
