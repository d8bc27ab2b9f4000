"""Follow-ups: action items an escalation leaves behind, reported in trends."""

from __future__ import annotations

from bot.errors import UserError
from bot.parsing.esc import FOLLOWUP_KINDS
from bot.policy import Act
from bot.results import Outcome, Where
from bot.services import Services
from bot.text import escape
from bot.usecases import staging as effects
from bot.usecases.lifecycle import locate
from storage.models import Followup


def add_followup(
    svc: Services,
    actor: str,
    where: Where,
    kind: str,
    text: str,
    *,
    owner: str | None = None,
    request_key: str,
) -> Outcome:
    """Record a follow-up (owner: the invoker unless named)."""
    if kind not in FOLLOWUP_KINDS:
        raise UserError(f"Unknown follow-up kind `{escape(kind)}`.")
    if not text.strip():
        raise UserError("A follow-up needs a description.")
    owner = owner or actor
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.FOLLOWUP, lock=True)
        if not uow.repos.requests.claim(request_key, "followup", now, escalation=esc.id):
            return Outcome(esc, False, "That follow-up is already recorded.")
        item = uow.repos.escalations.add_followup(
            Followup(
                escalation_id=esc.id,
                kind=kind,
                text=text.strip(),
                owner=owner,
                status="open",
                created_by=actor,
                created_at=now,
            )
        )
        event = uow.repos.escalations.add_event(
            esc.id, now, "followup_added", actor, followup=item.id, followup_kind=kind, owner=owner
        )
        uow.flush()
        note = f":pushpin: Follow-up #{item.id} ({kind}) for <@{owner}>: {escape(item.text)}"
        keys = [
            effects.queue_post(uow, esc, f"post:{esc.id}:{event.id}", now, note),
            effects.queue_card(uow, esc, event, now),
        ]
        uow.commit()
    effects.submit(svc, keys)
    return Outcome(esc, True, f"Follow-up #{item.id} recorded for <@{owner}>.")


def complete_followup(svc: Services, actor: str, where: Where, followup_id: int) -> Outcome:
    """Mark a follow-up of this escalation done; twice is a no-op."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.FOLLOWUP, lock=True)
        item = uow.repos.escalations.followup(followup_id)
        if item is None or item.escalation_id != esc.id:
            raise UserError(f"{esc.ref} has no follow-up #{followup_id}.")
        if item.status == "done":
            return Outcome(esc, False, f"Follow-up #{item.id} is already done.")
        item.status, item.done_at = "done", now
        event = uow.repos.escalations.add_event(
            esc.id, now, "followup_done", actor, followup=item.id
        )
        keys = [effects.queue_card(uow, esc, event, now)]
        uow.commit()
    effects.submit(svc, keys)
    return Outcome(esc, True, f"Follow-up #{followup_id} done.")
