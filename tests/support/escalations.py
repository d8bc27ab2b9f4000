"""Helpers for end-to-end tests of working an escalation: raise, type, click, read back."""

from __future__ import annotations

from typing import Any

from storage.models import Decision, Escalation, Signoff, TimelineEvent
from tests.support.people import REPORTER
from tests.support.world import World


def flatten(payload: dict[str, Any]) -> str:
    """Return every text of a message: its fallback text and each block's text."""
    parts = [payload.get("text") or ""]
    for block in payload.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text.get("text", ""))
        for item in block.get("fields") or []:
            parts.append(item.get("text", ""))
        for element in block.get("elements") or []:
            if element.get("type") in ("mrkdwn", "plain_text"):
                parts.append(element.get("text", ""))
            elif isinstance(element.get("text"), dict):
                parts.append(element["text"].get("text", ""))
    return "\n".join(parts)


def load(world: World, number: int) -> Escalation:
    """Return ESC-<number> as stored, participants loaded."""
    with world.db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        assert esc is not None
        _ = list(esc.participants)
        return esc


def raise_esc(
    world: World, text: str = "SEV2 #ads Counterfeit ads wave", user: str = REPORTER
) -> Escalation:
    """Raise an escalation inline, wait for its channel, return it."""
    with world.db.uow() as uow:
        before = len(uow.repos.escalations.find())
    reply = world.driver.command(user, "/escalate", text)
    assert reply.status == 200
    world.settle()
    esc = load(world, before + 1)
    assert esc.channel_id and esc.card_ts
    return esc


def escalate_form(
    world: World,
    user: str,
    title: str,
    category: str = "other",
    flags: tuple[str, ...] = (),
    **selects: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Open the /escalate form as `user` and fill it in; return (view, values) to submit.

    Selects keep the form's initial options unless named in `selects` (block: value).
    """
    world.driver.command(user, "/escalate", "")
    world.settle()
    view = world.emulator.open_views(user)[-1]
    values: dict[str, Any] = {"title": {"title": title}}
    for block in view["blocks"]:
        initial = block.get("element", {}).get("initial_option")
        if initial:
            values[block["block_id"]] = {block["block_id"]: select(initial["value"])}
    for block, value in {"category": category, **selects}.items():
        values[block] = {block: select(value)}
    values["flags"] = {
        "flags": {
            "type": "checkboxes",
            "selected_options": [
                {"text": {"type": "plain_text", "text": f}, "value": f} for f in flags
            ],
        }
    }
    return view, values


def raise_form(
    world: World, user: str, title: str, category: str = "other", flags: tuple[str, ...] = ()
) -> Escalation:
    """Raise an escalation through the /escalate form (the only way to set its flags)."""
    with world.db.uow() as uow:
        before = len(uow.repos.escalations.find())
    view, values = escalate_form(world, user, title, category, flags)
    world.driver.submit_view(user, view, values)
    world.settle()
    esc = load(world, before + 1)
    assert esc.channel_id and esc.card_ts
    return esc


def select(value: str) -> dict[str, Any]:
    """Return a static_select state value."""
    return {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
    }


def said(world: World, reply: Any, before: int = 0) -> str:
    """Return what the user saw: the ack's text and the replies since `before`."""
    parts = []
    if reply.json and isinstance(reply.json, dict) and reply.json.get("text"):
        parts.append(reply.json["text"])
    elif reply.body and not reply.body.startswith("{"):
        parts.append(reply.body)
    parts += [flatten(r["payload"]) for r in world.emulator.responses[before:]]
    return "\n".join(parts)


def esc(world: World, user: str, text: str, channel: str, command: str = "/esc") -> str:
    """Type `/esc text` (or another command) in a channel; return what the user was told."""
    before = len(world.emulator.responses)
    reply = world.driver.command(user, command, text, channel_id=channel)
    assert reply.status == 200, reply.body
    world.settle()
    return said(world, reply, before)


def click(
    world: World,
    user: str,
    action_id: str,
    value: str,
    channel: str,
    message_ts: str | None = None,
) -> str:
    """Press a button on a channel message; return what the user was told."""
    before = len(world.emulator.responses)
    reply = world.driver.action(
        user, action_id, value, channel_id=channel, message_ts=message_ts or "1.000001"
    )
    assert reply.status == 200, reply.body
    world.settle()
    return said(world, reply, before)


def top_view(world: World, user: str) -> dict[str, Any]:
    """Return the modal the user has open on top."""
    views = world.emulator.open_views(user)
    assert views, f"{user} has no modal open"
    return views[-1]


def submit(world: World, user: str, view: dict[str, Any], values: dict[str, Any]) -> Any:
    """Submit a modal and wait for what follows."""
    reply = world.driver.submit_view(user, view, values)
    assert reply.status == 200, reply.body
    world.settle()
    return reply


def card(world: World, esc_row: Escalation) -> dict[str, Any]:
    """Return the pinned card message as the channel shows it now."""
    for message in world.emulator.messages(esc_row.channel_id or ""):
        if message["ts"] == esc_row.card_ts:
            return message
    raise AssertionError("card not found")


def card_buttons(message: dict[str, Any]) -> list[str]:
    """Return the action IDs of the card's buttons."""
    return [
        e["action_id"]
        for b in message.get("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


def posts(world: World, channel: str) -> list[str]:
    """Return the flattened texts of every message in a channel, oldest first."""
    return [flatten(m) for m in world.emulator.messages(channel)]


def events(world: World, number: int, kind: str | None = None) -> list[TimelineEvent]:
    """Return the escalation's timeline events (of one kind)."""
    with world.db.uow() as uow:
        found = uow.repos.escalations.timeline(number)
    return [e for e in found if kind is None or e.kind == kind]


def decisions(world: World, number: int) -> list[Decision]:
    """Return the escalation's decision log."""
    with world.db.uow() as uow:
        return uow.repos.decisions.chain(number)


def signoffs(world: World, number: int) -> list[Signoff]:
    """Return the escalation's sign-off requests."""
    with world.db.uow() as uow:
        return uow.repos.escalations.signoffs(number)


def set_flags(world: World, number: int, **flags: Any) -> None:
    """Change columns of an escalation directly (for states no command produces)."""
    with world.db.uow() as uow:
        row = uow.repos.escalations.get(number)
        assert row is not None
        for name, value in flags.items():
            setattr(row, name, value)
        uow.commit()
