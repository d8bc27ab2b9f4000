"""Working an escalation: acknowledge, severity, owner, updates, invites, resolve, reopen,
and what `/esc status`, `timeline` and `list` show.

Every change locks the escalation row, records a timeline event and queues its Slack side
effects in the same transaction; a change that would do nothing (a second click) is a reply,
not a second event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.errors import UserError
from bot.kinds import OPEN
from bot.policy import Act, hidden, insiders
from bot.results import Listing, Outcome, Related, Status, Timeline, Where
from bot.routing import Facets, routed_groups
from bot.services import Services
from bot.text import escape
from bot.usecases import staging as effects
from storage.db import UnitOfWork
from storage.models import Escalation, Participant, TimelineEvent

LIST_LIMIT = 50


# -- which escalation, if the actor may ----------------------------------------------------


def locate(
    svc: Services,
    uow: UnitOfWork,
    where: Where,
    actor: str,
    act: Act = Act.SEE,
    *,
    lock: bool = False,
    group: str | None = None,
    on_call: str | None = None,
) -> Escalation:
    """Return the escalation meant if the policy lets the actor `act` on it; lock it if asked."""
    if where.number is not None:
        if not 0 < where.number < 2**31:  # no such escalation, nor a row a database could hold
            raise hidden(where.number)
        esc = uow.repos.escalations.get(where.number)
    elif where.channel_id:
        esc = uow.repos.escalations.by_channel(where.channel_id)
    else:
        raise UserError("Name an escalation: `/esc ESC-12 status`.")
    if esc is None:
        raise hidden(where.number)
    svc.policy.check(
        actor, act, esc, where.channel_id, group=group, on_call=on_call, number=where.number
    )
    if lock:
        locked = uow.repos.escalations.lock(esc.id)
        assert locked is not None
        esc = locked
    return esc


def left_channel(svc: Services, channel_id: str, user: str, *, left: bool) -> None:
    """Record that someone left (or joined again) an escalation's channel, as Slack said."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = uow.repos.escalations.by_channel(channel_id)
        if esc is None:
            return
        found = [p for p in esc.participants if p.user_id == user]
        if left and found and found[0].left_at is None:
            found[0].left_at = now
            uow.repos.escalations.add_event(esc.id, now, "left_channel", user)
        elif not left and found and found[0].left_at is not None:
            found[0].left_at = None
            uow.repos.escalations.add_event(esc.id, now, "joined_channel", user)
        elif not left and not found:
            esc.participants.append(
                Participant(
                    escalation_id=esc.id, user_id=user, role="invitee", added_at=now, invited_at=now
                )
            )
            uow.repos.escalations.add_event(esc.id, now, "joined_channel", user)
        elif left and not found and user in (esc.reporter, esc.owner):
            esc.participants.append(
                Participant(
                    escalation_id=esc.id, user_id=user, role="reporter", added_at=now, left_at=now
                )
            )
            uow.repos.escalations.add_event(esc.id, now, "left_channel", user)
        uow.commit()


def involves(esc: Escalation, user: str) -> bool:
    """Return True when the user owns, reported or takes part in the escalation."""
    return user in insiders(esc)


def add_participant(
    uow: UnitOfWork, esc: Escalation, user: str, role: str, now: datetime, group: str | None = None
) -> bool:
    """Add the user to the escalation's people unless already there; return True if added."""
    for participant in esc.participants:
        if participant.user_id == user:
            if participant.invite_error or participant.left_at:
                participant.invite_error = None  # asked again: try again
                participant.left_at = None
                participant.invited_at = None
                return True
            return False
    esc.participants.append(
        Participant(escalation_id=esc.id, user_id=user, role=role, group=group, added_at=now)
    )
    return True


def mark_response(esc: Escalation, actor: str, now: datetime) -> None:
    """Record the first response from anyone but the reporter, once."""
    if esc.first_response_at is None and actor != esc.reporter:
        esc.first_response_at = now


def record_event(
    uow: UnitOfWork, esc: Escalation, now: datetime, kind: str, actor: str, **detail: object
) -> TimelineEvent:
    """Append a timeline event and give it its ID."""
    event = uow.repos.escalations.add_event(esc.id, now, kind, actor, **detail)
    uow.flush()
    return event


