"""`/oncall` listener: ack, parse, one use case, reply to the invoker alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot import blocks
from bot.parsing.oncall import (
    GAPS_DAYS,
    ME_DAYS,
    SCHEDULE_DAYS,
    OnCallRequest,
    help_text,
    parse_oncall,
)
from bot.services import Services
from bot.usecases import oncall
from handlers.replying import Reply, answer, parse_and_ack, request_key

Sub = Callable[[Services, str, OnCallRequest, str], Reply]


def _removed(svc: Services, actor: str, request: OnCallRequest) -> Reply:
    row = oncall.remove_override(svc, actor, request.override_id or 0)
    return blocks.override_removed_text(row.id, row.rotation, row.user_id), None


SUBCOMMANDS: dict[str, Sub] = {
    "now": lambda svc, actor, req, key: blocks.oncall_now_reply(
        oncall.who_is_on_call(svc, actor, req.rotation)
    ),
    "schedule": lambda svc, actor, req, key: blocks.oncall_schedule_reply(
        oncall.schedule(svc, actor, req.rotation, req.days or SCHEDULE_DAYS)
    ),
    "me": lambda svc, actor, req, key: blocks.my_shifts_reply(
        oncall.my_shifts(svc, actor, req.days or ME_DAYS)
    ),
    "override": lambda svc, actor, req, key: blocks.override_made_reply(
        oncall.create_override(svc, actor, req, request_key=key)
    ),
    "overrides": lambda svc, actor, req, key: blocks.overrides_reply(
        oncall.list_overrides(svc, actor, req.rotation)
    ),
    "remove": lambda svc, actor, req, key: _removed(svc, actor, req),
    "gaps": lambda svc, actor, req, key: blocks.oncall_gaps_reply(
        oncall.coverage_gaps(svc, actor, req.days or GAPS_DAYS, req.rotation)
    ),
}


def handle_oncall_command(svc: Services, ack: Ack, command: dict[str, Any]) -> None:
    """`/oncall [rotation] | schedule | me | override | overrides | gaps | help`."""
    request = parse_and_ack(
        ack, lambda: parse_oncall(command.get("text") or "", list(svc.oncall.rotations)), help_text
    )
    if request is None:
        return
    actor = command["user_id"]
    key = request_key(command)
    answer(
        svc,
        command.get("response_url"),
        lambda: SUBCOMMANDS[request.sub](svc, actor, request, key),
    )


def register(app: App, svc: Services) -> None:
    """Register the `/oncall` listener."""
    app.command("/oncall")(lambda ack, command: handle_oncall_command(svc, ack, command))
