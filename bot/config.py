"""The team config YAML (`escalation.yaml`) as validated pydantic models.

Every problem is reported with the key path and the line it stands on, so a
typo in a 200-line file is found at once.

Over 500 lines: the schema of every section and the cross-checks between them are read
together; split, a new section's references would be checked in a second place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from bot.parsing.durations import format_duration, parse_duration

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
USERGROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = get_args(Day)
SHIFT = re.compile(r"^(\d{1,5})([hdw])$")


def _pattern(regex: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(f"{value!r} is not a {what}")
        return value

    return AfterValidator(check)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(str(value))


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Europe/Dublin)"
        ) from None
    return value


def _local_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"invalid start {value!r}: use 'YYYY-MM-DD HH:MM'") from None
    if parsed.tzinfo is not None:
        raise ValueError("start is local wall-clock time in the rotation's time zone: no offset")
    return parsed


def _clock(value: Any) -> time:
    if isinstance(value, int):  # YAML 1.1 reads 09:00 unquoted as sexagesimal minutes
        return time(value // 60, value % 60)
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"invalid clock time {value!r}: use HH:MM") from None


def _shift(value: Any) -> str:
    if not SHIFT.match(str(value)) or int(SHIFT.match(str(value)).group(1)) == 0:  # type: ignore[union-attr]
        raise ValueError(f"invalid shift {value!r}: use <n>h, <n>d or <n>w")
    return str(value)


UserId = Annotated[str, _pattern(USER_ID, "Slack user ID (U… or W…)")]
ChannelId = Annotated[str, _pattern(CHANNEL_ID, "Slack channel ID (C…, G… or D…)")]
UsergroupId = Annotated[str, _pattern(USERGROUP_ID, "Slack user group ID (S…)")]
Ident = Annotated[str, _pattern(IDENT, "lowercase identifier (a-z, 0-9, _)")]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
LocalDateTime = Annotated[datetime, BeforeValidator(_local_datetime)]
ClockTime = Annotated[time, BeforeValidator(_clock)]
ShiftText = Annotated[str, BeforeValidator(_shift)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Team(_Model):
    name: str = Field(min_length=1)
    timezone: TimeZoneName = "UTC"
    channel: ChannelId
    feed_channel: ChannelId
    updates_channel: ChannelId | None = None  # stakeholder briefs of status updates
    members: list[UserId] = Field(min_length=1)
    remind_before: Duration = timedelta(minutes=15)
    signoff_remind_every: Duration = timedelta(minutes=30)


class Severity(_Model):
    id: Annotated[str, _pattern(re.compile(r"^SEV[1-9]$"), "severity ID (SEV1…SEV9)")]
    ack_within: Duration
    update_every: Duration
    stakeholder_updates: bool = False  # each update also briefs team.updates_channel


class PolicyStep(_Model):
    notify: list[
        Annotated[
            str,
            _pattern(
                re.compile(r"^(rotation|group):[a-z][a-z0-9_]*$|^user:[UW][A-Z0-9]{2,}$"),
                "notify target (rotation:<id>, group:<id> or user:<Slack ID>)",
            ),
        ]
    ] = Field(min_length=1)


def split_target(spec: str) -> tuple[str, str]:
    """Split a notify target into (kind, name): `rotation:x`, `group:x`, `user:U…`; a bare
    name is a stakeholder group."""
    kind, _, name = spec.partition(":") if ":" in spec else ("group", ":", spec)
    return kind, name


class EscalationPolicy(_Model):
    steps: list[PolicyStep] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=10)


class Restrict(_Model):
    days: list[Day] = Field(default_factory=lambda: list(DAYS), min_length=1)
    from_: ClockTime = Field(default=time(0), alias="from")
    to: ClockTime = time(0)


class LayerConfig(_Model):
    members: list[UserId] = Field(min_length=1)
    start: LocalDateTime
    shift: ShiftText
    restrict: Restrict | None = None


class RotationConfig(_Model):
    timezone: TimeZoneName
    layers: list[LayerConfig] = Field(min_length=1)


class StakeholderGroup(_Model):
    name: str = Field(min_length=1)
    members: list[UserId] | None = None
    usergroup: UsergroupId | None = None
    rotation: Ident | None = None

    @model_validator(mode="after")
    def _one_source(self) -> StakeholderGroup:
        given = [k for k in ("members", "usergroup", "rotation") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a stakeholder group needs exactly one of members, usergroup, rotation"
            )
        return self


class RoleConfig(_Model):
    """A role someone holds on an escalation (`/esc role <role> <@user>`); `required_for`
    lists the severities whose escalations remind their owner while it is empty."""

    name: str = Field(min_length=1, max_length=80)
    required_for: list[str] = Field(default_factory=list)


RoutingKey = Literal["category", "policy_area", "severity", "region", "surface"]


class RoutingRule(_Model):
    when: dict[RoutingKey, list[str]] = Field(min_length=1)
    invite: list[Ident] = Field(min_length=1)


PlaybookKey = Literal["category", "policy_area", "severity", "region", "surface", "flag"]
FLAGS = ("graphic", "restricted")


class PlaybookStep(_Model):
    id: Ident
    text: str = Field(min_length=1, max_length=500)
    required: bool = False
    signoff: Ident | None = None


class Playbook(_Model):
    """Checklist steps for the escalations a `when` matches (as routing rules match; `flag`
    matches an escalation raised graphic or restricted)."""

    when: dict[PlaybookKey, list[str]] = Field(min_length=1)
    steps: list[PlaybookStep] = Field(min_length=1)


class DeadlineRule(_Model):
    """A clock for the escalations a `when` matches (as playbooks match): due `due` after
    creation, the owner reminded `remind_before` ahead."""

    when: dict[PlaybookKey, list[str]] = Field(min_length=1)
    name: str = Field(min_length=1, max_length=120)
    due: Duration
    remind_before: Duration | None = None


class TeamConfig(_Model):
    """The whole team config: the schema of SPEC.md."""

    team: Team
    severities: list[Severity] = Field(min_length=1)
    default_severity: str
    escalation_policy: EscalationPolicy
    rotations: dict[Ident, RotationConfig] = Field(default_factory=dict)
    stakeholders: dict[Ident, StakeholderGroup] = Field(default_factory=dict)
    categories: list[Ident] = Field(default_factory=lambda: ["other"], min_length=1)
    policy_areas: list[Ident] = Field(default_factory=lambda: ["other"], min_length=1)
    regions: list[Ident] = Field(default_factory=lambda: ["global"], min_length=1)
    surfaces: list[Ident] = Field(default_factory=list)
    routing: list[RoutingRule] = Field(default_factory=list)
    playbooks: list[Playbook] = Field(default_factory=list)
    deadlines: list[DeadlineRule] = Field(default_factory=list)
    roles: dict[Ident, RoleConfig] = Field(default_factory=dict)

    def severity(self, severity_id: str) -> Severity:
        """Return the severity with this ID; raise KeyError when unknown."""
        for severity in self.severities:
            if severity.id == severity_id:
                return severity
        raise KeyError(severity_id)

    def briefs_updates(self, severity_id: str) -> bool:
        """Return True when updates of this severity also go to `team.updates_channel`."""
        try:
            wanted = self.severity(severity_id).stakeholder_updates
        except KeyError:
            return False
        return wanted and self.team.updates_channel is not None

    def required_roles(self, severity_id: str) -> list[str]:
        """Return the IDs of the roles an escalation of this severity must have filled."""
        return [rid for rid, role in self.roles.items() if severity_id in role.required_for]

    @property
    def severity_ids(self) -> list[str]:
        """Return the severity IDs in config order."""
        return [s.id for s in self.severities]

    @property
    def default_category(self) -> str:
        """Return `other` when configured, else the first category."""
        return "other" if "other" in self.categories else self.categories[0]


# ---------------------------------------------------------------------------
# Loading with line numbers


@dataclass(frozen=True)
class Problem:
    """One config problem: where it is and what is wrong."""

    path: str
    line: int | None
    message: str

    def render(self, source: str) -> str:
        """Format as `file:line: key.path: message`."""
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.path or '(top level)'}: {self.message}"


class ConfigError(Exception):
    """The config file is invalid; `problems` lists every problem found."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))


