"""The review document: `/esc review` posts it in the escalation's own channel, once;
`escbot review ESC-n [--format md|json]` prints it for an operator."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from bot.blocks import Action
from bot.cli import main
from tests.support.config import EXAMPLE
from tests.support.escalations import click, esc, events, posts, raise_esc, raise_form, signoffs
from tests.support.people import MEMBER, OUTSIDER, REPORTER
from tests.support.replay import capture, deliver
from tests.support.world import World

LEGAL = "U0LEG00001"


def _work_a_legal_request(world: World):
    row = raise_esc(world, "SEV2 #legal_request Preservation order <!channel> *26-114*")
    world.clock.advance(timedelta(minutes=4))
    esc(world, MEMBER, "ack", row.channel_id)
    world.clock.advance(timedelta(minutes=2))
    esc(world, MEMBER, "decision Preserve 90 days of account records", row.channel_id)
    esc(world, MEMBER, "signoff legal Scope limited to the named account?", row.channel_id)
    world.clock.advance(timedelta(minutes=20))
    [asked] = signoffs(world, row.id)
    click(world, LEGAL, Action.SIGNOFF_APPROVE, str(asked.id), row.channel_id)
    esc(world, MEMBER, "done verify_authority", row.channel_id)
    esc(world, MEMBER, "done preserve", row.channel_id)
    esc(world, MEMBER, "followup process Court orders need a template", row.channel_id)
    world.clock.advance(timedelta(minutes=10))
    esc(world, MEMBER, "resolve Records preserved and handed to Legal Ops", row.channel_id)
    return row


def _cli(world: World, *args: str):
    env = {"DATABASE_URL": world.db.url, "ESCALATION_CONFIG": str(EXAMPLE)}
    return CliRunner().invoke(main, ["review", *args], env=env)


def test_esc_review_posts_the_document_in_the_channel_once(world: World):
    row = _work_a_legal_request(world)
    request = capture(
        world.driver,
        lambda: world.driver.command(MEMBER, "/esc", "review", channel_id=row.channel_id),
    )
    for n in (None, 1):
        assert deliver(world.driver, request, retry_num=n).status == 200
    world.settle()
    reviews = [p for p in posts(world, row.channel_id) if "Review of ESC-1" in p]
    assert len(reviews) == 1 and len(events(world, row.id, "review_posted")) == 1
    [review] = reviews
    [first] = [d for d in _decisions(world, row.id) if d.seq == 1]
    for expected in (
        "To acknowledge: 4m",
        "To first stakeholder response: 6m",
        "To resolve: 36m",
        "Acknowledgement SLA met (acknowledge within 15m)",
        f"#1 `{first.hash[:10]}`",
        "Preserve 90 days of account records",
        "Legal: approved by <@U0LEG00001>",
        "`legal_approval` Legal approves the scope of the response",
        "[process] Court orders need a template",
        "checklist step `preserve` done",
        "Resolution: Records preserved and handed to Legal Ops",
    ):
        assert expected in review, review
    assert "<!channel>" not in review and "&lt;!channel&gt;" in review


def _decisions(world: World, number: int):
    with world.db.uow() as uow:
        return uow.repos.decisions.chain(number)


def test_esc_review_is_posted_only_in_the_escalations_own_channel(world: World):
    row = raise_esc(world)
    before = len(world.emulator.calls)
    said = esc(world, MEMBER, f"ESC-{row.id} review", world.config.team.channel)
    assert "in its own channel" in said
    assert all(c.method != "chat.postMessage" for c in world.emulator.calls[before:])
    assert not events(world, row.id, "review_posted")
    secret = raise_form(world, REPORTER, "Doxxing of a minor", "content", ("restricted",))
    said = esc(world, OUTSIDER, f"ESC-{secret.id} review", world.config.team.channel)
    assert "does not exist, or it is restricted" in said and "Doxxing" not in said
    assert not events(world, secret.id, "review_posted")
    said = esc(world, REPORTER, "review", secret.channel_id)  # from inside: posted there
    assert "Posting the review" in said
    assert any("Review of ESC-2" in p for p in posts(world, secret.channel_id or ""))


def test_escbot_review_prints_markdown_and_json(world: World):
    _work_a_legal_request(world)
    md = _cli(world, "ESC-1")
    assert md.exit_code == 0, md.output
    text = md.output
    assert text.startswith("# Review of ESC-1: Preservation order <!channel> *26-114*")
    assert "## Times" in text and "- To resolve: 36m" in text
    assert "- Legal: approved by @U0LEG00001" in text
    assert "<@" not in text and "<!date" not in text
    as_json = _cli(world, "ESC-1", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["times"] == {
        "to_acknowledge_s": 240,
        "to_first_stakeholder_response_s": 360,
        "to_resolve_s": 2160,
    }
    assert data["sla"]["outcome"] == "met"
    assert [s["id"] for s in data["checklist"] if s["done_at"]] == [
        "verify_authority",
        "preserve",
        "legal_approval",
    ]
    assert [d["seq"] for d in data["decisions"]] == [1, 2]
    assert len(data["decisions"][0]["hash"]) == 10
    assert data["signoffs"][0]["status"] == "approved"


def test_escbot_review_refuses_a_bad_or_missing_escalation(world: World):
    missing = _cli(world, "ESC-7")
    assert missing.exit_code == 1 and "ESC-7 does not exist" in missing.output
    bad = _cli(world, "seven")
    assert bad.exit_code == 2 and "not an escalation" in bad.output
    bad = _cli(world, "ESC-1", "--format", "pdf")
    assert bad.exit_code == 2


def test_the_review_of_a_graphic_escalation_carries_the_content_warning_once(world: World):
    from bot.blocks import GRAPHIC_WARNING

    row = raise_form(world, REPORTER, "Livestreamed attack footage", "content", ("graphic",))
    esc(world, MEMBER, "review", row.channel_id)
    messages = world.emulator.messages(row.channel_id or "")
    [review] = [m for m in messages if "Review of ESC-1" in m["text"]]
    texts = [b["text"]["text"] for b in review["blocks"] if b["type"] == "section"]
    assert texts[0] == GRAPHIC_WARNING and texts.count(GRAPHIC_WARNING) == 1
    assert any("`wellbeing` Offer a wellbeing check-in" in t for t in texts)


def test_the_review_lists_linked_escalations_a_restricted_one_by_its_id(world: World):
    row = raise_esc(world, "SEV3 #ads Counterfeit ads wave")
    other = raise_esc(world, "SEV3 #ads Counterfeit ads wave, second report")
    secret = raise_form(world, REPORTER, "Leak of VIP data", "vip", ("restricted",))
    esc(world, MEMBER, f"link ESC-{other.id}", row.channel_id)
    assert "Linked" in esc(world, REPORTER, f"link ESC-{row.id}", secret.channel_id)
    as_json = _cli(world, f"ESC-{row.id}", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    linked = json.loads(as_json.output)["linked"]
    assert {(d["id"], d["how"], d["restricted"]) for d in linked} == {
        (f"ESC-{other.id}", "related", False),
        (f"ESC-{secret.id}", "related", True),
    }
    assert [d["title"] for d in linked if d["restricted"]] == [None]
    md = _cli(world, f"ESC-{row.id}").output
    assert "## Linked escalations" in md
    assert f"related: ESC-{secret.id} (restricted)" in md and "Leak" not in md
    assert f"related: ESC-{other.id} Counterfeit ads wave, second report" in md
