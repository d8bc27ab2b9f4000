"""*Escalate now*: a responder pages the next step of the escalation policy at once."""

from __future__ import annotations

from bot.errors import UserError
from bot.kinds import PAGE, SENT
from bot.pings.plan import Due, _step_label, _still_paging, seconds
from bot.pings.stage import claim
from bot.policy import Act
from bot.results import Where
from bot.services import Services
from bot.usecases.lifecycle import locate


def escalate_now(svc: Services, actor: str, number: int, round_: int, step: int) -> str:
    """Page the step after (round_, step) at once, for a responder pressing *Escalate now*.

    The page is the one the schedule would send later, claimed in the ledger under its own
    key, so a double click, a retry or the schedule catching up sends it once.
    """
    policy = svc.config.escalation_policy
    steps = len(policy.steps)
    total = steps * (policy.repeat + 1)
    if not (0 <= step < steps and 0 <= round_ <= policy.repeat):
        raise UserError("That button is out of date.")
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, Where(number), actor, Act.ESCALATE_NOW)
        ref, paging = esc.ref, _still_paging(esc)
        pressed = uow.repos.ledger.status(f"{PAGE}:{number}:{round_}:{step}")
    if pressed != SENT:  # a page that never went out has no button to press
        raise UserError("That button is out of date.")
    if not paging:
        return f"{ref} is no longer paging: it was acknowledged."
    index = round_ * steps + step + 1
    if index >= total:
        return f"{ref} has paged every step of the escalation policy."
    nxt_round, nxt_step = divmod(index, steps)
    key = f"{PAGE}:{number}:{nxt_round}:{nxt_step}"
    due = Due(key, PAGE, seconds(now), True, number, number, {"round": nxt_round, "step": nxt_step})
    claimed = claim(svc, [due], now)
    with svc.db.uow() as uow:
        if claimed.sent:
            uow.repos.escalations.add_event(
                number, now, "escalated_now", actor, round=nxt_round, step=nxt_step
            )
            uow.commit()
    for item in claimed.outbox:
        svc.outbox.submit(item)
    label = _step_label(nxt_step, nxt_round)
    if claimed.sent:
        return f"Paging {label} of {ref} now."
    return f"{label.capitalize()} of {ref} was already paged."
