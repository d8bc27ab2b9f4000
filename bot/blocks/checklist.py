"""The checklist an escalation's playbooks gave it: on the card and in `/esc checklist`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.common import _mention, _when, context, section
from bot.results import Checklist
from bot.text import escape
from storage.models import ChecklistStep


def step_line(step: ChecklistStep, groups: Mapping[str, str]) -> str:
    """Return one step: a box, its ID and text, what it needs, who ticked it and when."""
    box = ":white_check_mark:" if step.done_at else ":white_large_square:"
    line = f"{box} `{escape(step.step_id)}` {escape(step.text)}"
    tags = []
    if step.required:
        tags.append("required")
    if step.signoff:
        tags.append(f"sign-off: {escape(groups.get(step.signoff, step.signoff))}")
    if tags:
        line += f" _({', '.join(tags)})_"
    if step.done_at:
        line += f" — {_mention(step.done_by)} {_when(step.done_at)}"
    return line


def checklist_note(steps: Sequence[ChecklistStep]) -> str:
    """Return the card's one-line checklist summary ('' without a checklist)."""
    if not steps:
        return ""
    done = sum(1 for s in steps if s.done_at)
    note = f"Checklist: {done}/{len(steps)} done"
    waiting = [s.step_id for s in steps if s.required and not s.done_at]
    if waiting:
        note += " · required open: " + ", ".join(f"`{escape(s)}`" for s in waiting)
    return note


def checklist_reply(
    checklist: Checklist, groups: Mapping[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """Return `/esc checklist`: every step, ticked or not."""
    esc = checklist.esc
    if not checklist.steps:
        text = f"*{esc.ref}* has no checklist: no playbook matched it."
        return text, [section(text)]
    head = f"*{esc.ref}* checklist — {checklist_note(checklist.steps).removeprefix('Checklist: ')}"
    lines = [step_line(step, groups) for step in checklist.steps]
    out = [section(head), section("\n".join(lines))]
    out.append(context("Tick one with `/esc done <step>`; a sign-off step ticks when approved."))
    return head, out
