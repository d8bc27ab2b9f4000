"""`escbot drill`: the shipped drills pass on simulated time; a failing step fails the run."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
DRILLS, EXAMPLE = ROOT / "drills", ROOT / "escalation.example.yaml"


def drill(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["drill", str(path), "--config", str(EXAMPLE)])
    return result.exit_code, result.output


def test_the_sev1_election_drill_pages_through_the_policy_and_resolves():
    code, report = drill(DRILLS / "sev1-election.yaml")
    assert code == 0, report
    assert "PASSED: all 15 steps" in report
    assert "paged         +0:00:00  step 1, round 1: @ana" in report
    assert "paged         +0:05:00  step 2, round 1: @eve" in report  # nobody acked in 5m
    assert "acknowledged  +0:06:00  by @eve, 6m after raising" in report
    assert "SLA           +0:05:00  missed: acknowledge within 5m" in report
    assert "resolved      +0:36:00  36m after raising" in report
    assert "↳ Recorded: Legal approved" in report
    assert "step 3" not in report  # the ack stopped the paging


def test_the_legal_request_drill_is_raised_through_the_form_and_meets_its_sla():
    code, report = drill(DRILLS / "legal-request.yaml")
    assert code == 0, report
    assert "(must be refused: title)" in report
    assert "acknowledged  +0:04:00  by @chi, 4m after raising" in report
    assert "SLA           +0:15:00  met: acknowledge within 15m" in report
    # Its playbook: resolving is refused until the required steps are done.
    assert "↳ ESC-1 cannot be resolved yet: required checklist steps are open" in report
    assert "↳ Ticked `preserve` in ESC-1 (3/4 done)." in report
    assert "resolved      +0:54:00  54m after raising" in report


def test_the_legal_request_drill_prints_its_review():
    result = CliRunner().invoke(
        main,
        [
            "drill",
            str(DRILLS / "legal-request.yaml"),
            "--config",
            str(EXAMPLE),
            "--review",
            "ESC-1",
        ],
    )
    assert result.exit_code == 0, result.output
    review = result.output.split("PASSED: all 20 steps\n\n", 1)[1]
    assert review.startswith("# Review of ESC-1: Preservation order for account data")
    assert "- To acknowledge: 4m\n- To first stakeholder response: 4m\n- To resolve: 54m" in review
    assert "- [x] `legal_approval` Legal approves the scope of the response" in review
    assert "- [ ] `user_notice`" in review
    assert "@leg2 · checklist step `legal_approval` done (signed off)" in review
    assert "- Legal: approved by @leg2" in review
    assert "[process] Court orders need a standard preservation template — open" in review


def test_a_failed_step_is_reported_and_fails_the_run(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text(
        "name: broken\n"
        "steps:\n"
        "  - {as: lead, in: escalations-team, type: /escalate}\n"
        "  - {as: lead, submit: {title: Doxxing, flags: restricted}}\n"
        "  - {as: sal, in: ESC-1, click: Resolve}\n"
        "  - {as: sal, in: escalations-feed, click: Acknowledge}\n"
        "  - {as: lead, in: ESC-1, expect: Resolved}\n"
        "  - {as: nobody, type: /esc ack}\n",
        encoding="utf-8",
    )
    code, report = drill(path)
    assert code == 1
    assert "FAILED: 4 of 6 steps (#3, #4, #5, #6)" in report
    assert "@sal is not in #esc-1-restricted" in report  # need to know
    assert "no button 'Acknowledge' in #escalations-feed" in report  # never announced there
    assert "no person @nobody in this workspace" in report
    assert re.search(r"acknowledged +never\n  SLA +\+1:00:00  still running", report)


def test_a_drill_file_that_cannot_run_is_refused_with_its_step(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("steps:\n  - {as: lead, type: /esc ack, click: Resolve}\n", encoding="utf-8")
    code, _ = drill(path)
    result = CliRunner().invoke(main, ["drill", str(path)])
    assert code == 2
    assert "step 1: give exactly one of type, click" in result.output
