"""Slack retries, double clicks and double submits: each yields its effect exactly once."""

from __future__ import annotations

from datetime import timedelta

from bot.blocks import Action, Callback
from schedules.scheduler import Scheduler
from storage.models import Escalation
from tests.support.escalations import decisions, esc, escalate_form, events, raise_esc, signoffs
from tests.support.people import LEAD, MEMBER, ONCALL, REPORTER
from tests.support.replay import at_once, capture, deliver
from tests.support.world import World


def _escalations(world: World) -> list[Escalation]:
    with world.db.uow() as uow:
        return uow.repos.escalations.find()


def _one_staffed_escalation(world: World, title: str) -> Escalation:
    [row] = _escalations(world)
    assert row.title == title and row.staffed_at is not None
    assert len(world.emulator.calls_of("conversations.create")) == 1
    assert len(world.emulator.calls_of("conversations.invite")) == 1
    cards = [m for m in world.emulator.messages(row.channel_id or "") if "ESC-1" in m["text"]]
    assert len(cards) == 1
    assert len(world.emulator.messages(world.config.team.feed_channel)) == 1
    return row


def test_a_retried_slash_command_raises_one_escalation(world: World):
    request = capture(
        world.driver, lambda: world.driver.command(REPORTER, "/escalate", "SEV2 Retried twice")
    )
    replies = [deliver(world.driver, request)]
    replies += [deliver(world.driver, request, retry_num=n) for n in (1, 2)]
    assert [r.status for r in replies] == [200, 200, 200]
    world.settle()
    _one_staffed_escalation(world, "Retried twice")


def test_the_same_slash_command_delivered_at_once_raises_one_escalation(world: World):
    request = capture(
        world.driver, lambda: world.driver.command(REPORTER, "/escalate", "SEV2 Ten copies")
    )
    replies = at_once([lambda: deliver(world.driver, request)] * 10)
    assert {r.status for r in replies} == {200}
    world.settle()
    _one_staffed_escalation(world, "Ten copies")


def _escalate_form(world: World) -> tuple[dict, dict]:
    return escalate_form(
        world,
        REPORTER,
        "Submitted twice",
        "content",
        policy_area="other",
        severity="SEV3",
        region="global",
    )


def test_a_form_submitted_twice_raises_one_escalation(world: World):
    view, values = _escalate_form(world)
    first = world.driver.submit_view(REPORTER, view, values)
    second = world.driver.submit_view(REPORTER, view, values)  # same view id
    assert first.status == second.status == 200
    world.settle()
    _one_staffed_escalation(world, "Submitted twice")


def test_a_form_submitted_twice_at_once_raises_one_escalation(world: World):
    view, values = _escalate_form(world)
    request = capture(world.driver, lambda: world.driver.submit_view(REPORTER, view, values))
    replies = at_once([lambda: deliver(world.driver, request)] * 6)
    assert {r.status for r in replies} == {200}
    world.settle()
    _one_staffed_escalation(world, "Submitted twice")


def test_a_double_clicked_ack_acknowledges_once(world: World):
    row = raise_esc(world)
    posted = len(world.emulator.messages(row.channel_id))
    clicks = [
        capture(
            world.driver,
            lambda: world.driver.action(
                MEMBER,
                Action.ACK.value,
                str(row.id),
                channel_id=row.channel_id,
                message_ts=row.card_ts,
            ),
        )
        for _ in range(2)
    ]
    replies = at_once([lambda c=c: deliver(world.driver, c) for c in clicks])
    assert {r.status for r in replies} == {200}
    world.settle()
    assert len(events(world, row.id, "acknowledged")) == 1
    notes = world.emulator.messages(row.channel_id)[posted:]
    assert len([m for m in notes if "acknowledged ESC-1" in m["text"]]) == 1


