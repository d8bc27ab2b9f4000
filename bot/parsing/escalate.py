"""Parsers of slash-command text into validated drafts."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from bot.config import TeamConfig
from bot.errors import UsageError
from bot.text import escape, truncate

if TYPE_CHECKING:
    pass


TITLE_LIMIT = 250
_CHANNEL_REF = re.compile(r"^<#[A-Z0-9]+\|([^>]*)>$")


class EscalationDraft(BaseModel):
    """What a reporter gives to raise an escalation."""

    title: str = Field(min_length=1, max_length=TITLE_LIMIT)
    description: str = ""
    category: str
    policy_area: str
    severity: str
    region: str
    surfaces: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    restricted: bool = False
    graphic: bool = False


def parse_escalate(text: str, config: TeamConfig) -> EscalationDraft:
    """Parse `[SEVn] [#category] title words…`; raise UsageError on bad input."""
    words = text.split()
    severity = config.default_severity
    category = config.default_category
    if words and re.fullmatch(r"(?i)sev\d+", words[0]):
        severity = words.pop(0).upper()
        if severity not in config.severity_ids:
            raise UsageError(
                f"Unknown severity `{severity}`: use one of "
                f"{', '.join(config.severity_ids)}. {ESCALATE_USAGE}"
            )
    if words and (words[0].startswith("#") or _CHANNEL_REF.match(words[0])):
        token = words.pop(0)
        ref = _CHANNEL_REF.match(token)
        category = (ref.group(1) if ref else token[1:]).lower()
        if category not in config.categories:
            raise UsageError(
                f"Unknown category `{escape(truncate(category, 40))}`: use one of "
                f"{', '.join(config.categories)}. {ESCALATE_USAGE}"
            )
    title = " ".join(words).strip()
    if not title:
        raise UsageError("An escalation needs a title. " + ESCALATE_USAGE)
    description = ""
    if len(title) > TITLE_LIMIT:
        description = title
        title = truncate(title, TITLE_LIMIT, "… (full text in the description)")
    return EscalationDraft(
        title=title,
        description=description,
        category=category,
        policy_area="other" if "other" in config.policy_areas else config.policy_areas[0],
        severity=severity,
        region=config.regions[0],
    )


ESCALATE_USAGE = (
    "Usage: `/escalate [SEV1|SEV2|SEV3|SEV4] [#category] title words…` — "
    "or `/escalate` alone for the form."
)
