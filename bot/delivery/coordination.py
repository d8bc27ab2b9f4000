"""Outbox handlers of coordination: the pointer under an escalated message, stakeholder update
briefs, messages added to the timeline."""

from __future__ import annotations

import logging

from bot import blocks
from bot.delivery.jobs import Job, NotReady
from bot.delivery.posts import post_once
from bot.kinds import CARD_EVENT
from bot.services import Services
from bot.slack import SlackError
from bot.text import truncate


def deliver_update_brief(svc: Services, job: Job) -> None:
    """Brief the stakeholder updates channel of a status update, in one line."""
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


log = logging.getLogger(__name__)
GONE = ("channel_not_found", "not_in_channel", "thread_not_found", "message_not_found")


def deliver_pointer(svc: Services, job: Job) -> None:
    """Reply under the escalated message, once: where the escalation is worked."""
    with svc.db.uow() as uow:
        esc = uow.repos.escalations.get(int(job.escalation_id or 0))
    if esc is None or esc.restricted:  # a restricted one is never pointed to
        return
    if esc.channel_id is None:
        raise NotReady(f"{esc.ref} has no channel yet")
    channel, ts = str(job.payload["channel"]), str(job.payload["ts"])
    text, pointer = blocks.message_pointer(esc)
    meta = {"event_type": CARD_EVENT, "event_payload": {"key": job.key}}
    try:
        if job.retrying and svc.slack.find_reply(channel, ts, CARD_EVENT, job.key):
            return
        svc.slack.post(channel, text, blocks=pointer, thread_ts=ts, metadata=meta)
    except SlackError as exc:
        if exc.error not in GONE:
            raise
        # the bot cannot post there (a DM, a channel it is not in, a deleted message)
        log.warning("no pointer under the message escalated as %s: %s", esc.ref, exc.error)


def deliver_capture(svc: Services, job: Job) -> None:
    """Fill in a message added to the timeline: its text (a reaction carries none) and its
    permalink, both as Slack has them."""
    with svc.db.uow() as uow:
        event = uow.repos.escalations.event(int(job.payload.get("event") or 0))
        esc = uow.repos.escalations.get(int(job.escalation_id or 0))
    if event is None or esc is None or esc.channel_id is None or event.detail.get("permalink"):
        return
    ts = str(event.detail.get("ts"))
    found: dict[str, object] = {}
    if event.detail.get("text") is None:
        message = svc.slack.message(esc.channel_id, ts)
        found["text"] = truncate(str((message or {}).get("text") or ""), 3000)
        if message and not event.detail.get("author"):
            found["author"] = message.get("user")
    found["permalink"] = svc.slack.permalink(esc.channel_id, ts)
    with svc.db.uow() as uow:
        row = uow.repos.escalations.event(event.id)
        assert row is not None
        row.detail = {**row.detail, **found}  # a new dict: JSON columns track reassignment
        uow.commit()
