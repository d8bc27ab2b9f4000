"""The decision log end to end: `/decision`, the form, corrections, `escbot audit verify`."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import text

from bot.blocks import Action, Callback
from bot.cli import main
from bot.usecases.decisions import GENESIS, content_hash
from tests.support.escalations import (
    card,
    click,
    decisions,
    esc,
    events,
    load,
    posts,
    raise_esc,
    submit,
    top_view,
)
from tests.support.people import MEMBER, OUTSIDER, REPORTER, SALES
from tests.support.world import World


def _audit(world: World):
    return CliRunner().invoke(main, ["audit", "verify"], env={"DATABASE_URL": world.db.url})


def test_decision_command_chains_entries_and_posts_them(world: World):
    row = raise_esc(world)
    world.clock.advance(timedelta(minutes=2))
    said = esc(
        world,
        SALES,
        "Remove all 120 ads under counterfeit policy",
        row.channel_id,
        command="/decision",
    )
    [first] = decisions(world, 1)
    assert f"Logged decision #1 in ESC-1 (`{first.hash[:10]}`)" in said
    assert (first.seq, first.prev_hash, first.decided_by) == (1, GENESIS, SALES)
    assert first.hash == content_hash(first) and len(first.hash) == 64
    assert first.created_at == row.created_at + timedelta(minutes=2)
    posted = posts(world, row.channel_id)[-1]
    assert "Decision #1" in posted and first.hash[:10] in posted
    assert "Remove all 120 ads" in posted
    assert load(world, 1).first_response_at == first.created_at  # a stakeholder responded
    esc(world, MEMBER, "decision supersedes #1 Keep 3 ads that are parody", row.channel_id)
    first, second = decisions(world, 1)
    assert (second.seq, second.supersedes, second.prev_hash) == (2, 1, first.hash)
    assert "Supersedes #1" in posts(world, row.channel_id)[-1]
    with world.db.uow() as uow:
        stored = uow.repos.decisions.get(second.id)
        assert stored is not None and stored.message_ts
    log = esc(world, OUTSIDER, "decisions", row.channel_id)
    assert "#1" in log and "superseded by #2" in log and second.hash[:10] in log
    assert [e.detail["seq"] for e in events(world, 1, "decision")] == [1, 2]
    assert "Decisions: 2" in str(card(world, row)["blocks"])


def test_bad_corrections_and_empty_text_are_refused(world: World):
    row = raise_esc(world)
    said = esc(
        world, MEMBER, "supersedes #1 Nothing to correct yet", row.channel_id, command="/decision"
    )
    assert "no decision #1" in said
    reply = world.driver.command(MEMBER, "/decision", "supersedes #2", channel_id=row.channel_id)
    assert "needs its text" in reply.body
    said = esc(world, MEMBER, "Somewhere else", world.config.team.channel, command="/decision")
    assert "not an escalation channel" in said
    world.settle()
    assert decisions(world, 1) == []


def test_decision_form_records_once_per_submission(world: World):
    row = raise_esc(world)
    esc(world, REPORTER, "", row.channel_id, command="/decision")
    view = top_view(world, REPORTER)
    assert view["callback_id"] == Callback.DECISION and view["private_metadata"] == "1"
    values = {
        "decision": {"decision": "Escalate the advertiser to a permanent ban"},
        "rationale": {"rationale": "Third strike in 90 days"},
        "policy": {"policy": "Advertising Standards §4.2"},
        "consulted": {
            "consulted": {
                "type": "multi_users_select",
                "selected_users": ["U0LEG00001", "U0CPO00001"],
            }
        },
        "supersedes": {"supersedes": ""},
    }
    submit(world, REPORTER, view, values)
    submit(world, REPORTER, view, values)  # submitted twice: recorded once
    [entry] = decisions(world, 1)
    assert entry.rationale == "Third strike in 90 days"
    assert entry.policy == "Advertising Standards §4.2"
    assert entry.consulted == ["U0LEG00001", "U0CPO00001"]
    assert entry.request_key == f"view:{view['id']}"
    posted = posts(world, row.channel_id)[-1]
    assert "Third strike" in posted and "<@U0LEG00001>" in posted
    assert load(world, 1).first_response_at is None  # the reporter's own decision


def test_decision_form_from_the_card_refuses_a_bad_correction(world: World):
    row = raise_esc(world)
    click(world, SALES, Action.LOG_DECISION, str(row.id), row.channel_id, row.card_ts)
    view = top_view(world, SALES)
    reply = world.driver.submit_view(
        SALES, view, {"decision": {"decision": "Fix"}, "supersedes": {"supersedes": "7"}}
    )
    assert reply.json["response_action"] == "errors" and "supersedes" in reply.json["errors"]
    reply = world.driver.submit_view(
        SALES, view, {"decision": {"decision": "Fix"}, "supersedes": {"supersedes": "seven"}}
    )
    assert reply.json["response_action"] == "errors"
    world.settle()
    assert decisions(world, 1) == []


def test_audit_verify_reports_the_first_tampered_entry(world: World):
    row = raise_esc(world)
    raise_esc(world, "SEV3 #content Second one")
    for n in range(3):
        esc(world, MEMBER, f"decision Step {n}", row.channel_id)
    esc(world, MEMBER, "ESC-2 decision Unrelated", world.config.team.channel)
    ok = _audit(world)
    assert ok.exit_code == 0, ok.output
    assert "ok: 4 entries in 2 chains verified" in ok.output
    with world.db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE decisions SET text = 'Step one, edited' WHERE escalation_id = 1 AND seq = 2"
            )
        )
    broken = _audit(world)
    assert broken.exit_code == 1
    assert "ESC-1 decision #2: content hash mismatch" in broken.output


def test_audit_verify_reports_a_broken_link(world: World):
    row = raise_esc(world)
    for n in range(3):
        esc(world, MEMBER, f"decision Step {n}", row.channel_id)
    # rewrite entry 2 consistently (its own hash recomputed): entry 3's link no longer holds
    with world.db.uow() as uow:
        second = uow.repos.decisions.chain(1)[1]
        second.text = "Rewritten"
        second.hash = content_hash(second)
        uow.commit()
    broken = _audit(world)
    assert broken.exit_code == 1
    assert "ESC-1 decision #3: broken link" in broken.output
    with world.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM decisions WHERE escalation_id = 1 AND seq = 1"))
    missing = _audit(world)
    assert missing.exit_code == 1 and "ESC-1 decision #1: broken link" in missing.output
