"""Team config validation: every error names the key path and its line."""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import ConfigError, load_config, parse_config
from tests.support.config import EXAMPLE

TEXT = EXAMPLE.read_text()


def test_example_loads(config):
    assert config.team.name == "High Priority Escalations"
    assert config.team.remind_before == timedelta(minutes=15)
    assert config.severity("SEV1").ack_within == timedelta(minutes=5)
    assert config.default_severity == "SEV3"
    assert config.escalation_policy.repeat == 1
    assert [s.notify for s in config.escalation_policy.steps] == [
        ["rotation:primary"],
        ["rotation:secondary"],
        ["group:leads"],
    ]
    weekend = config.rotations["primary"].layers[1]
    assert weekend.shift == "1w" and weekend.restrict is not None
    assert weekend.restrict.days == ["sat", "sun"]
    assert weekend.restrict.from_ == time(0) and weekend.restrict.to == time(0)
    assert config.stakeholders["public_policy"].usergroup == "S0PUBPOL01"
    assert config.stakeholders["secondary"].rotation == "secondary"
    assert config.routing[3].when == {"policy_area": ["commerce_policies"], "region": ["emea"]}
    legal = config.playbooks[1]
    assert legal.when == {"category": ["legal_request"]}
    assert [(s.id, s.required, s.signoff) for s in legal.steps] == [
        ("verify_authority", True, None),
        ("preserve", True, None),
        ("legal_approval", True, "legal"),
        ("user_notice", False, None),  # required defaults to false
    ]
    legal_clock, tco = config.deadlines
    assert (legal_clock.name, legal_clock.due, legal_clock.remind_before) == (
        "Legal response",
        timedelta(hours=24),
        timedelta(hours=2),
    )
    assert tco.when == {
        "category": ["legal_request"],
        "region": ["emea"],
        "policy_area": ["community_standards"],
    }
    assert (tco.due, tco.remind_before) == (timedelta(hours=1), timedelta(minutes=15))


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# (what to replace, replacement, expected key path, message fragment)
BROKEN = [
    ("ack_within: 15m", "ack_within: 15q", "severities[1].ack_within", "invalid duration"),
    ("remind_before: 15m", "remind_before: soon", "team.remind_before", "invalid duration"),
    ("shift: 1d}", "shift: 1x}", "rotations.primary.layers[0].shift", "invalid shift"),
    (
        "timezone: Europe/Dublin",
        "timezone: Europe/Dubln",
        "rotations.secondary.timezone",
        "unknown time zone",
    ),
    (
        "[U0LEG00001, U0LEG00002]",
        "[U0LEG00001, bob]",
        "stakeholders.legal.members[1]",
        "not a Slack user ID",
    ),
    ("channel: C0TEAM0001", "channel: team-room", "team.channel", "not a Slack channel ID"),
    (
        "usergroup: S0PUBPOL01",
        "usergroup: pubpol",
        "stakeholders.public_policy.usergroup",
        "user group ID",
    ),
    (
        'start: "2026-01-05 08:00"',
        'start: "next monday"',
        "rotations.secondary.layers[0].start",
        "invalid start",
    ),
    (
        "days: [sat, sun]",
        "days: [sat, sunday]",
        "rotations.primary.layers[1].restrict.days[1]",
        "Input should be",
    ),
    ("  repeat: 1", "  repeat: 1\n  retry: 2", "escalation_policy.retry", "unknown key"),
    (
        "{id: user_notice,",
        "{id: User-Notice,",
        "playbooks[1].steps[3].id",
        "lowercase identifier",
    ),
    (
        'legal basis", required: true}',
        'legal basis", required: maybe}',
        "playbooks[1].steps[0].required",
        "valid boolean",
    ),
    (
        "{id: wellbeing, text:",
        "{id: wellbeing, owner: U0ANA00001, text:",
        "playbooks[2].steps[0].owner",
        "unknown key",
    ),
    (
        "updates_channel: C0UPDT0001",
        "updates_channel: stakeholder-updates",
        "team.updates_channel",
        "not a Slack channel ID",
    ),
    (
        "update_every: 30m, stakeholder_updates: true}",
        "update_every: 30m, stakeholder_updates: maybe}",
        "severities[0].stakeholder_updates",
        "valid boolean",
    ),
    ("    due: 24h", "    due: a day", "deadlines[0].due", "invalid duration"),
    ("    due: 1h", "    due: 0m", "deadlines[1].due", "more than zero"),
    ("    remind_before: 2h", "    remind_before: -2h", "deadlines[0].remind_before", "invalid"),
    ("    name: Legal response", "    name: ''", "deadlines[0].name", "at least 1"),
    (
        "    name: Legal response",
        "    name: Legal response\n    owner: U0LEG00001",
        "deadlines[0].owner",
        "unknown key",
    ),
    (
        "{category: [legal_request], region: [emea], policy_area",
        "{category: [legal_request], country: [de], policy_area",
        "deadlines[1].when.country",
        "Input should be",
    ),
]


