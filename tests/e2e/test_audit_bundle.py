"""`escbot audit export ESC-n` and `escbot audit verify --bundle FILE`: a bundle made from a
worked escalation verifies offline; one changed byte anywhere is found and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.blocks import Action
from bot.cli import main
from tests.support.escalations import click, esc, raise_esc, signoffs
from tests.support.people import MEMBER
from tests.support.world import World

LEGAL = "U0LEG00001"


def _export(world: World, ref: str = "ESC-1") -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["audit", "export", ref], env={"DATABASE_URL": world.db.url})
    return result.exit_code, result.stdout, result.stderr


def _verify(path: Path, *extra: str) -> tuple[int, str]:
    # No DATABASE_URL at all: the bundle is checked on its own.
    result = CliRunner().invoke(
        main, ["audit", "verify", "--bundle", str(path), *extra], env={"DATABASE_URL": ""}
    )
    return result.exit_code, result.output


@pytest.fixture
def bundle(world: World, tmp_path: Path) -> tuple[Path, dict, str]:
    row = raise_esc(world, "SEV2 #legal_request Preservation order 26-114")
    esc(world, MEMBER, "decision Preserve 90 days of records", row.channel_id)
    esc(world, MEMBER, "signoff legal Scope limited to the named account?", row.channel_id)
    [asked] = signoffs(world, row.id)
    click(world, LEGAL, Action.SIGNOFF_APPROVE, str(asked.id), row.channel_id)
    esc(world, MEMBER, "done verify_authority", row.channel_id)
    esc(world, MEMBER, "update Ünïcode — records exported", row.channel_id)
    code, out, err = _export(world)
    assert code == 0, err
    path = tmp_path / "esc-1.json"
    path.write_text(out, encoding="utf-8")
    return path, json.loads(out), err


def test_an_exported_bundle_verifies_offline(bundle):
    path, data, err = bundle
    assert data["ref"] == "ESC-1" and data["format"] == "escbot-audit-bundle/1"
    assert [d["seq"] for d in data["decisions"]] == [1, 2]  # the decision, Legal's approval
    assert data["signoffs"][0]["status"] == "approved"
    kinds = [e["kind"] for e in data["timeline"]]
    assert kinds[0] == "created" and "step_done" in kinds and "signoff_answered" in kinds
    assert err.strip() == f"seal {data['seal']}"
    code, said = _verify(path)
    assert code == 0, said
    assert "ok: ESC-1: 2 decisions, 1 sign-offs" in said
    code, said = _verify(path, "--seal", data["seal"])
    assert code == 0, said


def _tamper(path: Path, old: str, new: str) -> None:
    """Change the first occurrence of `old`, in place."""
    text = path.read_text(encoding="utf-8")
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old) :], encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("Preserve 90 days", "Preserve 80 days", "ESC-1 decision #1: content hash mismatch"),
        (
            '"group": "legal"',
            '"group": "legaL"',
            "ESC-1 sign-off #1 (legaL): content hash mismatch",
        ),
        ("records exported", "records exporte!", "(update): content hash mismatch"),
        (
            '"step": "verify_authority"',
            '"step": "verify_authoritx"',
            "(step_done): content hash mismatch",
        ),
        ('"actor": "U0CHI00001"', '"actor": "U0CHI00002"', "content hash mismatch"),
    ],
)
def test_one_changed_byte_is_found_and_named(bundle, old, new, named):
    path, _, _ = bundle
    assert len(old) == len(new) and sum(a != b for a, b in zip(old, new, strict=True)) == 1
    _tamper(path, old, new)
    code, said = _verify(path)
    assert code == 1 and named in said, said


def test_removing_or_resealing_entries_is_found(bundle, tmp_path: Path):
    path, data, _ = bundle
    dropped = {**data, "timeline": data["timeline"][:3] + data["timeline"][4:]}
    path.write_text(json.dumps(dropped))
    code, said = _verify(path)
    assert code == 1 and "timeline #4" in said and "broken link" in said
    # Dropping the last entries leaves every link whole: the seal no longer matches.
    cut = {**data, "timeline": data["timeline"][:-1]}
    path.write_text(json.dumps(cut))
    code, said = _verify(path)
    assert code == 1 and "seal: does not match" in said
    # A forger who rebuilds every hash and the seal is caught by the seal printed at export.
    from bot.usecases import audit

    forged = {
        **data,
        "timeline": audit._chained(
            [
                {k: v for k, v in e.items() if k not in ("hash", "prev_hash")}
                for e in cut["timeline"]
            ]
        ),
    }
    forged["seal"] = audit._seal(
        1,
        audit._last(forged["decisions"]),
        audit._last(forged["signoffs"]),
        audit._last(forged["timeline"]),
    )
    path.write_text(json.dumps(forged))
    assert _verify(path)[0] == 0  # internally consistent …
    code, said = _verify(path, "--seal", data["seal"])
    assert code == 1 and "not the seal given" in said  # … but not the bundle that was exported
    # A decision announced in the timeline with another hash than the chain's.
    other = json.loads(json.dumps(data))
    event = next(e for e in other["timeline"] if e["kind"] == "decision")
    event["detail"]["hash"] = "0" * 10
    other["timeline"] = audit._chained(
        [{k: v for k, v in e.items() if k not in ("hash", "prev_hash")} for e in other["timeline"]]
    )
    path.write_text(json.dumps(other))
    code, said = _verify(path)
    assert code == 1 and "does not match decision #1" in said


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "error:"),
        ('{"format": "something else"}', "not an audit bundle"),
        ('{"format": "escbot-audit-bundle/1", "escalation": 1}', "not a well-formed"),
        ("[]", "not an audit bundle"),
    ],
)
def test_what_is_not_a_bundle_is_refused(tmp_path: Path, content: str, message: str):
    path = tmp_path / "b.json"
    path.write_text(content)
    code, said = _verify(path)
    assert code == 2 and message in said
    code, said = _verify(tmp_path / "missing.json")
    assert code == 2 and "cannot read" in said


def test_export_names_a_missing_or_bad_escalation(world: World):
    code, _, err = _export(world, "ESC-9")
    assert code == 1 and "ESC-9 does not exist" in err
    code, _, err = _export(world, "nine")
    assert code == 2 and "not an escalation" in err