def _join(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(
    node: yaml.Node,
    path: tuple[Any, ...],
    lines: dict[tuple[Any, ...], int],
    problems: list[Problem],
) -> None:
    """Record the line of every key path under a composed YAML node, and duplicate keys."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key in seen:
                problems.append(
                    Problem(_join((*path, key)), key_node.start_mark.line + 1, "duplicate key")
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, problems)


# A team config has hundreds of values; aliases (*name) that expand past this are refused
# before anything walks the expansion ("billion laughs").
MAX_VALUES = 100_000


def _expanded_size(root: yaml.Node) -> int:
    """Return how many values the document holds with every alias expanded (counted, not
    expanded: each distinct node is looked at once); raise RecursionError for a cycle."""
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done:
            if id(node) in entered:  # met again below itself: an alias to an ancestor
                raise RecursionError
            entered.add(id(node))
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        if children_done:
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 0) for c in children)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _line_for(path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def parse_config(text: str, source: str = "escalation.yaml") -> TeamConfig:
    """Validate config text; raise ConfigError naming every bad key and its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None or not isinstance(root, yaml.MappingNode):
            raise ConfigError(source, [Problem("", 1, "the config must be a mapping of sections")])
        if _expanded_size(root) > MAX_VALUES:
            message = f"too large: aliases (*name) expand it past {MAX_VALUES:,} values"
            raise ConfigError(source, [Problem("", None, message)])
        lines: dict[tuple[Any, ...], int] = {}
        problems: list[Problem] = []
        _walk(root, (), lines, problems)
        data = yaml.SafeLoader("").construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            source,
            [
                Problem(
                    "",
                    mark.line + 1 if mark else None,
                    f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                )
            ],
        ) from None
    except RecursionError:
        message = "not valid: nested too deeply, or an alias (*name) refers to itself"
        raise ConfigError(source, [Problem("", None, message)]) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. `!!int abc`, a bad date
        raise ConfigError(source, [Problem("", None, f"not valid YAML: {exc}")]) from None
    try:
        config = TeamConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            loc = tuple("from" if p == "from_" else p for p in loc)
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(Problem(_join(loc), _line_for(loc, lines), message))
        raise ConfigError(source, problems) from None
    problems.extend(
        Problem(_join(path), _line_for(path, lines), message)
        for path, message in _cross_check(config)
    )
    if problems:
        raise ConfigError(source, problems)
    return config


