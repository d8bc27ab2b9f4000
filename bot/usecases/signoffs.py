"""Sign-off requests: a stakeholder group is asked to approve or reject; one member answers,
and the answer goes into the decision log."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import UserError
from bot.parsing.esc import DecisionDraft
from bot.policy import Act
from bot.results import Outcome, Where
from bot.services import Services
from bot.text import escape
from bot.usecases import staging as effects
from bot.usecases.decisions import append
from bot.usecases.lifecycle import add_participant, locate
from bot.usecases.playbooks import tick_signed
from storage.models import Signoff

OUTCOMES = {True: "approved", False: "rejected"}


@dataclass
class Answered:
    """What answering did: the sign-off after it, and whether this answer counted."""

    signoff: Signoff
    changed: bool
    message: str


def request_signoff(
    svc: Services, actor: str, where: Where, group: str, question: str, *, request_key: str
) -> Outcome:
    """Ask a stakeholder group to sign off; its members are invited if they are not in."""
    stakeholder = svc.config.stakeholders.get(group)
    if stakeholder is None:
        raise UserError(f"Unknown group `{escape(group)}`.")
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.SIGNOFF_REQUEST, lock=True)
        if not uow.repos.requests.claim(request_key, "signoff", now, escalation=esc.id):
            return Outcome(esc, False, "That sign-off request is already posted.")
        if esc.status == "resolved":
            raise UserError(f"{esc.ref} is resolved; `/esc reopen` it first.")
        uow.reschedules()
        signoff = uow.repos.escalations.add_signoff(
            Signoff(
                escalation_id=esc.id,
                group=group,
                question=question,
                requested_by=actor,
                requested_at=now,
                status="pending",
            )
        )
        event = uow.repos.escalations.add_event(
            esc.id,
            now,
            "signoff_requested",
            actor,
            signoff=signoff.id,
            group=group,
            question=question,
        )
        keys = [effects.queue_signoff(uow, signoff, now, "asked")]
        target = svc.oncall.target(uow.repos.overrides, f"group:{group}", now)
        fresh = [u for u in target.users if add_participant(uow, esc, u, "stakeholder", now, group)]
        usergroups: dict[str, str | None] = dict.fromkeys(target.usergroups, group)
        if fresh or usergroups:
            keys.append(
                effects.queue_invite(
                    uow,
                    esc,
                    f"invite:{esc.id}:signoff:{signoff.id}",
                    now,
                    fresh,
                    usergroups,
                    actor=actor,
                )
            )
        keys.append(effects.queue_card(uow, esc, event, now))
        uow.commit()
    effects.submit(svc, keys)
    return Outcome(esc, True, f"Asked {escape(stakeholder.name)} to sign off in {esc.ref}.")


def answer_signoff(
    svc: Services, actor: str, signoff_id: int, approve: bool, channel_id: str | None = None
) -> Answered:
    """Record a group member's answer once, as a decision entry; refuse anyone else."""
    with svc.db.uow() as uow:
        found = uow.repos.escalations.signoff(signoff_id)
        if found is None:
            raise UserError("That sign-off request no longer exists.")
        group = found.group
    name = escape(
        svc.config.stakeholders[group].name if group in svc.config.stakeholders else group
    )
    now = svc.clock()
    with svc.db.uow() as uow:
        stakeholder = svc.config.stakeholders.get(group)
        on_call = (
            svc.oncall.user_at(uow.repos.overrides, stakeholder.rotation, now)
            if stakeholder is not None and stakeholder.rotation
            else None
        )
        esc = locate(
            svc,
            uow,
            Where(found.escalation_id, channel_id),
            actor,
            Act.SIGNOFF_ANSWER,
            lock=True,
            group=group,
            on_call=on_call,
        )
        signoff = uow.repos.escalations.signoff(signoff_id)
        assert signoff is not None
        if signoff.status != "pending":
            who = f" by <@{signoff.answered_by}>" if signoff.answered_by else ""
            return Answered(
                signoff, False, f"This sign-off was already {signoff.status}{who}. Nothing changed."
            )
        outcome = OUTCOMES[approve]
        signoff.status, signoff.answered_by, signoff.answered_at = outcome, actor, now
        uow.reschedules()
        label = svc.config.stakeholders[group].name if group in svc.config.stakeholders else group
        text = f"{label} {outcome}" + (f": {signoff.question}" if signoff.question else "")
        decision, keys = append(
            uow,
            esc,
            DecisionDraft(text=text, consulted=[signoff.requested_by]),
            actor,
            now,
            request_key=f"signoff:{signoff.id}",
        )
        uow.repos.escalations.add_event(
            esc.id,
            now,
            "signoff_answered",
            actor,
            signoff=signoff.id,
            group=group,
            outcome=outcome,
            decision=decision.seq,
        )
        if approve:
            tick_signed(uow, esc, group, signoff.id, actor, now)
        keys.insert(0, effects.queue_signoff(uow, signoff, now, "answered"))
        uow.commit()
    effects.submit(svc, keys)
    return Answered(signoff, True, f"Recorded: {name} {outcome} (decision #{decision.seq}).")
