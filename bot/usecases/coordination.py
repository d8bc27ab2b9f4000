"""Coordinating escalations: flags set after raising."""

from __future__ import annotations

from bot.policy import Act
from bot.results import Outcome, Where
from bot.services import Services
from bot.usecases.lifecycle import finish, locate, record_event


def flag_graphic(svc: Services, actor: str, where: Where) -> Outcome:
    """Mark the escalation graphic: its card and every message after carry the warning."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.FLAG, lock=True)
        if esc.graphic:
            return Outcome(esc, False, f"{esc.ref} is already flagged graphic.")
        esc.graphic = True
        event = record_event(uow, esc, now, "flagged_graphic", actor)
        note = f":warning: <@{actor}> flagged {esc.ref} as graphic."
        finish(svc, uow, esc, event, note)
        return Outcome(esc, True, f"Flagged {esc.ref} graphic: a content warning from now on.")