def load_config(path: str | Path) -> TeamConfig:
    """Read and validate the team config file; raise ConfigError on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [Problem("", None, f"cannot read: {exc.strerror}")]) from None
    return parse_config(text, str(path))


def _cross_check(config: TeamConfig) -> list[tuple[tuple[Any, ...], str]]:
    """Check the references between sections."""
    out: list[tuple[tuple[Any, ...], str]] = []
    ids = config.severity_ids
    for i, sev in enumerate(ids):
        if sev in ids[:i]:
            out.append((("severities", i, "id"), f"duplicate severity {sev!r}"))
    if config.default_severity not in ids:
        out.append((("default_severity",), f"unknown severity {config.default_severity!r}"))
    for s, step in enumerate(config.escalation_policy.steps):
        for n, target in enumerate(step.notify):
            kind, _, name = target.partition(":")
            known = config.rotations if kind == "rotation" else config.stakeholders
            if kind != "user" and name not in known:
                what = "rotation" if kind == "rotation" else "stakeholder group"
                out.append(
                    (("escalation_policy", "steps", s, "notify", n), f"unknown {what} {name!r}")
                )
    for i, severity in enumerate(config.severities):
        if severity.stakeholder_updates and config.team.updates_channel is None:
            out.append(
                (("severities", i, "stakeholder_updates"), "needs team.updates_channel to post to")
            )
    for name, group in config.stakeholders.items():
        if group.rotation is not None and group.rotation not in config.rotations:
            out.append((("stakeholders", name, "rotation"), f"unknown rotation {group.rotation!r}"))
    allowed = {
        "category": config.categories,
        "policy_area": config.policy_areas,
        "severity": ids,
        "region": config.regions,
        "surface": config.surfaces,
    }
    for r, rule in enumerate(config.routing):
        for key, values in rule.when.items():
            for v, value in enumerate(values):
                if value not in allowed[key]:
                    out.append((("routing", r, "when", key, v), f"unknown {key} {value!r}"))
        for g, group_name in enumerate(rule.invite):
            if group_name not in config.stakeholders:
                out.append(
                    (("routing", r, "invite", g), f"unknown stakeholder group {group_name!r}")
                )
    allowed_flags = {**allowed, "flag": list(FLAGS)}
    for p, playbook in enumerate(config.playbooks):
        for facet, values in playbook.when.items():
            for v, value in enumerate(values):
                if value not in allowed_flags[facet]:
                    out.append((("playbooks", p, "when", facet, v), f"unknown {facet} {value!r}"))
        seen: set[str] = set()
        for st, item in enumerate(playbook.steps):
            if item.id in seen:
                out.append((("playbooks", p, "steps", st, "id"), f"duplicate step {item.id!r}"))
            seen.add(item.id)
            if item.signoff is not None and item.signoff not in config.stakeholders:
                out.append(
                    (
                        ("playbooks", p, "steps", st, "signoff"),
                        f"unknown stakeholder group {item.signoff!r}",
                    )
                )
    names: set[str] = set()
    for d, deadline in enumerate(config.deadlines):
        for facet, values in deadline.when.items():
            for v, value in enumerate(values):
                if value not in allowed_flags[facet]:
                    out.append((("deadlines", d, "when", facet, v), f"unknown {facet} {value!r}"))
        if deadline.name in names:
            out.append((("deadlines", d, "name"), f"duplicate deadline {deadline.name!r}"))
        names.add(deadline.name)
        if deadline.remind_before is not None and deadline.remind_before >= deadline.due:
            out.append(
                (
                    ("deadlines", d, "remind_before"),
                    f"remind_before {format_duration(deadline.remind_before)} must be shorter"
                    f" than due {format_duration(deadline.due)}",
                )
            )
    for rid, role in config.roles.items():
        for v, value in enumerate(role.required_for):
            if value not in ids:
                out.append((("roles", rid, "required_for", v), f"unknown severity {value!r}"))
    for name, rotation in config.rotations.items():
        for li, layer in enumerate(rotation.layers):
            if layer.restrict is not None and len(set(layer.restrict.days)) != len(
                layer.restrict.days
            ):
                out.append((("rotations", name, "layers", li, "restrict", "days"), "duplicate day"))
    return out