def finish(
    svc: Services,
    uow: UnitOfWork,
    esc: Escalation,
    event: TimelineEvent,
    note: str,
    *,
    extra: Sequence[str] = (),
) -> None:
    """Queue the card re-render and the channel note of `event`, commit, then run them."""
    keys = [
        effects.queue_card(uow, esc, event, event.at),
        *extra,
        effects.queue_post(uow, esc, f"post:{esc.id}:{event.id}", event.at, note),
    ]
    uow.commit()
    effects.submit(svc, keys)


# -- changes ----------------------------------------------------------------------------------


def acknowledge(svc: Services, actor: str, where: Where) -> Outcome:
    """Acknowledge: stops paging, starts the clock on the owner; a second ack is a no-op."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.ACKNOWLEDGE, lock=True)
        if esc.status == "acknowledged":
            who = f" by <@{esc.acknowledged_by}>" if esc.acknowledged_by else ""
            return Outcome(esc, False, f"{esc.ref} is already acknowledged{who}.")
        if esc.status == "resolved":
            return Outcome(esc, False, f"{esc.ref} is resolved; `/esc reopen` it first.")
        esc.status = "acknowledged"
        uow.reschedules()
        if esc.acknowledged_at is None:
            esc.acknowledged_at, esc.acknowledged_by = now, actor
        keys: list[str] = []
        took = esc.owner is None or esc.owner == esc.reporter
        if took and esc.owner != actor:
            esc.owner = actor
        if add_participant(uow, esc, actor, "owner" if took else "responder", now):
            keys.append(
                effects.queue_invite(uow, esc, f"invite:{esc.id}:ack:{actor}", now, [actor], {})
            )
        event = record_event(uow, esc, now, "acknowledged", actor, owner=esc.owner)
        note = f":white_check_mark: <@{actor}> acknowledged {esc.ref}."
        if took:
            note += f" Owner: <@{esc.owner}>."
        finish(svc, uow, esc, event, note, extra=keys)
        return Outcome(esc, True, f"Acknowledged {esc.ref}. Owner: <@{esc.owner}>.")


def set_severity(svc: Services, actor: str, where: Where, severity: str) -> Outcome:
    """Change severity; unacknowledged, the SLA follows; newly routed groups are invited."""
    try:
        level = svc.config.severity(severity)
    except KeyError:
        raise UserError(
            f"Unknown severity `{escape(severity)}`: use one of "
            f"{', '.join(svc.config.severity_ids)}."
        ) from None
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.SEVERITY, lock=True)
        if esc.severity == severity:
            return Outcome(esc, False, f"{esc.ref} is already {severity}.")
        before = esc.severity
        facets = Facets(esc.category, esc.policy_area, before, esc.region, tuple(esc.surfaces))
        old_groups = set(routed_groups(svc.config, facets))
        esc.severity = severity
        uow.reschedules()
        if esc.acknowledged_at is None:
            esc.ack_deadline = esc.created_at + level.ack_within
        new_groups = [
            g
            for g in routed_groups(
                svc.config,
                Facets(esc.category, esc.policy_area, severity, esc.region, tuple(esc.surfaces)),
            )
            if g not in old_groups
        ]
        event = record_event(
            uow,
            esc,
            now,
            "severity_changed",
            actor,
            before=before,
            after=severity,
            groups=new_groups,
        )
        keys: list[str] = []
        if new_groups:
            keys.append(_invite_groups(svc, uow, esc, new_groups, now, actor, f"sev:{event.id}"))
        note = f":rotating_light: <@{actor}> changed severity {before} → *{severity}*."
        finish(svc, uow, esc, event, note, extra=keys)
        return Outcome(esc, True, f"{esc.ref} is now {severity}.")


def _invite_groups(
    svc: Services,
    uow: UnitOfWork,
    esc: Escalation,
    groups: Sequence[str],
    now: datetime,
    actor: str,
    tag: str,
    users: Sequence[str] = (),
    usergroups: Sequence[str] = (),
) -> str:
    direct = list(users)
    for user in users:
        add_participant(uow, esc, user, "invitee", now)
    expand: dict[str, str | None] = dict.fromkeys(usergroups)
    for group in groups:
        target = svc.oncall.target(uow.repos.overrides, f"group:{group}", now)
        for user in target.users:
            add_participant(uow, esc, user, "stakeholder", now, group)
            direct.append(user)
        for usergroup in target.usergroups:
            expand.setdefault(usergroup, group)
    return effects.queue_invite(
        uow, esc, f"invite:{esc.id}:{tag}", now, direct, expand, actor=actor, named=users
    )


def set_owner(
    svc: Services, actor: str, where: Where, owner: str, *, take: bool = False
) -> Outcome:
    """Hand the escalation to `owner`, or (`take`) to the responder asking for it."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.TAKE if take else Act.ASSIGN, lock=True)
        if esc.status == "resolved":
            return Outcome(esc, False, f"{esc.ref} is resolved; `/esc reopen` it first.")
        if esc.owner == owner:
            return Outcome(esc, False, f"<@{owner}> already owns {esc.ref}.")
        before = esc.owner
        esc.owner = owner
        event = record_event(
            uow, esc, now, "owner_changed", actor, before=before, after=owner, taken=take
        )
        keys: list[str] = []
        if add_participant(uow, esc, owner, "owner", now):
            keys.append(
                effects.queue_invite(uow, esc, f"invite:{esc.id}:{event.id}", now, [owner], {})
            )
        note = (
            f":raising_hand: <@{actor}> took ownership of {esc.ref}."
            if take
            else f":bust_in_silhouette: <@{actor}> made <@{owner}> the owner of {esc.ref}."
        )
        finish(svc, uow, esc, event, note, extra=keys)
        return Outcome(esc, True, f"<@{owner}> now owns {esc.ref}.")