def test_a_retried_decision_command_logs_one_decision(world: World):
    row = raise_esc(world)
    request = capture(
        world.driver,
        lambda: world.driver.command(
            MEMBER, "/decision", "Remove the ads network-wide", channel_id=row.channel_id
        ),
    )
    at_once([lambda: deliver(world.driver, request)] * 4)
    deliver(world.driver, request, retry_num=1)
    world.settle()
    assert [d.text for d in decisions(world, row.id)] == ["Remove the ads network-wide"]
    entries = [m for m in world.emulator.messages(row.channel_id) if "Remove the ads" in m["text"]]
    assert len(entries) == 1


def test_a_decision_form_submitted_twice_logs_one_decision(world: World):
    row = raise_esc(world)
    esc(world, MEMBER, "decision", row.channel_id)  # no text: the form
    [view] = world.emulator.open_views(MEMBER)
    assert view["callback_id"] == Callback.DECISION.value
    values = {"decision": {"decision": "Keep the account up"}}
    request = capture(world.driver, lambda: world.driver.submit_view(MEMBER, view, values))
    at_once([lambda: deliver(world.driver, request)] * 4)
    world.settle()
    assert [d.text for d in decisions(world, row.id)] == ["Keep the account up"]


def test_a_double_clicked_signoff_answer_is_recorded_once(world: World):
    row = raise_esc(world)
    esc(world, MEMBER, "signoff legal Take the ads down in DE?", row.channel_id)
    [pending] = signoffs(world, row.id)
    clicks = [
        capture(
            world.driver,
            lambda action=action: world.driver.action(
                "U0LEG00001",
                action,
                str(pending.id),
                channel_id=row.channel_id,
                message_ts=pending.message_ts,
            ),
        )
        for action in (Action.SIGNOFF_APPROVE.value, Action.SIGNOFF_APPROVE.value)
    ]
    at_once([lambda c=c: deliver(world.driver, c) for c in clicks])
    world.settle()
    [answered] = signoffs(world, row.id)
    assert answered.status == "approved" and answered.answered_by == "U0LEG00001"
    assert len(events(world, row.id, "signoff_answered")) == 1
    assert len(decisions(world, row.id)) == 1


def test_a_retried_event_is_handled_once(world: World):
    request = capture(
        world.driver,
        lambda: world.driver.event(
            {"type": "app_home_opened", "user": LEAD, "tab": "home"}, event_id="Ev0RETRY0001"
        ),
    )
    replies = [deliver(world.driver, request)]
    replies += at_once([lambda n=n: deliver(world.driver, request, retry_num=n) for n in (1, 2, 3)])
    assert {r.status for r in replies} == {200}
    world.settle()
    assert len(world.emulator.calls_of("views.publish")) == 1
    # a new event (another event_id) is handled
    world.driver.event({"type": "app_home_opened", "user": LEAD, "tab": "home"})
    world.settle()
    assert len(world.emulator.calls_of("views.publish")) == 2


def test_a_retried_escalation_is_paged_once_by_two_schedulers(world: World):
    request = capture(
        world.driver,
        lambda: world.driver.command(REPORTER, "/escalate", "SEV1 #election Vote buying"),
    )
    at_once([lambda: deliver(world.driver, request)] * 3)
    deliver(world.driver, request, retry_num=1)
    world.settle()
    # Two processes' schedulers over the same database, passing at the same moment.
    first, second = Scheduler(world.bot.services), Scheduler(world.bot.services)

    def passes() -> None:
        at_once([lambda s=s: s.run_due() for s in (first, second)])  # type: ignore[misc]
        world.settle()

    passes()
    passes()
    world.clock.advance(timedelta(minutes=5))  # SEV1: unacknowledged, page the next step
    passes()
    pages = [
        c.args["channel"]
        for c in world.emulator.calls_of("chat.postMessage")
        if c.ok and "You are paged" in c.args.get("text", "")
    ]
    assert sorted(pages) == sorted([ONCALL, "U0EVE00001"])  # each step once
    assert len(_escalations(world)) == 1
