"""`/esc` and `/decision` listeners: ack, parse, one use case, reply to the invoker alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot import blocks, results
from bot.errors import UsageError
from bot.parsing.esc import EscRequest, help_text, parse_decision, parse_esc
from bot.policy import Act
from bot.results import Where
from bot.services import Services
from bot.usecases import (
    coordination,
    decisions,
    followups,
    lifecycle,
    playbooks,
    reports,
    review,
    roles,
    signoffs,
)
from handlers.replying import Reply, answer, parse_and_ack, request_key

Sub = Callable[[Services, str, Where, EscRequest, str], Reply]


def _text(outcome: results.Outcome) -> Reply:
    return outcome.message, None


def _logged(recorded: decisions.Recorded) -> Reply:
    d = recorded.decision
    if recorded.created:
        return f"Logged decision #{d.seq} in {recorded.esc.ref} (`{d.hash[:10]}`).", None
    return f"Already logged as decision #{d.seq} in {recorded.esc.ref}.", None


def _followup(svc: Services, actor: str, where: Where, req: EscRequest, key: str) -> Reply:
    if req.kind == "done":
        return _text(followups.complete_followup(svc, actor, where, req.item or 0))
    return _text(
        followups.add_followup(
            svc, actor, where, req.kind or "", req.text, owner=req.user, request_key=key
        )
    )


def _group_names(svc: Services) -> dict[str, str]:
    return {gid: group.name for gid, group in svc.config.stakeholders.items()}


def _decisions(svc: Services, actor: str, where: Where) -> Reply:
    esc, entries = decisions.decision_log(svc, actor, where)
    return blocks.decisions_reply(esc, entries)


SUBCOMMANDS: dict[str, Sub] = {
    "ack": lambda svc, actor, where, req, key: _text(lifecycle.acknowledge(svc, actor, where)),
    "sev": lambda svc, actor, where, req, key: _text(
        lifecycle.set_severity(svc, actor, where, req.severity or "")
    ),
    "owner": lambda svc, actor, where, req, key: _text(
        lifecycle.set_owner(svc, actor, where, req.user or "")
    ),
    "update": lambda svc, actor, where, req, key: _text(
        lifecycle.post_update(svc, actor, where, req.text, request_key=key)
    ),
    "invite": lambda svc, actor, where, req, key: _text(
        lifecycle.invite(
            svc,
            actor,
            where,
            users=req.users,
            groups=req.groups,
            usergroups=req.usergroups,
            request_key=key,
        )
    ),
    "signoff": lambda svc, actor, where, req, key: _text(
        signoffs.request_signoff(svc, actor, where, req.group or "", req.text, request_key=key)
    ),
    "decision": lambda svc, actor, where, req, key: _logged(
        decisions.record_decision(svc, actor, where, req.decision, request_key=key)  # type: ignore[arg-type]
    ),
    "followup": _followup,
    "resolve": lambda svc, actor, where, req, key: _text(
        playbooks.force_resolve(svc, actor, where, req.text)
        if req.force
        else lifecycle.resolve(svc, actor, where, req.text)
    ),
    "checklist": lambda svc, actor, where, req, key: blocks.checklist_reply(
        playbooks.checklist(svc, actor, where), _group_names(svc)
    ),
    "review": lambda svc, actor, where, req, key: _text(
        review.post_review(svc, actor, where, request_key=key)
    ),
    "done": lambda svc, actor, where, req, key: _text(
        playbooks.tick(svc, actor, where, req.step or "", request_key=key)
    ),
    "role": lambda svc, actor, where, req, key: _text(
        roles.assign_role(svc, actor, where, req.role or "", req.user or "", request_key=key)
    ),
    "roles": lambda svc, actor, where, req, key: blocks.roles_reply(
        roles.roles(svc, actor, where), svc.config
    ),
    "reopen": lambda svc, actor, where, req, key: _text(lifecycle.reopen(svc, actor, where)),
    "status": lambda svc, actor, where, req, key: blocks.status_reply(
        lifecycle.status(svc, actor, where)
    ),
    "timeline": lambda svc, actor, where, req, key: blocks.timeline_reply(
        lifecycle.timeline(svc, actor, where)
    ),
    "decisions": lambda svc, actor, where, req, key: _decisions(svc, actor, where),
    "list": lambda svc, actor, where, req, key: blocks.listing_reply(
        lifecycle.list_escalations(svc, actor, req.scope)
    ),
    "stats": lambda svc, actor, where, req, key: blocks.stats_reply(
        reports.stats(svc, actor, req.days)
    ),
    "duplicate": lambda svc, actor, where, req, key: _text(
        coordination.duplicate(svc, actor, where, req.item or 0, request_key=key)
    ),
    "link": lambda svc, actor, where, req, key: _text(
        coordination.link(svc, actor, where, req.item or 0, request_key=key)
    ),
    "flag": lambda svc, actor, where, req, key: _text(coordination.flag_graphic(svc, actor, where)),
}
# Subcommands that, given no text, open a form instead.
FORMS = {
    "decision": (Act.DECISION, blocks.decision_modal),
    "resolve": (Act.RESOLVE, blocks.resolve_modal),
}


def _open_form(svc: Services, actor: str, where: Where, trigger_id: str, sub: str) -> None:
    act, form = FORMS[sub]
    esc = lifecycle.check_visible(svc, actor, where, act)
    svc.slack.open_view(trigger_id, form(esc))


def handle_esc_command(svc: Services, ack: Ack, command: dict[str, Any]) -> None:
    """`/esc [ESC-n] <subcommand> …`: act on this channel's escalation (or the named one)."""
    request = parse_and_ack(
        ack, lambda: parse_esc(command.get("text") or "", svc.config), help_text
    )
    if request is None:
        return
    actor = command["user_id"]
    where = Where(request.number, command.get("channel_id"))
    if request.sub in FORMS and not (request.decision or request.text):
        answer(
            svc,
            command.get("response_url"),
            lambda: _open_form(svc, actor, where, command["trigger_id"], request.sub),
        )
        return
    key = request_key(command)
    answer(
        svc,
        command.get("response_url"),
        lambda: SUBCOMMANDS[request.sub](svc, actor, where, request, key),
    )


def handle_decision_command(svc: Services, ack: Ack, command: dict[str, Any]) -> None:
    """`/decision [supersedes #N] <text>`: log it here; with no text, open the form."""
    text = (command.get("text") or "").strip()
    actor = command["user_id"]
    where = Where(None, command.get("channel_id"))
    if not text:
        ack()
        answer(
            svc,
            command.get("response_url"),
            lambda: _open_form(svc, actor, where, command["trigger_id"], "decision"),
        )
        return
    try:
        draft = parse_decision(text)
    except UsageError as exc:
        ack(str(exc))
        return
    ack()
    key = request_key(command)
    answer(
        svc,
        command.get("response_url"),
        lambda: _logged(decisions.record_decision(svc, actor, where, draft, request_key=key)),
    )


def register(app: App, svc: Services) -> None:
    """Register the `/esc` and `/decision` listeners."""
    app.command("/esc")(lambda ack, command: handle_esc_command(svc, ack, command))
    app.command("/decision")(lambda ack, command: handle_decision_command(svc, ack, command))