def post_update(svc: Services, actor: str, where: Where, text: str, request_key: str) -> Outcome:
    """Post and store a status update; the first from anyone but the reporter is a response."""
    if not text.strip():
        raise UserError("An update needs its text.")
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.UPDATE, lock=True)
        if not uow.repos.requests.claim(request_key, "update", now, escalation=esc.id):
            return Outcome(esc, False, "That update is already posted.")
        esc.last_update_at = now
        uow.reschedules()
        mark_response(esc, actor, now)
        event = record_event(uow, esc, now, "update", actor, text=text)
        extra = []
        if svc.config.briefs_updates(esc.severity):
            extra.append(effects.queue_update_brief(uow, esc, event))
        note = f":memo: *Update* from <@{actor}>: {escape(text)}"
        finish(svc, uow, esc, event, note, extra=extra)
        return Outcome(esc, True, f"Update posted in {esc.ref}.")


def invite(
    svc: Services,
    actor: str,
    where: Where,
    *,
    users: Sequence[str] = (),
    groups: Sequence[str] = (),
    usergroups: Sequence[str] = (),
    request_key: str,
) -> Outcome:
    """Invite people, stakeholder groups and Slack user groups, in one batched call."""
    unknown = [g for g in groups if g not in svc.config.stakeholders]
    if unknown:
        raise UserError(f"Unknown group `{escape(unknown[0])}`.")
    if not (users or groups or usergroups):
        raise UserError("Name someone to invite.")
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.INVITE, lock=True)
        if not uow.repos.requests.claim(request_key, "invite", now, escalation=esc.id):
            return Outcome(esc, False, "Those invites are already on their way.")
        event = record_event(
            uow,
            esc,
            now,
            "invite_requested",
            actor,
            users=list(users),
            groups=list(groups),
            usergroups=list(usergroups),
        )
        key = _invite_groups(
            svc, uow, esc, groups, now, actor, str(event.id), users=users, usergroups=usergroups
        )
        uow.commit()
        effects.submit(svc, [key])
        names = [f"<@{u}>" for u in users]
        names += [escape(svc.config.stakeholders[g].name) for g in groups]
        names += [f"<!subteam^{g}>" for g in usergroups]
        return Outcome(esc, True, f"Inviting {', '.join(names)} to {esc.ref}.")


