"""Raising an escalation: validate the draft, record it with its reporter and first
participants, and stage the outbox item that staffs its channel (one transaction).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.config import TeamConfig
from bot.errors import NOT_SAVED, NotSaved
from bot.kinds import POINTER, RAISE, STAFF
from bot.parsing.escalate import EscalationDraft
from bot.results import Raised
from bot.routing import Facets, matching_deadlines, playbook_steps, routed_groups
from bot.services import Services
from storage.db import UnitOfWork
from storage.models import ChecklistStep, Deadline, Escalation, Participant
from storage.repositories import NewItem

log = logging.getLogger(__name__)


def _first_step_users(svc: Services, uow: UnitOfWork, now: Any) -> tuple[list[str], list[str]]:
    users: list[str] = []
    usergroups: list[str] = []
    for spec in svc.config.escalation_policy.steps[0].notify:
        target = svc.oncall.target(uow.repos.overrides, spec, now)
        users.extend(target.users)
        usergroups.extend(target.usergroups)
    return users, usergroups


def draft_problems(config: TeamConfig, draft: EscalationDraft) -> dict[str, str]:
    """Return form field → problem for values the team config does not know."""
    problems = {}
    for field_name, allowed in (
        ("category", config.categories),
        ("policy_area", config.policy_areas),
        ("severity", config.severity_ids),
        ("region", config.regions),
    ):
        if getattr(draft, field_name) not in allowed:
            problems[field_name] = f"Choose one of: {', '.join(allowed)}"
    if any(s not in config.surfaces for s in draft.surfaces):
        problems["surfaces"] = f"Choose from: {', '.join(config.surfaces)}"
    return problems


def accept_escalation(
    svc: Services,
    draft: EscalationDraft,
    reporter: str,
    *,
    request_key: str | None = None,
    response_url: str | None = None,
    origin_channel: str | None = None,
    origin_ts: str | None = None,
) -> bool:
    """Durably accept a request to raise an escalation; return False for a repeat.

    One small insert, shared with the requests arriving meanwhile, so the request thread is
    free at once; recording the escalation and staffing its channel follow in the outbox
    worker, before any Slack call is made.
    """
    item = _raise_item(draft, reporter, request_key, response_url, origin_channel, origin_ts)
    try:
        return svc.outbox.accept(item)
    except OperationalError as exc:
        log.error("could not accept an escalation: %s", exc)
        raise NotSaved(NOT_SAVED) from None


def accept_escalation_later(
    svc: Services,
    draft: EscalationDraft,
    reporter: str,
    then: Callable[[NotSaved | None], object],
    *,
    request_key: str | None = None,
    response_url: str | None = None,
    origin_channel: str | None = None,
) -> None:
    """`accept_escalation` without waiting (on the event loop): `then` hears once it is saved
    (None, a repeat included) or could not be (NotSaved), on the thread that saved it."""
    item = _raise_item(draft, reporter, request_key, response_url, origin_channel, None)

    def saved(error: Exception | None) -> None:
        if error is not None:
            log.error("could not accept an escalation: %s", error)
        then(NotSaved(NOT_SAVED) if error is not None else None)

    svc.outbox.accept_later(item, saved)


def _raise_item(
    draft: EscalationDraft,
    reporter: str,
    request_key: str | None,
    response_url: str | None,
    origin_channel: str | None,
    origin_ts: str | None,
) -> NewItem:
    return NewItem(
        request_key or f"raise:{uuid.uuid4().hex}",
        RAISE,
        payload={
            "draft": draft.model_dump(),
            "reporter": reporter,
            "response_url": response_url,
            "origin_channel": origin_channel,
            "origin_ts": origin_ts,
        },
    )


def raise_escalation(
    svc: Services,
    draft: EscalationDraft,
    reporter: str,
    *,
    request_key: str | None = None,
    response_url: str | None = None,
    origin_channel: str | None = None,
    origin_ts: str | None = None,
) -> Raised:
    """Record a new escalation and its staffing work; return at once, before any Slack call.

    Raised from a message (`origin_ts` in `origin_channel`), it quotes that message: from a
    restricted escalation's channel it is restricted too, and unless restricted a threaded
    reply under the message points to the new channel.
    """
    now = svc.clock()
    severity = svc.config.severity(draft.severity)
    try:
        with svc.db.uow() as uow:
            if request_key:
                existing = uow.repos.escalations.by_request_key(request_key)
                if existing is not None:
                    return Raised(existing.id, False, f"staff:{existing.id}")
            paged, paged_groups = _first_step_users(svc, uow, now)
            if origin_ts and origin_channel:
                source = uow.repos.escalations.by_channel(origin_channel)
                if source is not None and source.restricted:
                    draft = draft.model_copy(update={"restricted": True})
            uow.reschedules()
            esc = uow.repos.escalations.add(
                Escalation(
                    title=draft.title,
                    description=draft.description,
                    category=draft.category,
                    policy_area=draft.policy_area,
                    severity=draft.severity,
                    region=draft.region,
                    surfaces=draft.surfaces,
                    links=draft.links,
                    reporter=reporter,
                    owner=paged[0] if paged else reporter,
                    status="open",
                    restricted=draft.restricted,
                    graphic=draft.graphic,
                    created_at=now,
                    ack_deadline=now + severity.ack_within,
                    request_key=request_key,
                )
            )
            people: dict[str, tuple[str, str | None]] = {reporter: ("reporter", None)}
            for user in paged:  # "oncall" even when they raised it: that lets them act
                people[user] = ("oncall", None)
            usergroups: dict[str, str] = dict.fromkeys(paged_groups, "oncall")
            facets = Facets(
                draft.category,
                draft.policy_area,
                draft.severity,
                draft.region,
                tuple(draft.surfaces),
            )
            groups = routed_groups(svc.config, facets)
            for group in groups:
                target = svc.oncall.target(uow.repos.overrides, f"group:{group}", now)
                for user in target.users:
                    people.setdefault(user, ("stakeholder", group))
                for usergroup in target.usergroups:
                    usergroups.setdefault(usergroup, group)
            flags = [f for f in ("graphic", "restricted") if getattr(draft, f)]
            steps = playbook_steps(svc.config, facets, flags)
            for position, step in enumerate(steps):
                uow.repos.escalations.add_step(
                    ChecklistStep(
                        escalation_id=esc.id,
                        position=position,
                        step_id=step.id,
                        text=step.text,
                        required=step.required,
                        signoff=step.signoff,
                    )
                )
            # The clocks start now and stay as set, whatever the config says later.
            deadlines = matching_deadlines(svc.config, facets, flags)
            for position, rule in enumerate(deadlines):
                due_at = now + rule.due
                uow.repos.escalations.add_deadline(
                    Deadline(
                        escalation_id=esc.id,
                        position=position,
                        name=rule.name,
                        due_at=due_at,
                        remind_at=due_at - rule.remind_before if rule.remind_before else None,
                    )
                )
            for user, (role, group_of) in people.items():
                uow.repos.escalations.add_participant(
                    Participant(
                        escalation_id=esc.id, user_id=user, role=role, group=group_of, added_at=now
                    )
                )
            source_message = (
                {"from_message": {"channel": origin_channel, "ts": origin_ts}} if origin_ts else {}
            )
            uow.repos.escalations.add_event(
                esc.id,
                now,
                "created",
                reporter,
                severity=draft.severity,
                category=draft.category,
                groups=groups,
                paged=paged,
                checklist=[step.id for step in steps],
                deadlines=[d.name for d in deadlines],
                **source_message,
            )
            key = f"staff:{esc.id}"
            uow.repos.outbox.add(
                key,
                STAFF,
                now,
                escalation_id=esc.id,
                usergroups=usergroups,
                paged=paged,
                response_url=response_url,
                origin_channel=origin_channel,
            )
            then = []
            if origin_ts and origin_channel and not draft.restricted:
                then.append(f"pointer:{esc.id}")
                uow.repos.outbox.add(
                    then[0],
                    POINTER,
                    now,
                    escalation_id=esc.id,
                    channel=origin_channel,
                    ts=origin_ts,
                )
            uow.commit()
            return Raised(esc.id, True, key, paged, then)
    except OperationalError as exc:
        log.error("could not record escalation: %s", exc)
        raise NotSaved(NOT_SAVED) from None
