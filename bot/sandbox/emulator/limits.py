"""Slack's documented limits the emulator enforces: requests per rate-limit tier and the
tier of each method, chat.postMessage's per-channel bucket, trigger and response_url
lifetimes, size limits, plus the id alphabet, name rules and time zone labels.
"""

from __future__ import annotations

import re
import string

#: Requests per sliding 60 s window for each Web API tier.
TIER_LIMITS: dict[int, int] = {1: 1, 2: 20, 3: 50, 4: 100}

#: Tier of every rate-limited method. ``chat.postMessage`` is special (per channel).
METHOD_TIERS: dict[str, int] = {
    "apps.connections.open": 1,
    "conversations.create": 2,
    "conversations.setTopic": 2,
    "conversations.setPurpose": 2,
    "conversations.archive": 2,
    "conversations.unarchive": 2,
    "conversations.list": 2,
    "pins.add": 2,
    "pins.remove": 2,
    "pins.list": 2,
    "bookmarks.add": 2,
    "users.list": 2,
    "conversations.invite": 3,
    "conversations.kick": 3,
    "conversations.info": 3,
    "conversations.members": 3,
    "conversations.join": 3,
    "conversations.open": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 3,
    "chat.getPermalink": 3,
    "views.open": 3,
    "views.push": 3,
    "views.update": 3,
    "views.publish": 3,
    "usergroups.users.list": 3,
    "bookmarks.list": 3,
    "users.info": 4,
    "users.lookupByEmail": 4,
    "auth.test": 4,
}

#: chat.postMessage: token bucket per channel ("1 per second, short bursts allowed").
POST_MESSAGE_BURST = 5
POST_MESSAGE_RATE = 1.0

TRIGGER_LIFETIME = 3.0  # seconds a trigger_id can be exchanged
RESPONSE_URL_LIFETIME = 30 * 60.0  # response_url: valid for 30 minutes ...
RESPONSE_URL_USES = 5  # ... and at most 5 times

MAX_TEXT = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_INVITE = 1000
MAX_NAME = 80
MAX_TOPIC = 250

_ID_CHARS = string.ascii_uppercase + string.digits
_NAME_OK = re.compile(r"[a-z0-9_\-]+")
_RESERVED_NAMES = frozenset({"here", "channel", "everyone", "group"})
_TRIGGER_RE = re.compile(r"\d+\.\d+\.[0-9a-f]+")

# Slack's long time-zone labels for the abbreviations zoneinfo reports.
_TZ_LABELS = {
    "UTC": "Coordinated Universal Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
    "EET": "Eastern European Time",
    "EEST": "Eastern European Summer Time",
    "WET": "Western European Time",
    "WEST": "Western European Summer Time",
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "AKST": "Alaska Standard Time",
    "AKDT": "Alaska Daylight Time",
    "HST": "Hawaii-Aleutian Standard Time",
    "JST": "Japan Standard Time",
    "KST": "Korea Standard Time",
    "IST": "India Standard Time",
    "AEST": "Australian Eastern Standard Time",
    "AEDT": "Australian Eastern Daylight Time",
    "NZST": "New Zealand Standard Time",
    "NZDT": "New Zealand Daylight Time",
}