def resolve(svc: Services, actor: str, where: Where, summary: str) -> Outcome:
    """Resolve with a summary; resolving twice is a no-op."""
    summary = summary.strip()
    if not summary:
        raise UserError("Say how it was resolved: `/esc resolve <summary>`.")
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.RESOLVE, lock=True)
        if esc.status == "resolved":
            return Outcome(esc, False, f"{esc.ref} is already resolved.")
        waiting = uow.repos.escalations.open_required(esc.id)
        if waiting:
            names = ", ".join(f"`{escape(s.step_id)}` ({escape(s.text)})" for s in waiting)
            raise UserError(
                f"{esc.ref} cannot be resolved yet: required checklist steps are open: {names}. "
                "Tick them with `/esc done <step>`; a team member may "
                "`/esc resolve --force <reason>`."
            )
        return close(svc, uow, esc, actor, now, summary)


def close(
    svc: Services,
    uow: UnitOfWork,
    esc: Escalation,
    actor: str,
    now: datetime,
    summary: str,
    *,
    extra: Sequence[str] = (),
    **detail: object,
) -> Outcome:
    """Resolve the (locked, open) escalation with a summary, commit, and run its effects."""
    esc.status, esc.resolved_at, esc.resolution = "resolved", now, summary
    uow.reschedules()
    event = record_event(uow, esc, now, "resolved", actor, summary=summary, **detail)
    note = f":white_check_mark: <@{actor}> resolved {esc.ref}: {escape(summary)}"
    finish(svc, uow, esc, event, note, extra=extra)
    return Outcome(esc, True, f"Resolved {esc.ref}.")


def reopen(svc: Services, actor: str, where: Where) -> Outcome:
    """Reopen a resolved escalation; anything else is a no-op."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.REOPEN, lock=True)
        if esc.status != "resolved":
            return Outcome(esc, False, f"{esc.ref} is not resolved ({esc.status}).")
        esc.status, esc.resolved_at, esc.resolution = "reopened", None, None
        uow.reschedules()
        event = record_event(uow, esc, now, "reopened", actor)
        finish(svc, uow, esc, event, f":arrows_counterclockwise: <@{actor}> reopened {esc.ref}.")
        return Outcome(esc, True, f"Reopened {esc.ref}.")


# -- reading ----------------------------------------------------------------------------------


def check_visible(svc: Services, actor: str, where: Where, act: Act = Act.SEE) -> Escalation:
    """Return the escalation meant, or raise UserError when the actor may not `act` on it."""
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, act)
        _ = list(esc.participants)
        return esc


def status(svc: Services, actor: str, where: Where) -> Status:
    """Return where the escalation stands."""
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor)
        return Status(
            esc=esc,
            decisions=uow.repos.decisions.count(esc.id),
            followups=uow.repos.escalations.followups(esc.id),
            signoffs=uow.repos.escalations.signoffs(esc.id),
            participants=list(esc.participants),
            now=svc.clock(),
            related=related(svc, uow, esc, actor),
        )


def related(svc: Services, uow: UnitOfWork, esc: Escalation, viewer: str) -> list[Related]:
    """Return the escalation's related escalations as the viewer may see them."""
    out = []
    for row in uow.repos.escalations.links(esc.id):
        other = uow.repos.escalations.get(row.related_id)
        if other is None:
            continue
        if svc.policy.can_see(other, viewer):
            out.append(Related(other.ref, row.kind, other.title, other.channel_id))
        else:
            out.append(Related(other.ref, row.kind))
    return out


def timeline(svc: Services, actor: str, where: Where) -> Timeline:
    """Return the escalation's timeline."""
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor)
        return Timeline(esc, uow.repos.escalations.timeline(esc.id))


def visible_escalations(
    svc: Services,
    uow: UnitOfWork,
    viewer: str,
    *,
    statuses: Sequence[str] | None = None,
    since: datetime | None = None,
) -> list[Escalation]:
    """Return the escalations the viewer may see, newest first."""
    found = uow.repos.escalations.find(statuses=statuses, since=since)
    return svc.policy.visible(found, viewer)


def list_escalations(svc: Services, viewer: str, scope: str) -> Listing:
    """Return `open`, `mine` (open, and I own, reported or take part) or `all` escalations."""
    with svc.db.uow() as uow:
        statuses = None if scope == "all" else OPEN
        found = visible_escalations(svc, uow, viewer, statuses=statuses)
        if scope == "mine":
            found = [esc for esc in found if involves(esc, viewer)]
        return Listing(scope, found[:LIST_LIMIT])
