"""Block Kit for the shell: messages flattened to text, and forms filled from ``k=v``
words and submitted through the driver as Slack's client would.
"""

from __future__ import annotations

import json
from typing import Any

from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator


def _flatten(blocks: list[dict[str, Any]] | None) -> str:
    lines: list[str] = []

    def element_line(element: dict[str, Any]) -> None:
        kind = element.get("type")
        if kind == "button":
            lines.append(f"[{element['text']['text']}] ({element['action_id']})")
        elif kind == "image":
            lines.append(f"[image: {element.get('alt_text', '')}]")
        elif kind in ("static_select", "overflow", "users_select"):
            lines.append(f"[{kind}] ({element.get('action_id')})")
        elif isinstance(element.get("text"), str):
            lines.append(element["text"])

    for block in blocks or []:
        text = block.get("text")
        if isinstance(text, dict):
            lines.append(text.get("text", ""))
        for item in block.get("fields") or []:
            lines.append(item.get("text", "").replace("\n", ": "))
        if isinstance(block.get("accessory"), dict):
            element_line(block["accessory"])
        if block.get("type") == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        for element in block.get("elements") or []:
            element_line(element)
    return "\n".join(line for line in lines if line)


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]] | None:
    blocks = args.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _element_value(element: dict[str, Any], raw: str) -> dict[str, Any]:
    kind = element["type"]
    if kind == "static_select":
        return {
            "type": kind,
            "selected_option": {"text": {"type": "plain_text", "text": raw}, "value": raw},
        }
    if kind in ("multi_static_select", "checkboxes"):
        return {
            "type": kind,
            "selected_options": [
                {"text": {"type": "plain_text", "text": v}, "value": v} for v in raw.split(",") if v
            ],
        }
    if kind == "multi_users_select":
        return {"type": kind, "selected_users": [v for v in raw.split(",") if v]}
    return {"type": kind, "value": raw}


def form_values(
    view: dict[str, Any], given: dict[str, str], handles: dict[str, str], emulator: Emulator
) -> dict[str, Any]:
    """Return a form's submitted values: `given` (block ID → text), else its initial picks.

    People are named by handle (`@ana`, `ana`) or ID; an unknown one raises ValueError.
    """
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element, block_id = block["element"], block["block_id"]
        raw = given.get(block_id)
        if raw is None:
            initial = element.get("initial_option")
            if initial:
                values[block_id] = {
                    element["action_id"]: {"type": element["type"], "selected_option": initial}
                }
            continue
        raw = str(raw)
        if element["type"] in ("multi_users_select", "users_select"):
            people = [handles.get(p.strip().lstrip("@").lower(), p.strip()) for p in raw.split(",")]
            unknown = [p for p in people if p and emulator.user(p) is None]
            if unknown:
                raise ValueError(f"{block_id}: no such person {', '.join(unknown)}")
            raw = ",".join(people)
        values[block_id] = {element["action_id"]: _element_value(element, raw)}
    return values


def submit_form(driver: Driver, user: str, view: dict[str, Any], values: dict) -> list[str]:
    """Submit a form as `user`; return the problems the bot found (empty when it closed)."""
    reply = driver.submit_view(user, view, values)
    answer = reply.json if isinstance(reply.json, dict) else {}
    if answer.get("response_action") == "errors":
        return [f"{field}: {problem}" for field, problem in (answer.get("errors") or {}).items()]
    if reply.status != 200:
        return [f"the bot answered HTTP {reply.status}"]
    return []
