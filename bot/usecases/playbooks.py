"""Playbooks: the checklist an escalation got at creation, ticking its steps, and resolving
over open required steps (team members only, logged as a decision)."""

from __future__ import annotations

from datetime import datetime

from bot.errors import UserError
from bot.parsing.esc import DecisionDraft
from bot.policy import Act
from bot.results import Checklist, Outcome, Where
from bot.services import Services
from bot.text import escape, truncate
from bot.usecases import staging as effects
from bot.usecases.decisions import append
from bot.usecases.lifecycle import close, locate, mark_response
from storage.db import UnitOfWork
from storage.models import ChecklistStep, Escalation


def _group_name(svc: Services, group: str) -> str:
    found = svc.config.stakeholders.get(group)
    return found.name if found else group


def checklist(svc: Services, actor: str, where: Where) -> Checklist:
    """Return the escalation's checklist."""
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor)
        return Checklist(esc, uow.repos.escalations.checklist(esc.id))


def _progress(steps: list[ChecklistStep]) -> str:
    return f"{sum(1 for s in steps if s.done_at)}/{len(steps)} done"


def tick(svc: Services, actor: str, where: Where, step_id: str, *, request_key: str) -> Outcome:
    """Tick one checklist step once; a sign-off step is ticked by its group's approval."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.TICK, lock=True)
        steps = uow.repos.escalations.checklist(esc.id)
        if not steps:
            raise UserError(f"{esc.ref} has no checklist: no playbook matched it.")
        found = next((s for s in steps if s.step_id == step_id.lower()), None)
        if found is None:
            known = ", ".join(f"`{escape(s.step_id)}`" for s in steps)
            raise UserError(
                f"{esc.ref} has no step `{escape(truncate(step_id, 60))}`. Its steps: {known}."
            )
        if found.done_at is not None:
            who = f" by <@{found.done_by}>" if found.done_by else ""
            return Outcome(esc, False, f"Step `{found.step_id}` is already done{who}.")
        if found.signoff:
            name = escape(_group_name(svc, found.signoff))
            raise UserError(
                f"Step `{found.step_id}` is done when {name} approves: ask with "
                f"`/esc signoff {found.signoff}`."
            )
        if esc.status == "resolved":
            raise UserError(f"{esc.ref} is resolved; `/esc reopen` it first.")
        if not uow.repos.requests.claim(request_key, "done", now, escalation=esc.id):
            return Outcome(esc, False, f"Step `{found.step_id}` is already done.")
        found.done_at, found.done_by = now, actor
        mark_response(esc, actor, now)
        event = uow.repos.escalations.add_event(
            esc.id, now, "step_done", actor, step=found.step_id, text=found.text
        )
        uow.flush()
        note = (
            f":ballot_box_with_check: <@{actor}> ticked `{found.step_id}`: "
            f"{escape(found.text)} ({_progress(steps)})"
        )
        keys = [
            effects.queue_card(uow, esc, event, now),
            effects.queue_post(uow, esc, f"post:{esc.id}:{event.id}", now, note),
        ]
        uow.commit()
        effects.submit(svc, keys)
        return Outcome(esc, True, f"Ticked `{found.step_id}` in {esc.ref} ({_progress(steps)}).")


def tick_signed(
    uow: UnitOfWork, esc: Escalation, group: str, signoff_id: int, actor: str, now: datetime
) -> list[str]:
    """Tick the open steps that wait on this group's approval; return the step IDs ticked."""
    ticked = []
    for step in uow.repos.escalations.checklist(esc.id):
        if step.signoff == group and step.done_at is None:
            step.done_at, step.done_by, step.done_signoff = now, actor, signoff_id
            uow.repos.escalations.add_event(
                esc.id,
                now,
                "step_done",
                actor,
                step=step.step_id,
                text=step.text,
                signoff=signoff_id,
            )
            ticked.append(step.step_id)
    return ticked


def force_resolve(svc: Services, actor: str, where: Where, reason: str) -> Outcome:
    """Resolve over open required steps (team members only), logged as a decision."""
    reason = reason.strip()
    if not reason:
        raise UserError("Say why: `/esc resolve --force <reason>`.")
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.RESOLVE, lock=True)
        svc.policy.check(actor, Act.FORCE_RESOLVE, esc, where.channel_id)
        if esc.status == "resolved":
            return Outcome(esc, False, f"{esc.ref} is already resolved.")
        waiting = uow.repos.escalations.open_required(esc.id)
        keys: list[str] = []
        if waiting:
            names = ", ".join(s.step_id for s in waiting)
            draft = DecisionDraft(
                text=f"Resolved with required checklist steps open: {names}", rationale=reason
            )
            _, keys = append(uow, esc, draft, actor, now)
        return close(
            svc, uow, esc, actor, now, reason, extra=keys, forced=[s.step_id for s in waiting]
        )
