"""The App Home tab."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.text import escape

if TYPE_CHECKING:
    from bot.results import (
        Home,
    )
from bot.blocks.common import _mention, _when, context
from bot.blocks.replies import _esc_line, _sections


def home_view(home: Home) -> dict[str, Any]:
    """Return the App Home: on call now, my next shifts, my open escalations."""
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "On call now"}}
    ]
    oncall = [
        f"*{escape(o.rotation)}*: {_mention(o.user)} until {_when(o.until)}"
        if o.user
        else f"*{escape(o.rotation)}*: :warning: nobody (gap)"
        for o in home.oncall
    ]
    out.extend(_sections(oncall or ["No rotations configured."], limit=10))
    out.append({"type": "header", "text": {"type": "plain_text", "text": "My next shifts"}})
    shifts = [f"*{escape(s.rotation)}*: {_when(s.start)} → {_when(s.end)}" for s in home.shifts]
    out.extend(_sections(shifts or ["No shifts in the next 14 days."], limit=10))
    out.append({"type": "header", "text": {"type": "plain_text", "text": "My open escalations"}})
    mine = [_esc_line(e) for e in home.escalations]
    out.extend(_sections(mine or ["None."], limit=40))
    out.append(context(f"Updated {_when(home.now)}"))
    return {"type": "home", "blocks": out}
