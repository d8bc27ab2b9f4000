"""Working an escalation (bot/usecases/lifecycle.py) on fakes: what each change records, what
it stages for Slack, what a repeat does, who may see it, and which changes tell the scheduler.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import UserError
from bot.kinds import CARD, INVITE, POST, UPDATE_BRIEF
from bot.results import Where
from bot.usecases.escalations import raise_escalation
from bot.usecases.lifecycle import (
    acknowledge,
    invite,
    list_escalations,
    post_update,
    reopen,
    resolve,
    set_owner,
    set_severity,
    status,
)
from bot.usecases.lifecycle import timeline as timeline_of
from tests.support.fakes import (
    Fakes,
    ads_draft,
    outbox_item,
    outbox_items,
    processed,
    stored,
    timeline,
)
from tests.support.people import LEAD, MEMBER, ONCALL, OUTSIDER, REPORTER, SALES

ESC1 = Where(1)


@pytest.fixture
def raised(fakes: Fakes) -> Fakes:
    """ESC-1 raised (SEV2 #ads by the reporter); what raising staged and told is forgotten."""
    raise_escalation(fakes.svc, ads_draft(), REPORTER)
    fakes.reschedules.clear()
    return fakes


def staged_since(fakes: Fakes, before: dict[str, str]) -> dict[str, str]:
    """Return the outbox items staged after `before` was read."""
    return {k: v for k, v in outbox_items(fakes.db).items() if k not in before}


def test_raising_tells_the_scheduler_once(fakes: Fakes) -> None:
    raise_escalation(fakes.svc, ads_draft(), REPORTER, request_key="r")
    assert fakes.reschedules == [1]
    raise_escalation(fakes.svc, ads_draft(), REPORTER, request_key="r")  # a repeat: no commit
    assert fakes.reschedules == [1]


def test_acknowledge_once_then_a_reply(raised: Fakes) -> None:
    before = outbox_items(raised.db)
    raised.clock.advance(timedelta(minutes=3))

    first = acknowledge(raised.svc, MEMBER, ESC1)

    assert first.changed and first.message == f"Acknowledged ESC-1. Owner: <@{ONCALL}>."
    esc = stored(raised.db, 1)
    assert (esc.status, esc.acknowledged_by, esc.owner) == ("acknowledged", MEMBER, ONCALL)
    assert esc.acknowledged_at == raised.clock()
    [event] = timeline(raised.db, 1, "acknowledged")
    assert (event.actor, event.detail) == (MEMBER, {"owner": ONCALL})
    staged = staged_since(raised, before)
    assert staged == {
        f"card:1:{event.id}": CARD,
        f"invite:1:ack:{MEMBER}": INVITE,
        f"post:1:{event.id}": POST,
    }
    assert raised.outbox.submitted == [  # submitted in order: the card first
        f"card:1:{event.id}",
        f"invite:1:ack:{MEMBER}",
        f"post:1:{event.id}",
    ]
    assert raised.reschedules == [1]  # paging stops: the scheduler is told

    second = acknowledge(raised.svc, LEAD, ESC1)

    assert not second.changed
    assert second.message == f"ESC-1 is already acknowledged by <@{MEMBER}>."
    assert len(timeline(raised.db, 1, "acknowledged")) == 1
    assert staged_since(raised, before) == staged
    assert raised.reschedules == [1]


def test_only_responders_acknowledge(raised: Fakes) -> None:
    with pytest.raises(UserError, match="Only responders"):
        acknowledge(raised.svc, SALES, ESC1)  # a stakeholder in the channel, not a responder
    assert stored(raised.db, 1).status == "open"
    assert timeline(raised.db, 1, "acknowledged") == []


def test_set_severity_moves_the_deadline_and_invites_newly_routed_groups(raised: Fakes) -> None:
    before = outbox_items(raised.db)

    outcome = set_severity(raised.svc, MEMBER, ESC1, "SEV1")

    assert outcome.changed and outcome.message == "ESC-1 is now SEV1."
    esc = stored(raised.db, 1)
    assert esc.severity == "SEV1"
    assert esc.ack_deadline == esc.created_at + timedelta(minutes=5)
    [event] = timeline(raised.db, 1, "severity_changed")
    assert event.detail == {
        "before": "SEV2",
        "after": "SEV1",
        "groups": ["secondary", "legal", "leads"],
    }
    invite_key = f"invite:1:sev:{event.id}"
    assert staged_since(raised, before) == {
        f"card:1:{event.id}": CARD,
        invite_key: INVITE,
        f"post:1:{event.id}": POST,
    }
    assert set(outbox_item(raised.db, invite_key).payload["users"]) == {
        "U0EVE00001",  # secondary on call this week
        "U0LEG00001",
        "U0LEG00002",
        LEAD,
    }
    assert raised.reschedules == [1]

    again = set_severity(raised.svc, MEMBER, ESC1, "SEV1")
    assert (again.changed, again.message) == (False, "ESC-1 is already SEV1.")
    assert raised.reschedules == [1]
    with pytest.raises(UserError, match="Unknown severity"):
        set_severity(raised.svc, MEMBER, ESC1, "SEV9")


def test_set_owner_hands_over_without_telling_the_scheduler(raised: Fakes) -> None:
    before = outbox_items(raised.db)

    outcome = set_owner(raised.svc, ONCALL, ESC1, LEAD)

    assert outcome.changed and outcome.message == f"<@{LEAD}> now owns ESC-1."
    assert stored(raised.db, 1).owner == LEAD
    [event] = timeline(raised.db, 1, "owner_changed")
    assert event.detail == {"before": ONCALL, "after": LEAD, "taken": False}
    assert staged_since(raised, before) == {
        f"card:1:{event.id}": CARD,
        f"invite:1:{event.id}": INVITE,
        f"post:1:{event.id}": POST,
    }
    assert raised.reschedules == []  # who owns it moves no ping

    same = set_owner(raised.svc, ONCALL, ESC1, LEAD)
    assert (same.changed, same.message) == (False, f"<@{LEAD}> already owns ESC-1.")
    took = set_owner(raised.svc, MEMBER, ESC1, MEMBER, take=True)
    assert took.changed
    assert timeline(raised.db, 1, "owner_changed")[-1].detail["taken"] is True


def test_post_update_once_per_request_key(raised: Fakes) -> None:
    raised.clock.advance(timedelta(minutes=10))
    before = outbox_items(raised.db)

    first = post_update(raised.svc, ONCALL, ESC1, "Ads paused in EMEA", "upd-1")
    again = post_update(raised.svc, ONCALL, ESC1, "Ads paused in EMEA", "upd-1")

    assert (first.changed, again.changed) == (True, False)
    assert again.message == "That update is already posted."
    esc = stored(raised.db, 1)
    assert esc.last_update_at == esc.first_response_at == raised.clock()
    [event] = timeline(raised.db, 1, "update")
    assert event.detail == {"text": "Ads paused in EMEA"}
    assert stored(raised.db, 1).severity == "SEV2"  # briefed to the updates channel too
    assert staged_since(raised, before) == {
        f"card:1:{event.id}": CARD,
        f"brief:1:{event.id}": UPDATE_BRIEF,
        f"post:1:{event.id}": POST,
    }
    assert "Ads paused in EMEA" in outbox_item(raised.db, f"post:1:{event.id}").payload["text"]
    request = processed(raised.db, "upd-1")
    assert request is not None and request.kind == "update"
    assert raised.reschedules == [1]  # the update reminder moves
    with pytest.raises(UserError, match="needs its text"):
        post_update(raised.svc, ONCALL, ESC1, "   ", "upd-2")


def test_invite_batches_people_and_groups_once(raised: Fakes) -> None:
    before = outbox_items(raised.db)

    outcome = invite(
        raised.svc, MEMBER, ESC1, users=[OUTSIDER], groups=["legal"], request_key="inv-1"
    )
    again = invite(
        raised.svc, MEMBER, ESC1, users=[OUTSIDER], groups=["legal"], request_key="inv-1"
    )

    assert outcome.changed and outcome.message == f"Inviting <@{OUTSIDER}>, Legal to ESC-1."
    assert (again.changed, again.message) == (False, "Those invites are already on their way.")
    [event] = timeline(raised.db, 1, "invite_requested")
    key = f"invite:1:{event.id}"
    assert staged_since(raised, before) == {key: INVITE}
    payload = outbox_item(raised.db, key).payload
    assert payload["users"] == [OUTSIDER, "U0LEG00001", "U0LEG00002"]
    assert payload["named"] == [OUTSIDER]
    people = {p.user_id: p.role for p in stored(raised.db, 1).participants}
    assert people[OUTSIDER] == "invitee" and people["U0LEG00001"] == "stakeholder"
    assert raised.outbox.submitted == [key]
    assert raised.reschedules == []
    with pytest.raises(UserError, match="Unknown group"):
        invite(raised.svc, MEMBER, ESC1, groups=["nobody"], request_key="inv-2")


def test_resolve_and_reopen(raised: Fakes) -> None:
    resolved = resolve(raised.svc, ONCALL, ESC1, "Ads removed")
    twice = resolve(raised.svc, ONCALL, ESC1, "Ads removed")

    assert resolved.changed and not twice.changed
    assert twice.message == "ESC-1 is already resolved."
    esc = stored(raised.db, 1)
    assert (esc.status, esc.resolution, esc.resolved_at) == (
        "resolved",
        "Ads removed",
        raised.clock(),
    )
    assert acknowledge(raised.svc, ONCALL, ESC1).changed is False
    assert raised.reschedules == [1]

    reopened = reopen(raised.svc, LEAD, ESC1)
    not_again = reopen(raised.svc, LEAD, ESC1)

    assert reopened.changed and not_again.message == "ESC-1 is not resolved (reopened)."
    esc = stored(raised.db, 1)
    assert (esc.status, esc.resolution, esc.resolved_at) == ("reopened", None, None)
    assert [e.kind for e in timeline(raised.db, 1)][1:] == ["resolved", "reopened"]
    assert raised.reschedules == [1, 2]
    with pytest.raises(UserError, match="Say how it was resolved"):
        resolve(raised.svc, ONCALL, ESC1, " ")


def test_a_restricted_escalation_is_invisible_to_outsiders(fakes: Fakes) -> None:
    raise_escalation(fakes.svc, ads_draft("Leak of VIP data", restricted=True), REPORTER)
    raise_escalation(fakes.svc, ads_draft("Open for all"), REPORTER)

    for read in (status, timeline_of):
        with pytest.raises(UserError, match="ESC-1 does not exist, or it is restricted"):
            read(fakes.svc, OUTSIDER, ESC1)
    with pytest.raises(UserError, match="does not exist, or it is restricted"):
        acknowledge(fakes.svc, LEAD, ESC1)  # a responder, but not in its channel
    assert [e.id for e in list_escalations(fakes.svc, OUTSIDER, "all").escalations] == [2]
    assert [e.id for e in list_escalations(fakes.svc, LEAD, "open").escalations] == [2]

    inside = status(fakes.svc, REPORTER, ESC1)
    assert inside.esc.title == "Leak of VIP data"
    assert [e.kind for e in timeline_of(fakes.svc, SALES, ESC1).events] == ["created"]
    assert [e.id for e in list_escalations(fakes.svc, REPORTER, "mine").escalations] == [2, 1]
    assert status(fakes.svc, OUTSIDER, Where(2)).esc.title == "Open for all"


def test_the_scheduler_is_told_after_the_commit(raised: Fakes) -> None:
    seen: list[str] = []
    raised.db.watch_schedule(lambda: seen.append(stored(raised.db, 1).status))

    acknowledge(raised.svc, ONCALL, ESC1)

    assert seen == ["acknowledged"]  # a watcher reading back finds the change committed
