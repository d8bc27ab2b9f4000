"""Roles on an escalation (`roles:` in the config): `/esc role <role> <@user>` and `/esc roles`.

Assigning a role is a timeline event, once per request; the holder is invited to the channel
when not in it. A role its severity requires reminds the owner while nobody holds it (see
`bot.pings.plan.due_role_reminders`).
"""

from __future__ import annotations

from bot.errors import UserError
from bot.kinds import STATUS_RESOLVED
from bot.policy import Act
from bot.results import Outcome, Roles, Where
from bot.services import Services
from bot.text import escape
from bot.usecases import staging as effects
from bot.usecases.lifecycle import add_participant, finish, locate, record_event


def assign_role(
    svc: Services, actor: str, where: Where, role: str, user: str, *, request_key: str
) -> Outcome:
    """Make `user` the holder of `role` on the escalation; the same holder again is a reply."""
    config = svc.config.roles.get(role)
    if config is None:
        known = ", ".join(f"`{r}`" for r in svc.config.roles) or "none configured"
        raise UserError(f"Unknown role `{escape(role)}` (roles: {known}).")
    name = escape(config.name)
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.ASSIGN_ROLE, lock=True)
        if esc.status == STATUS_RESOLVED:
            return Outcome(esc, False, f"{esc.ref} is resolved; `/esc reopen` it first.")
        held = uow.repos.escalations.roles(esc.id).get(role)
        if held is not None and held.user_id == user:
            return Outcome(esc, False, f"<@{user}> is already the {name} of {esc.ref}.")
        if not uow.repos.requests.claim(request_key, "role", now, escalation=esc.id):
            return Outcome(esc, False, f"<@{user}> is the {name} of {esc.ref}.")
        _, before = uow.repos.escalations.set_role(esc.id, role, user, actor, now)
        uow.reschedules()  # a required role filled: its reminders stop
        event = record_event(
            uow, esc, now, "role_assigned", actor, role=role, user=user, before=before
        )
        keys: list[str] = []
        if add_participant(uow, esc, user, "invitee", now):
            keys.append(
                effects.queue_invite(uow, esc, f"invite:{esc.id}:{event.id}", now, [user], {})
            )
        was = f" (was <@{before}>)" if before else ""
        note = f":busts_in_silhouette: <@{actor}> made <@{user}> the {name} of {esc.ref}{was}."
        finish(svc, uow, esc, event, note, extra=keys)
        return Outcome(esc, True, f"<@{user}> is now the {name} of {esc.ref}.")


def roles(svc: Services, actor: str, where: Where) -> Roles:
    """Return the configured roles of the escalation and who holds each."""
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.SEE)
        held = uow.repos.escalations.roles(esc.id)
        return Roles(
            esc,
            {r: h.user_id for r, h in held.items()},
            svc.config.required_roles(esc.severity),
        )
