"""Playbooks end to end: the checklist fixed at creation, `/esc checklist`, `/esc done`,
sign-off steps, resolve refused while a required step is open, and `--force`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.blocks import Action, Callback
from bot.cli import main
from tests.support.escalations import (
    card,
    click,
    decisions,
    esc,
    events,
    load,
    posts,
    raise_esc,
    raise_form,
    signoffs,
    top_view,
)
from tests.support.people import LEAD, MEMBER, REPORTER, SALES
from tests.support.replay import capture, deliver
from tests.support.world import World

LEGAL = "U0LEG00001"  # routed into a legal request; not a team member
TITLE = "SEV2 #legal_request Preservation order 26-114"
REQUIRED = ("verify_authority", "preserve", "legal_approval")


def _steps(world: World, number: int) -> dict[str, tuple[str | None, str | None]]:
    with world.db.uow() as uow:
        return {
            s.step_id: (s.done_by, s.done_at and s.done_at.isoformat())
            for s in uow.repos.escalations.checklist(number)
        }


def test_a_legal_request_gets_its_checklist_and_cannot_resolve_until_it_is_done(world: World):
    row = raise_esc(world, TITLE)
    assert list(_steps(world, row.id)) == [*REQUIRED, "user_notice"]
    [created] = events(world, row.id, "created")
    assert created.detail["checklist"] == [*REQUIRED, "user_notice"]
    shown = str(card(world, row)["blocks"])
    assert "Checklist: 0/4 done" in shown and "`verify_authority`" in shown
    listed = esc(world, SALES, "checklist", row.channel_id)
    assert "ESC-1* checklist — 0/4 done" in listed
    assert "Legal approves the scope of the response _(required, sign-off: Legal)_" in listed

    refused = esc(world, MEMBER, "resolve Records preserved", row.channel_id)
    assert "cannot be resolved yet" in refused
    assert all(f"`{step}`" in refused for step in REQUIRED) and "user_notice" not in refused
    assert load(world, row.id).status == "open" and not events(world, row.id, "resolved")

    # Ticking: once, however often Slack retries the same command.
    request = capture(
        world.driver,
        lambda: world.driver.command(
            MEMBER, "/esc", "done verify_authority", channel_id=row.channel_id
        ),
    )
    for n in (None, 1, 2):
        assert deliver(world.driver, request, retry_num=n).status == 200
    world.settle()
    assert [e.detail["step"] for e in events(world, row.id, "step_done")] == ["verify_authority"]
    assert _steps(world, row.id)["verify_authority"][0] == MEMBER
    assert "ticked `verify_authority`" in posts(world, row.channel_id)[-1]
    again = esc(world, LEAD, "done verify_authority", row.channel_id)
    assert f"already done by <@{MEMBER}>" in again
    assert len(events(world, row.id, "step_done")) == 1

    told = esc(world, MEMBER, "done legal_approval", row.channel_id)
    assert "done when Legal approves" in told and "/esc signoff legal" in told
    told = esc(world, MEMBER, "done take_down", row.channel_id)
    assert "has no step `take_down`" in told and "`user_notice`" in told
    assert len(events(world, row.id, "step_done")) == 1

    # The Resolve form is refused the same way, on the form.
    click(world, MEMBER, Action.RESOLVE, str(row.id), row.channel_id, row.card_ts)
    view = top_view(world, MEMBER)
    assert view["callback_id"] == Callback.RESOLVE
    reply = world.driver.submit_view(MEMBER, view, {"summary": {"summary": "Done"}})
    assert reply.json["response_action"] == "errors"
    assert "`preserve`" in reply.json["errors"]["summary"]
    assert "`verify_authority`" not in reply.json["errors"]["summary"]

    # A rejected sign-off ticks nothing; an approval by Legal ticks the sign-off step.
    esc(world, MEMBER, "signoff legal Scope limited to the named account?", row.channel_id)
    [first] = signoffs(world, row.id)
    click(world, LEGAL, Action.SIGNOFF_REJECT, str(first.id), row.channel_id)
    assert _steps(world, row.id)["legal_approval"] == (None, None)
    esc(world, MEMBER, "signoff legal Narrowed to 30 days of records?", row.channel_id)
    second = signoffs(world, row.id)[-1]
    click(world, LEGAL, Action.SIGNOFF_APPROVE, str(second.id), row.channel_id)
    assert _steps(world, row.id)["legal_approval"][0] == LEGAL
    [ticked] = [e for e in events(world, row.id, "step_done") if e.detail.get("signoff")]
    assert ticked.detail == {
        "step": "legal_approval",
        "text": "Legal approves the scope of the response",
        "signoff": second.id,
    }

    esc(world, SALES, "done preserve", row.channel_id)  # anyone who sees it may tick
    assert "Checklist: 3/4 done" in str(card(world, load(world, row.id))["blocks"])
    said = esc(world, MEMBER, "resolve Records preserved and handed to Legal Ops", row.channel_id)
    assert "Resolved ESC-1" in said and load(world, row.id).status == "resolved"
    told = esc(world, MEMBER, "done user_notice", row.channel_id)
    assert "is resolved" in told


def test_only_team_members_may_force_a_resolve_and_it_is_logged_as_a_decision(world: World):
    row = raise_esc(world, TITLE)
    before = len(events(world, row.id))
    refused = esc(world, LEGAL, "resolve --force Court deadline today", row.channel_id)
    assert "Only responders" in refused  # not even a responder
    rotation_member = "U0DAN00001"  # a responder, but not a team member
    refused = esc(world, rotation_member, "resolve --force Court deadline", row.channel_id)
    assert "Only members of High Priority Escalations can resolve with required" in refused
    assert load(world, row.id).status == "open" and len(events(world, row.id)) == before
    assert decisions(world, row.id) == []
    reason = "Court deadline today; Legal on the phone"
    said = esc(world, LEAD, f"resolve --force {reason}", row.channel_id)
    assert "Resolved ESC-1" in said
    after = load(world, row.id)
    assert after.status == "resolved"
    assert after.resolution == "Court deadline today; Legal on the phone"
    [entry] = decisions(world, row.id)
    assert entry.text == (
        "Resolved with required checklist steps open: verify_authority, preserve, legal_approval"
    )
    assert entry.rationale == "Court deadline today; Legal on the phone"
    assert entry.decided_by == LEAD
    [resolved] = events(world, row.id, "resolved")
    assert resolved.detail["forced"] == list(REQUIRED)
    ok = CliRunner().invoke(main, ["audit", "verify"], env={"DATABASE_URL": world.db.url})
    assert ok.exit_code == 0 and "1 entries in 1 chains" in ok.output
    again = esc(world, LEAD, "resolve --force Again", row.channel_id)
    assert "already resolved" in again and len(decisions(world, row.id)) == 1


def test_an_escalation_no_playbook_matches_has_no_checklist(world: World):
    row = raise_esc(world)  # #ads: no playbook
    assert _steps(world, row.id) == {}
    assert "has no checklist" in esc(world, MEMBER, "checklist", row.channel_id)
    assert "has no checklist" in esc(world, MEMBER, "done anything", row.channel_id)
    assert "Checklist" not in str(card(world, row)["blocks"])
    assert "Resolved ESC-1" in esc(world, MEMBER, "resolve Removed", row.channel_id)


def test_a_graphic_escalation_gets_the_wellbeing_steps(world: World):
    row = raise_form(world, REPORTER, "Livestreamed attack footage", "content", ("graphic",))
    assert list(_steps(world, row.id)) == ["wellbeing", "blur_tools"]
    said = esc(world, MEMBER, "checklist", row.channel_id)
    assert "Offer a wellbeing check-in" in said
    esc(world, MEMBER, "done wellbeing", row.channel_id)
    assert _steps(world, row.id)["wellbeing"][0] == MEMBER
    assert "Resolved ESC-1" in esc(world, MEMBER, "resolve Footage removed", row.channel_id)


def test_the_checklist_is_fixed_at_creation(world: World, monkeypatch: pytest.MonkeyPatch):
    row = raise_esc(world, TITLE)
    svc = world.bot.services
    # The config changes under a live escalation: its playbooks are gone.
    monkeypatch.setattr(svc, "config", svc.config.model_copy(update={"playbooks": []}))
    assert list(_steps(world, row.id)) == [*REQUIRED, "user_notice"]
    assert "cannot be resolved yet" in esc(world, MEMBER, "resolve Done", row.channel_id)
    later = raise_esc(world, TITLE)
    assert _steps(world, later.id) == {}
