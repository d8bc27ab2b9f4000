"""One outbox kind → handler registry: what each kind of outbox item does in Slack.

Use cases and ping staging add items of the kinds `bot.kinds` declares; the outbox runs each
with the handler registered for its kind here, and nowhere else. Page DMs run in the urgent
lane, so a page never waits behind channel creation (Slack allows 20 a minute).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from bot.delivery import coordination, pings, posts, staffing
from bot.delivery.jobs import Job
from bot.kinds import (
    CAPTURE,
    CARD,
    DEADLINE_BREACH,
    DECISION,
    INVITE,
    OUT_DEADLINE_BREACH,
    OUT_DEADLINE_DM,
    OUT_DEADLINE_REMINDER,
    OUT_DIGEST,
    OUT_GAPS,
    OUT_HANDOFF,
    OUT_HANDOFF_BRIEF,
    OUT_PAGE,
    OUT_PAGE_DM,
    OUT_ROLE_REMINDER,
    OUT_SHIFT_START,
    OUT_SIGNOFF_REMINDER,
    OUT_UPDATE_REMINDER,
    PAGE,
    POINTER,
    POST,
    RAISE,
    REVIEW,
    SIGNOFF,
    STAFF,
    UPDATE_BRIEF,
)
from bot.services import Services

Handler = Callable[[Services, Job], None]

HANDLERS: dict[str, Handler] = {
    # staffing a raised escalation
    RAISE: staffing.raise_accepted,
    STAFF: staffing.staff,
    # an escalation's messages
    CARD: posts.deliver_card,
    POST: posts.deliver_post,
    DECISION: posts.deliver_decision,
    REVIEW: posts.deliver_review,
    SIGNOFF: posts.deliver_signoff,
    INVITE: posts.deliver_invite,
    # coordination
    POINTER: coordination.deliver_pointer,
    UPDATE_BRIEF: coordination.deliver_update_brief,
    CAPTURE: coordination.deliver_capture,
    # pings
    OUT_PAGE: pings.send_page,
    OUT_PAGE_DM: pings.send_page_dm,
    OUT_SHIFT_START: pings.send_shift_start,
    OUT_HANDOFF: pings.send_handoff,
    OUT_HANDOFF_BRIEF: pings.send_handoff_brief,
    OUT_UPDATE_REMINDER: pings.send_update_reminder,
    OUT_SIGNOFF_REMINDER: pings.send_signoff_reminder,
    OUT_ROLE_REMINDER: pings.send_role_reminder,
    OUT_GAPS: pings.send_gaps,
    OUT_DIGEST: pings.send_digest,
    OUT_DEADLINE_REMINDER: pings.send_deadline_reminder,
    OUT_DEADLINE_BREACH: pings.send_deadline_breach,
    OUT_DEADLINE_DM: pings.send_deadline_dm,
}

# Keys run in the urgent lane (`%` as in SQL LIKE): a page's DMs.
URGENT = (f"{PAGE}:%:dm:%", f"{DEADLINE_BREACH}:%:dm:%")


def register(svc: Services) -> None:
    """Register every outbox handler and the urgent lane with this process's outbox."""
    for kind, handler in HANDLERS.items():
        svc.outbox.register(kind, functools.partial(handler, svc))
    svc.outbox.prioritize(*URGENT)