@pytest.mark.parametrize(("old", "new", "path", "message"), BROKEN)
def test_schema_errors_name_key_and_line(old, new, path, message):
    assert old in TEXT
    broken = TEXT.replace(old, new, 1)
    with pytest.raises(ConfigError) as info:
        parse_config(broken, "team.yaml")
    problems = info.value.problems
    assert [p.path for p in problems] == [path]
    assert message in problems[0].message
    assert problems[0].line == _line_of(broken, new.splitlines()[-1].strip())
    assert f"team.yaml:{problems[0].line}: {path}:" in str(info.value)


CROSS = [
    (
        "invite: [legal]}",
        "invite: [legl]}",
        "routing[2].invite[0]",
        "unknown stakeholder group 'legl'",
    ),
    (
        "rotation:secondary]",
        "rotation:tertiary]",
        "escalation_policy.steps[1].notify[0]",
        "unknown rotation 'tertiary'",
    ),
    (
        "group:leads]",
        "group:chiefs]",
        "escalation_policy.steps[2].notify[0]",
        "unknown stakeholder group 'chiefs'",
    ),
    (
        "rotation: secondary}",
        "rotation: night}",
        "stakeholders.secondary.rotation",
        "unknown rotation 'night'",
    ),
    (
        "default_severity: SEV3",
        "default_severity: SEV5",
        "default_severity",
        "unknown severity 'SEV5'",
    ),
    (
        "category: [ads]}",
        "category: [adz]}",
        "routing[1].when.category[0]",
        "unknown category 'adz'",
    ),
    (
        "signoff: legal}",
        "signoff: legl}",
        "playbooks[1].steps[2].signoff",
        "unknown stakeholder group 'legl'",
    ),
    (
        '{id: preserve, text: "Preserve',
        '{id: verify_authority, text: "Preserve',
        "playbooks[1].steps[1].id",
        "duplicate step 'verify_authority'",
    ),
    (
        "when: {flag: [graphic]}",
        "when: {flag: [gory]}",
        "playbooks[2].when.flag[0]",
        "unknown flag 'gory'",
    ),
    (
        "- when: {category: [legal_request]}",
        "- when: {category: [legal]}",
        "playbooks[1].when.category[0]",
        "unknown category 'legal'",
    ),
    ("    remind_before: 2h", "    remind_before: 24h", "deadlines[0].remind_before", "shorter"),
    (
        "comms:   {name: Comms liaison, required_for: [SEV1]}",
        "comms:   {name: Comms liaison, required_for: [SEV7]}",
        "roles.comms.required_for[0]",
        "unknown severity 'SEV7'",
    ),
]


@pytest.mark.parametrize(("old", "new", "path", "message"), CROSS)
def test_cross_reference_errors(old, new, path, message):
    broken = TEXT.replace(old, new, 1)
    assert broken != TEXT
    with pytest.raises(ConfigError) as info:
        parse_config(broken, "team.yaml")
    [problem] = info.value.problems
    assert problem.path == path
    assert message in problem.message
    assert problem.line == _line_of(broken, new)


def test_roles_load_and_bad_ones_are_named_with_their_line():
    config = parse_config(TEXT)
    assert config.roles["lead"].name == "Escalation lead"
    assert config.required_roles("SEV1") == ["lead", "comms"]
    assert config.required_roles("SEV3") == []
    for old, new, path, message in [
        (
            "  scribe:  {name: Scribe}",
            "  Scribe-1:  {name: Scribe}",
            "roles.Scribe-1",
            "not a lowercase",
        ),
        (
            "  scribe:  {name: Scribe}",
            "  scribe:  {name: Scribe, needed: true}",
            "roles.scribe.needed",
            "unknown key",
        ),
        ("  scribe:  {name: Scribe}", "  scribe:  {name: ''}", "roles.scribe.name", "at least 1"),
    ]:
        broken = TEXT.replace(old, new, 1)
        assert broken != TEXT
        with pytest.raises(ConfigError) as info:
            parse_config(broken, "team.yaml")
        [problem] = info.value.problems
        assert (problem.path, problem.line) == (path, _line_of(broken, new)), new
        assert message in problem.message, problem.message


def test_stakeholder_updates_need_an_updates_channel():
    broken = "\n".join(line for line in TEXT.splitlines() if "updates_channel:" not in line)
    with pytest.raises(ConfigError) as info:
        parse_config(broken, "team.yaml")
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("severities[0].stakeholder_updates", "needs team.updates_channel to post to"),
        ("severities[1].stakeholder_updates", "needs team.updates_channel to post to"),
    ]
    assert info.value.problems[0].line == _line_of(broken, "id: SEV1")
    without = re.sub(r",\s*stakeholder_updates: true", "", broken)
    assert not parse_config(without).briefs_updates("SEV1")


