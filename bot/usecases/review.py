"""The review document of an escalation: read for `escbot review`, posted by `/esc review`
in the escalation's own channel."""

from __future__ import annotations

from datetime import datetime

from bot.config import TeamConfig
from bot.kinds import REVIEW
from bot.policy import Act
from bot.results import Outcome, Review, Where
from bot.services import Services
from bot.usecases import staging as effects
from bot.usecases.lifecycle import locate
from storage.db import Database, UnitOfWork
from storage.models import Escalation


def collect(uow: UnitOfWork, config: TeamConfig, esc: Escalation, now: datetime) -> Review:
    """Read what the review shows of the escalation."""
    try:
        ack_within = int(config.severity(esc.severity).ack_within.total_seconds())
    except KeyError:  # a severity the config no longer has
        ack_within = None
    repos = uow.repos
    return Review(
        esc=esc,
        now=now,
        ack_within_s=ack_within,
        checklist=repos.escalations.checklist(esc.id),
        deadlines=repos.escalations.deadlines(esc.id),
        roles={r: h.user_id for r, h in repos.escalations.roles(esc.id).items()},
        timeline=repos.escalations.timeline(esc.id),
        decisions=repos.decisions.chain(esc.id),
        signoffs=repos.escalations.signoffs(esc.id),
        followups=repos.escalations.followups(esc.id),
        linked=[
            (link.kind, other)
            for link in repos.escalations.links(esc.id)
            if (other := repos.escalations.get(link.related_id)) is not None
        ],
    )


def operator_review(db: Database, config: TeamConfig, number: int, now: datetime) -> Review:
    """Return ESC-<number>'s review for an operator; raise LookupError when there is none."""
    with db.uow() as uow:
        esc = uow.repos.escalations.get(number)
        if esc is None:
            raise LookupError(f"ESC-{number} does not exist")
        return collect(uow, config, esc, now)


def post_review(svc: Services, actor: str, where: Where, *, request_key: str) -> Outcome:
    """Post the review document in the escalation's own channel, once per request."""
    now = svc.clock()
    with svc.db.uow() as uow:
        esc = locate(svc, uow, where, actor, Act.REVIEW)
        if not uow.repos.requests.claim(request_key, "review", now, escalation=esc.id):
            return Outcome(esc, False, "That review is already posted.")
        event = uow.repos.escalations.add_event(esc.id, now, "review_posted", actor)
        uow.flush()
        key = f"review:{esc.id}:{event.id}"
        uow.repos.outbox.add(key, REVIEW, now, escalation_id=esc.id, at=now.isoformat())
        uow.commit()
    effects.submit(svc, [key])
    return Outcome(esc, True, f"Posting the review of {esc.ref} here.")
