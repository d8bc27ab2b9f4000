"""Who an escalation pulls in: routing rules and escalation-policy targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.config import TeamConfig


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


def routed_groups(config: TeamConfig, facets: Facets) -> list[str]:
    """Return the stakeholder groups every matching rule invites, in rule order, once each."""
    own = {
        "category": (facets.category,),
        "policy_area": (facets.policy_area,),
        "severity": (facets.severity,),
        "region": (facets.region,),
        "surface": facets.surfaces,
    }
    groups: dict[str, None] = {}
    for rule in config.routing:
        if all(_matches(own[key], wanted) for key, wanted in rule.when.items()):
            groups.update(dict.fromkeys(rule.invite))
    return list(groups)


@dataclass(frozen=True)
class Target:
    """Whom to reach: direct users, and user groups to expand through Slack."""

    users: tuple[str, ...] = ()
    usergroups: tuple[str, ...] = ()
