"""Who an escalation pulls in: routing rules and escalation-policy targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.config import PlaybookStep, TeamConfig


@dataclass(frozen=True)
class Facets:
    """The routed facets of an escalation."""

    category: str
    policy_area: str
    severity: str
    region: str
    surfaces: tuple[str, ...] = ()


def _matches(values: Sequence[str], wanted: list[str]) -> bool:
    return any(v in wanted for v in values)


def _own(facets: Facets, flags: Sequence[str] = ()) -> dict[str, Sequence[str]]:
    return {
        "category": (facets.category,),
        "policy_area": (facets.policy_area,),
        "severity": (facets.severity,),
        "region": (facets.region,),
        "surface": facets.surfaces,
        "flag": tuple(flags),
    }


def matches(when: Mapping[Any, list[str]], facets: Facets, flags: Sequence[str] = ()) -> bool:
    """Return True when each `when` key matches one of its listed values."""
    own = _own(facets, flags)
    return all(_matches(own[key], wanted) for key, wanted in when.items())


def routed_groups(config: TeamConfig, facets: Facets) -> list[str]:
    """Return the stakeholder groups every matching rule invites, in rule order, once each."""
    groups: dict[str, None] = {}
    for rule in config.routing:
        if matches(rule.when, facets):
            groups.update(dict.fromkeys(rule.invite))
    return list(groups)


def playbook_steps(
    config: TeamConfig, facets: Facets, flags: Sequence[str] = ()
) -> list[PlaybookStep]:
    """Return the checklist every matching playbook gives, in config order; a step ID met
    again in a later playbook keeps its first definition."""
    steps: dict[str, PlaybookStep] = {}
    for playbook in config.playbooks:
        if matches(playbook.when, facets, flags):
            for step in playbook.steps:
                steps.setdefault(step.id, step)
    return list(steps.values())


@dataclass(frozen=True)
class Target:
    """Whom to reach: direct users, and user groups to expand through Slack."""

    users: tuple[str, ...] = ()
    usergroups: tuple[str, ...] = ()
