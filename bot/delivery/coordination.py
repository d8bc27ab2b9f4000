"""Outbox handlers of coordination: stakeholder update briefs."""

from __future__ import annotations

from bot import blocks
from bot.delivery.outbox import Job, NotReady
from bot.delivery.posts import post_once
from bot.kinds import UPDATE_BRIEF
from bot.services import Services


def _update_brief(svc: Services, job: Job) -> None:
    channel = svc.config.team.updates_channel
    if channel is None:  # the config no longer names one: nowhere to brief
        return
    with svc.db.uow() as uow:
        esc = uow.repos.escalations.get(int(job.escalation_id or 0))
        event = uow.repos.escalations.event(int(job.payload.get("event") or 0))
    if esc is None:
        raise LookupError(f"ESC-{job.escalation_id} does not exist")
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    if event is None:
        return
    text, brief = blocks.update_brief(esc, event.actor, str(event.detail.get("text", "")))
    post_once(svc, channel, job.key, text, brief, retrying=job.retrying)


def register_outbox(svc: Services) -> None:
    """Register the outbox handlers of this module."""
    svc.outbox.register(UPDATE_BRIEF, lambda job: _update_brief(svc, job))
