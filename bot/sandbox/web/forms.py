"""Forms: turning what the page sent into Block Kit state values and action values, taking
only the options, people and lengths the element allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.sandbox.emulator import Emulator
from bot.sandbox.web.common import Refused


def _view_for_page(view: dict) -> dict[str, Any]:
    return {
        k: view.get(k) for k in ("id", "type", "title", "submit", "close", "blocks", "callback_id")
    }


def _find_element(blocks: list[dict], block_id: str, action_id: str) -> dict:
    for block in blocks:
        if block.get("block_id", "") != block_id and block_id:
            continue
        candidates = list(block.get("elements") or [])
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    raise Refused("no such button here", 404)


def _options(element: dict) -> list[dict]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _strings(values: Any) -> list[str]:
    if isinstance(values, str):
        return [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise Refused("Not a value this field takes.", 400)
    return values


def _pick(element: dict, values: Any) -> list[dict]:
    wanted = _strings(values)
    offered = {option["value"]: option for option in _options(element)}
    picked = []
    for value in wanted:
        if value not in offered:
            raise Refused("Pick one of the options offered.", 400)
        picked.append(offered[value])
    return picked


def _people(values: Any, emulator: Emulator) -> list[str]:
    wanted = _strings(values)
    for user in wanted:
        found = emulator.user(str(user))
        if found is None or found["deleted"]:
            raise Refused("Pick someone from this workspace.", 400)
    return [str(u) for u in wanted]


def _state_value(element: dict, value: Any, emulator: Emulator) -> dict[str, Any]:
    """Turn what the page sent for one input into Slack's view state value, or refuse."""
    kind = element.get("type")
    if isinstance(value, Mapping):
        raise Refused("Not a value this field takes.", 400)
    if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
        text = "" if value is None else str(value)
        limit = element.get("max_length")
        if limit and len(text) > int(limit):
            raise Refused(f"At most {limit} characters.", 400)
        return {"type": kind, "value": text or None}
    if kind in ("static_select", "radio_buttons"):
        picked = _pick(element, value) if value else []
        return {"type": kind, "selected_option": picked[0] if picked else None}
    if kind in ("multi_static_select", "checkboxes"):
        return {"type": kind, "selected_options": _pick(element, value or [])}
    if kind == "users_select":
        users = _people(value, emulator) if value else []
        return {"type": kind, "selected_user": users[0] if users else None}
    if kind == "multi_users_select":
        return {"type": kind, "selected_users": _people(value or [], emulator)}
    if kind in ("datepicker", "timepicker"):
        key = "selected_date" if kind == "datepicker" else "selected_time"
        return {"type": kind, key: str(value) if value else None}
    raise Refused(f"The sandbox cannot fill a {kind} field.", 400)


def _is_empty(state: dict[str, Any]) -> bool:
    return not any(state.get(k) for k in state if k != "type")


def _action_value(element: dict, selected: Any, emulator: Emulator) -> Any:
    """Return what the driver sends for a pressed element: a button's own value, or a pick."""
    kind = element.get("type")
    if kind == "button":
        return element.get("value")
    if kind == "overflow":
        return {"type": kind, "selected_option": _pick(element, selected)[0]}
    return _state_value(element, selected, emulator)
