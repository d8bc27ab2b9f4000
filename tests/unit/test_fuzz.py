"""Property-based fuzzing of every parser: bad input is a usage error, never a crash.

Text comes from two sources: arbitrary Unicode, and sentences built from the tokens each
parser looks for (severities, categories, mentions, references, times, broadcasts) so the
fuzzer reaches the deep branches rather than only the first check.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, TeamConfig, parse_config
from bot.errors import UsageError
from bot.parsing.durations import format_duration, parse_duration
from bot.parsing.esc import EscRequest, parse_decision, parse_esc
from bot.parsing.escalate import TITLE_LIMIT, parse_escalate
from bot.parsing.oncall import parse_instant, parse_oncall, resolve_time, take_time
from tests.support.config import EXAMPLE

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIG_TEXT = EXAMPLE.read_text()
CONFIG = parse_config(CONFIG_TEXT)
ROTATIONS = list(CONFIG.rotations)
NOW = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)

TOKENS = [
    *("SEV1", "sev2", "Sev3", "SEV4", "SEV0", "SEV9", "SEV99999999999999999999"),
    *("#ads", "#content", "#election", "#nope", "#", "<#C0FEED0001|ads>", "<#C0FEED0001|>"),
    *("<@U0ANA00001>", "<@U0ANA00001|ana>", "<@W0ANA00001>", "@ana", "U0BEN00001", "<@>"),
    *("<!channel>", "<!here>", "<!everyone>", "@channel", "<!subteam^S0PUBPOL01|pp>"),
    *("ESC-1", "esc-12", "ESC-", "#3", "ESC-999999999", "ESC-9999999999999", "#0"),
    *("ack", "sev", "owner", "update", "invite", "signoff", "decision", "followup", "done"),
    *("resolve", "reopen", "status", "timeline", "decisions", "list", "stats", "help"),
    *("mine", "all", "open", "7d", "30d", "999d", "0d", "legal", "public_policy", "nobody"),
    *("tooling_gap", "process", "policy", "product", "supersedes", "#2", "supersedes #0"),
    *("now", "+4h", "+0m", "+999999w", "today", "tomorrow", "18:00", "25:61", "24:00"),
    *("2026-12-24", "2026-02-30", "9999-12-31", "0001-01-01", "2026-03-29 02:30"),
    *("schedule", "me", "overrides", "override", "remove", "gaps", "primary", "secondary"),
    *("'; DROP TABLE escalations; --", "%s", "%(x)s", "\\", "\x00", "🔥", "مرحبا", "שלום"),
]
SPACES = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u2003"])


@st.composite
def sentences(draw: Any) -> str:
    """Return text built from parser tokens, arbitrary words and odd whitespace."""
    words = draw(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)), max_size=12))
    out = ""
    for word in words:
        out += word + draw(SPACES)
    return out


TEXTS = st.one_of(st.text(max_size=300), sentences())


@FUZZ
@given(TEXTS)
def test_escalate_text_parses_or_says_how_to_use_it(text: str):
    try:
        draft = parse_escalate(text, CONFIG)
    except UsageError as exc:
        assert "Usage" in str(exc)
        return
    assert draft.title.strip() and len(draft.title) <= TITLE_LIMIT
    assert draft.severity in CONFIG.severity_ids and draft.category in CONFIG.categories
    assert draft.policy_area in CONFIG.policy_areas and draft.region in CONFIG.regions


@FUZZ
@given(TEXTS)
def test_esc_text_parses_or_says_how_to_use_it(text: str):
    try:
        request = parse_esc(text, CONFIG)
    except UsageError as exc:
        assert str(exc)
        return
    assert isinstance(request, EscRequest)
    assert request.number is None or 0 <= request.number < 2**31  # fits the database
    if request.severity is not None:
        assert request.severity in CONFIG.severity_ids


@FUZZ
@given(TEXTS)
def test_decision_text_parses_or_says_how_to_use_it(text: str):
    try:
        draft = parse_decision(text)
    except UsageError as exc:
        assert "Usage" in str(exc)
        return
    assert draft.text.strip()
    assert draft.supersedes is None or 1 <= draft.supersedes < 2**31


@FUZZ
@given(TEXTS, st.sampled_from(["UTC", "America/Los_Angeles", "Europe/Dublin", "Asia/Kolkata"]))
def test_oncall_text_parses_and_its_times_resolve_or_say_how(text: str, tz: str):
    try:
        request = parse_oncall(text, ROTATIONS)
    except UsageError:
        return
    assert request.rotation is None or request.rotation in ROTATIONS
    for spec in (request.start, request.end):
        if spec is None:
            continue
        try:
            instant = resolve_time(spec, tz, NOW)
        except UsageError:
            continue
        assert instant.tzinfo is not None


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=10)), max_size=4))
def test_typed_times_parse_or_say_how(words: list[str]):
    try:
        spec = take_time(list(words), "start")
    except UsageError:
        return
    with contextlib.suppress(UsageError):
        assert resolve_time(spec, "Europe/Dublin", NOW, NOW).tzinfo is not None


@FUZZ
@given(st.one_of(st.text(max_size=40), st.sampled_from(TOKENS)))
def test_instants_on_the_command_line_parse_or_raise_value_error(text: str):
    try:
        instant = parse_instant(text, "America/Los_Angeles", NOW)
    except ValueError as exc:
        assert str(exc)
        return
    assert instant.utcoffset() == timedelta(0)


@FUZZ
@given(st.one_of(st.text(max_size=20), st.from_regex(r"\s*\d{1,9}\s*[smhdwy]?\s*", fullmatch=True)))
def test_durations_parse_and_round_trip_or_raise_value_error(text: str):
    try:
        value = parse_duration(text)
    except ValueError as exc:
        assert "invalid duration" in str(exc)
        return
    assert value > timedelta(0)
    assert parse_duration(format_duration(value)) == value


# -- the config loader -------------------------------------------------------------------------

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*here, i))
    return found


@st.composite
def structural_mutants(draw: Any) -> str:
    """Return the example config with some values replaced, removed or added, as YAML."""
    data = yaml.safe_load(CONFIG_TEXT)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(JUNK)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JUNK)
        else:
            parent.append(draw(JUNK))
    return yaml.safe_dump(data, allow_unicode=True)


# Values YAML accepts as syntax but that break naive loaders: self-reference, tags,
# unhashable keys, bad merges, impossible dates, deep nesting.
YAML_VALUES = [
    "&a [*a]",
    "&b {x: *b}",
    "!!int abc",
    "!!float x",
    "!!timestamp 2026-99-99",
    "!!python/object:os.system ls",
    "!!binary ~",
    "{? [a, b]: 1}",
    "{<<: 5}",
    "[" * 300 + "]" * 300,
    "*undefined",
    "~",
    "[]",
    "{}",
    "-1",
    "1e999",
    ".nan",
    "99999999999999999999999",
    '"\\u0000"',
    "2026-02-30 25:00",
    "<!channel>",
]


@st.composite
def textual_mutants(draw: Any) -> str:
    """Return the example config text with lines and characters damaged."""
    lines = CONFIG_TEXT.splitlines()
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(
            st.sampled_from(
                ["delete", "duplicate", "indent", "dedent", "junk", "value", "cut", "swap"]
            )
        )
        if action == "value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {draw(st.sampled_from(YAML_VALUES))}"
        elif action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = "  " + lines[i]
        elif action == "dedent":
            lines[i] = lines[i].lstrip()
        elif action == "junk":
            at = draw(st.integers(0, len(lines[i])))
            junk = draw(
                st.one_of(
                    st.text(max_size=6),
                    st.sampled_from(
                        [
                            "&a [*a]",
                            "*x",
                            "!!python/object:os.system",
                            "? [a, b]",
                            "{",
                            "]",
                            ":",
                            "!!int abc",
                            "!!binary ~",
                            "<<: *a",
                            "- - -",
                            "\t",
                            '"',
                            "'",
                            "%YAML 9",
                        ]
                    ),
                )
            )
            lines[i] = lines[i][:at] + junk + lines[i][at:]
        elif action == "cut":
            lines = lines[:i]
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        if not lines:
            break
    return "\n".join(lines)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(structural_mutants(), textual_mutants(), st.text(max_size=200)))
def test_config_mutations_give_config_error_and_nothing_else(text: str):
    try:
        config = parse_config(text)
    except ConfigError as exc:
        message = str(exc)
        assert message and "Traceback" not in message
        return
    assert isinstance(config, TeamConfig)


def test_config_error_names_the_line_of_a_damaged_value():
    text = CONFIG_TEXT.replace("ack_within: 15m", "ack_within: soon", 1)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "ack_within: soon" in row)
    try:
        parse_config(text)
    except ConfigError as exc:
        assert re.search(rf"\b{line}\b", str(exc)), str(exc)
    else:
        raise AssertionError("a bad duration was accepted")


@pytest.mark.parametrize("value", YAML_VALUES)
def test_each_hostile_yaml_value_gives_config_error(value: str):
    for key in ("team", "  members", "  - {id: SEV1, ack_within"):
        lines = CONFIG_TEXT.splitlines()
        i = next(n for n, row in enumerate(lines) if row.startswith(key))
        lines[i] = f"{key}: {value}" + ("}" if "{id" in key else "")
        try:
            parse_config("\n".join(lines))
        except ConfigError as exc:
            assert str(exc)
        else:
            raise AssertionError(f"{key}: {value} was accepted")
