"""Parsing `/esc` and `/decision` text: table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import TeamConfig
from bot.errors import UsageError
from bot.parsing.esc import help_text, parse_decision, parse_esc, parse_ref, parse_user


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"sub": "help", "number": None}),
        ("help", {"sub": "help"}),
        ("ESC-12", {"sub": "help", "number": 12}),
        ("ack", {"sub": "ack", "number": None}),
        ("  ACK  ", {"sub": "ack"}),
        ("acknowledge", {"sub": "ack"}),
        ("ESC-12 status", {"sub": "status", "number": 12}),
        ("esc12 timeline", {"sub": "timeline", "number": 12}),
        ("#7 decisions", {"sub": "decisions", "number": 7}),
        ("sev SEV1", {"sub": "sev", "severity": "SEV1"}),
        ("sev sev2", {"sub": "sev", "severity": "SEV2"}),
        ("severity 4", {"sub": "sev", "severity": "SEV4"}),
        ("owner <@U0BEN00001|ben>", {"sub": "owner", "user": "U0BEN00001"}),
        ("owner <@U0BEN00001>", {"sub": "owner", "user": "U0BEN00001"}),
        ("owner U0BEN00001", {"sub": "owner", "user": "U0BEN00001"}),
        (
            "update  Pulled 40 ads,  more soon ",
            {"sub": "update", "text": "Pulled 40 ads,  more soon"},
        ),
        ("ESC-3 update hi", {"sub": "update", "number": 3, "text": "hi"}),
        (
            "invite <@U0COM00001|com> legal @public_policy <!subteam^S0ABC1|@x> <@U0COM00001>",
            {
                "sub": "invite",
                "users": ["U0COM00001"],
                "groups": ["legal", "public_policy"],
                "usergroups": ["S0ABC1"],
            },
        ),
        ("signoff legal", {"sub": "signoff", "group": "legal", "text": ""}),
        ("signoff Legal Remove  it?", {"sub": "signoff", "group": "legal", "text": "Remove  it?"}),
        ("decision", {"sub": "decision", "decision": None}),
        ("followup process Write the runbook", {"kind": "process", "text": "Write the runbook"}),
        (
            "followup tooling-gap Bulk tool owner <@U0CHI00001|chi>",
            {"kind": "tooling_gap", "text": "Bulk tool", "user": "U0CHI00001"},
        ),
        (
            "followup policy owner <@U0CHI00001> Clarify rule",
            {"kind": "policy", "text": "Clarify rule", "user": "U0CHI00001"},
        ),
        ("followup done 4", {"kind": "done", "item": 4}),
        ("followup done #4", {"kind": "done", "item": 4}),
        ("resolve", {"sub": "resolve", "text": ""}),
        ("resolve Removed; banned", {"sub": "resolve", "text": "Removed; banned"}),
        ("reopen", {"sub": "reopen"}),
        ("resolve --force Court deadline", {"force": True, "text": "Court deadline"}),
        ("resolve --FORCE  Legal waived it ", {"force": True, "text": "Legal waived it"}),
        ("resolve forced by court", {"force": False, "text": "forced by court"}),
        ("checklist", {"sub": "checklist"}),
        ("done preserve", {"sub": "done", "step": "preserve"}),
        ("tick PRESERVE", {"sub": "done", "step": "preserve"}),
        ("list", {"sub": "list", "scope": "open"}),
        ("list MINE", {"sub": "list", "scope": "mine"}),
        ("ls all", {"sub": "list", "scope": "all"}),
        ("stats", {"sub": "stats", "days": 7}),
        ("stats 30d", {"sub": "stats", "days": 30}),
        ("stats 90D", {"sub": "stats", "days": 90}),
    ],
)
def test_parse_esc(config: TeamConfig, text: str, expected: dict[str, Any]):
    request = parse_esc(text, config)
    for name, value in expected.items():
        assert getattr(request, name) == value, name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frobnicate", "Unknown subcommand `frobnicate`"),
        ("ESC-2 frobnicate", "Unknown subcommand"),
        ("sev", "Usage: `/esc sev"),
        ("sev SEV9", "Unknown severity `SEV9`"),
        ("sev SEV1 now", "Usage: `/esc sev"),
        ("owner", "Mention the new owner"),
        ("owner @ben", "Mention the new owner"),
        ("update", "needs its text"),
        ("invite", "Name someone"),
        ("invite finance", "Unknown group `finance`"),
        ("signoff", "Name the group"),
        ("signoff finance ok?", "Unknown group"),
        ("decision supersedes #2", "needs its text"),
        ("followup", "Usage: `/esc followup"),
        ("followup misc x", "Unknown follow-up kind `misc`"),
        ("followup policy", "needs a description"),
        ("followup done", "Say which follow-up"),
        ("followup done x", "Say which follow-up"),
        ("list closed", "Usage: `/esc list"),
        ("stats 5x", "Usage: `/esc stats"),
        ("stats 0d", "Usage: `/esc stats"),
        ("stats 999d", "Usage: `/esc stats"),
        ("ack please", "takes no arguments"),
        ("resolve --force", "Say why"),
        ("resolve --force   ", "Say why"),
        ("done", "Name one step"),
        ("done a b", "Name one step"),
        ("done <@U0ANA00001>", "Name one step"),
        ("done " + "x" * 61, "Name one step"),
        ("checklist all", "takes no arguments"),
        ("status now", "takes no arguments"),
        ("help me", "takes no arguments"),
        ("ESC-99999999999999999999 status", "ESC-99999999999999999999 does not exist"),
    ],
)
def test_parse_esc_refuses(config: TeamConfig, text: str, message: str):
    with pytest.raises(UsageError) as caught:
        parse_esc(text, config)
    assert message in str(caught.value)


def test_usage_escapes_what_the_user_typed(config: TeamConfig):
    with pytest.raises(UsageError) as caught:
        parse_esc("<!channel>", config)
    assert "<!channel>" not in str(caught.value) and "&lt;!channel&gt;" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Remove all ads", ("Remove all ads", None)),
        ("supersedes #3 Keep three", ("Keep three", 3)),
        ("Supersedes 3: Keep three", ("Keep three", 3)),
        ("supersede #12 - fix", ("fix", 12)),
        ("superseded by nothing", ("superseded by nothing", None)),
    ],
)
def test_parse_decision(text: str, expected: tuple[str, int | None]):
    draft = parse_decision(text)
    assert (draft.text, draft.supersedes) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "needs its text"), ("supersedes #0 x", "numbered from 1"), ("x" * 3001, "at most")],
)
def test_parse_decision_refuses(text: str, message: str):
    with pytest.raises(UsageError) as caught:
        parse_decision(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("<@U0BEN00001|ben>", "U0BEN00001"),
        ("<@W0BEN00001>", "W0BEN00001"),
        ("U0BEN00001", "U0BEN00001"),
        ("@ben", None),
        ("<#C0TEAM0001|team>", None),
    ],
)
def test_parse_user(token: str, expected: str | None):
    assert parse_user(token) == expected


@pytest.mark.parametrize(
    ("token", "expected"),
    [("ESC-12", 12), ("esc-3", 3), ("ESC7", 7), ("#9", 9), ("ESC-", None), ("12", None)],
)
def test_parse_ref(token: str, expected: int | None):
    assert parse_ref(token) == expected


def test_help_lists_every_subcommand():
    text = help_text()
    for sub in ("ack", "sev", "owner", "update", "invite", "signoff", "decision", "followup"):
        assert f"/esc {sub}" in text
    for sub in ("resolve", "reopen", "status", "timeline", "decisions", "list", "stats", "help"):
        assert f"/esc {sub}" in text