# Deadline problems on text met more than once: (old, new, key path, message, line text).
DEADLINE_CROSS = [
    (
        "    due: 1h\n    remind_before: 15m\n",
        "    due: 1h\n    remind_before: 2h\n",
        "deadlines[1].remind_before",
        "remind_before 2h must be shorter than due 1h",
    ),
    (
        "- when: {category: [legal_request]}\n    name:",
        "- when: {category: [legal_request], flag: [urgent]}\n    name:",
        "deadlines[0].when.flag[0]",
        "unknown flag 'urgent'",
    ),
    (
        "    name: EU TCO removal window",
        "    name: Legal response",
        "deadlines[1].name",
        "duplicate deadline 'Legal response'",
    ),
]


@pytest.mark.parametrize(("old", "new", "path", "message"), DEADLINE_CROSS)
def test_deadline_errors_name_key_and_line(old, new, path, message):
    broken = TEXT.replace(old, new, 1)
    assert broken != TEXT
    with pytest.raises(ConfigError) as info:
        parse_config(broken, "team.yaml")
    [problem] = info.value.problems
    assert (problem.path, message in problem.message) == (path, True)
    # the line of the changed text: where `new` starts, plus the lines before its changed one
    offset = TEXT.index(old)
    changed = next(i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b)
    assert problem.line == broken.count("\n", 0, offset + changed) + 1


def test_duplicate_key_reported_with_line():
    broken = TEXT.replace(
        "default_severity: SEV3", "default_severity: SEV3\ndefault_severity: SEV1"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(broken)
    assert any(
        p.message == "duplicate key"
        and p.path == "default_severity"
        and p.line == _line_of(broken, "default_severity: SEV1")
        for p in info.value.problems
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("team: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        ("", "must be a mapping"),
    ],
)
def test_not_a_config(text, fragment):
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert fragment in str(info.value)


def test_group_needs_exactly_one_source():
    broken = TEXT.replace(
        "{name: Legal, members: [U0LEG00001, U0LEG00002]}",
        "{name: Legal, members: [U0LEG00001], usergroup: S0LEGAL001}",
    )
    with pytest.raises(ConfigError) as info:
        parse_config(broken)
    assert info.value.problems[0].path == "stakeholders.legal"
    assert "exactly one" in info.value.problems[0].message


def test_unquoted_clock_times_read_as_times():
    text = TEXT.replace('from: "00:00", to: "00:00"', "from: 20:00, to: 08:00")
    config = parse_config(text)
    restrict = config.rotations["primary"].layers[1].restrict
    assert restrict is not None
    assert (restrict.from_, restrict.to) == (time(20), time(8))


def test_cli_config_check(tmp_path: Path):
    runner = CliRunner()
    ok = runner.invoke(main, ["config", "check", str(EXAMPLE)])
    assert ok.exit_code == 0 and ok.output.strip() == "ok"
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEXT.replace("shift: 1w}", "shift: 1y}"))
    result = runner.invoke(main, ["config", "check", str(bad)])
    assert result.exit_code == 2
    line = _line_of(bad.read_text(), "shift: 1y}")
    assert f"{bad}:{line}: rotations.secondary.layers[0].shift: invalid shift" in result.output


def test_missing_file_is_an_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\n{TEXT}\nextra: *a{levels - 1}\n"


def test_an_alias_bomb_is_refused_at_once_without_being_expanded():
    import time as clock

    started = clock.perf_counter()
    with pytest.raises(ConfigError) as refused:
        parse_config(_bomb(12))  # 9**12 values, were they expanded
    assert clock.perf_counter() - started < 2
    assert "aliases (*name) expand it past" in str(refused.value)


def test_an_alias_to_its_own_ancestor_is_refused():
    with pytest.raises(ConfigError) as refused:
        parse_config(TEXT + "\nloop: &loop [*loop]\n")
    assert "refers to itself" in str(refused.value)


def test_anchors_and_aliases_of_a_normal_size_still_work():
    text = TEXT.replace(
        "members: [U0LEAD0001, U0ANA00001, U0BEN00001, U0CHI00001]",
        "members: &team [U0LEAD0001, U0ANA00001, U0BEN00001, U0CHI00001]",
    ).replace(
        "leads:         {name: Escalation leads, members: [U0LEAD0001]}",
        "leads:         {name: Escalation leads, members: *team}",
    )
    assert text != TEXT
    config = parse_config(text)
    assert config.stakeholders["leads"].members == config.team.members
