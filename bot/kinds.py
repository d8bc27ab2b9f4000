"""Every outbox kind, ping kind, ledger status and escalation status, declared once.

Outbox kinds name what one outbox item does in Slack (the delivery registry maps each to its
handler); ping kinds are the first part of every sent-notifications ledger key.
"""

from __future__ import annotations

# Outbox kinds: each item does one Slack write (bot/delivery/registry.py maps kind → handler).
RAISE = "escalation.raise"  # record an accepted /escalate as an escalation, then staff it
STAFF = "escalation.staff"  # create the channel, invite, post and pin the card
CARD = "card.update"
POST = "channel.post"
DECISION = "decision.post"
SIGNOFF = "signoff.sync"
INVITE = "channel.invite"
REVIEW = "review.post"
POINTER = "escalation.pointer"  # the threaded reply under an escalated message
CAPTURE = "timeline.capture"  # fill in a message added to the timeline: its text, permalink
UPDATE_BRIEF = "updates.brief"  # a status update's one-line brief in team.updates_channel

# The metadata event type every bot message carries, with its outbox or ledger key, so a
# retry finds the message an earlier attempt sent.
CARD_EVENT = "escalation_card"


# Ping kinds: the first part of every ledger key.
PAGE = "page"
SHIFT_START = "shift_start"
HANDOFF = "handoff"
UPDATE_REMINDER = "update_reminder"
SIGNOFF_REMINDER = "signoff_reminder"
ROLE_REMINDER = "role_reminder"  # a required role nobody holds, to the owner
GAPS = "gaps"
DIGEST = "digest"
DEADLINE_REMINDER = "deadline_reminder"  # once per deadline, `remind_before` ahead
DEADLINE_BREACH = "deadline_breach"  # once per deadline, when it passes unresolved
KINDS = (
    PAGE,
    SHIFT_START,
    HANDOFF,
    UPDATE_REMINDER,
    SIGNOFF_REMINDER,
    ROLE_REMINDER,
    GAPS,
    DIGEST,
    DEADLINE_REMINDER,
    DEADLINE_BREACH,
)
RECURRING = (UPDATE_REMINDER, SIGNOFF_REMINDER, ROLE_REMINDER)

# Outbox kinds: each item does one Slack write.
OUT_PAGE = "ping.page"
OUT_PAGE_DM = "ping.page_dm"
OUT_SHIFT_START = "ping.shift_start"
OUT_HANDOFF = "ping.handoff"
OUT_HANDOFF_BRIEF = "ping.handoff_brief"
OUT_UPDATE_REMINDER = "ping.update_reminder"
OUT_SIGNOFF_REMINDER = "ping.signoff_reminder"
OUT_ROLE_REMINDER = "ping.role_reminder"
OUT_GAPS = "ping.gaps"
OUT_DIGEST = "ping.digest"
OUT_DEADLINE_REMINDER = "ping.deadline_reminder"
OUT_DEADLINE_BREACH = "ping.deadline_breach"
OUT_DEADLINE_DM = "ping.deadline_dm"
OUTBOX_KINDS = (
    RAISE,
    STAFF,
    CARD,
    POST,
    DECISION,
    REVIEW,
    SIGNOFF,
    INVITE,
    POINTER,
    CAPTURE,
    UPDATE_BRIEF,
    OUT_PAGE,
    OUT_PAGE_DM,
    OUT_SHIFT_START,
    OUT_HANDOFF,
    OUT_HANDOFF_BRIEF,
    OUT_UPDATE_REMINDER,
    OUT_SIGNOFF_REMINDER,
    OUT_ROLE_REMINDER,
    OUT_GAPS,
    OUT_DIGEST,
    OUT_DEADLINE_REMINDER,
    OUT_DEADLINE_BREACH,
    OUT_DEADLINE_DM,
)

# Ledger statuses.
SENT = "sent"
SKIPPED = "skipped"  # stale when found, or moot when claimed
EMPTY = "empty"  # due, but there was nothing to say (no coverage gaps)

# Escalation statuses (stored as these strings).
STATUS_OPEN = "open"
STATUS_ACKNOWLEDGED = "acknowledged"
STATUS_REOPENED = "reopened"
STATUS_RESOLVED = "resolved"
OPEN = (STATUS_OPEN, STATUS_ACKNOWLEDGED, STATUS_REOPENED)  # still being worked
PAGEABLE = (STATUS_OPEN, STATUS_REOPENED)  # pages until acknowledged
