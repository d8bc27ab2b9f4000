"""The one gateway to the Slack Web API: every call the bot makes, named for what it does,
with batching, caching, escaping and one `SlackError`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.fastack import Foreground
from bot.slack.client import Brief, RateLimited
from bot.slack.pacing import ChannelPacer
from bot.telemetry import Telemetry
from bot.text import truncate

log = logging.getLogger(__name__)

INVITE_BATCH = 1000  # conversations.invite takes at most 1000 users a call
TEXT_LIMIT = 3000  # a section block's text
MESSAGE_LIMIT = 39000  # chat.postMessage text, with room for the truncation note


class SlackError(Exception):
    """A Web API call failed; `error` is Slack's error code."""

    def __init__(self, method: str, error: str, response: dict[str, Any] | None = None):
        self.method = method
        self.error = error
        self.response = response or {}
        super().__init__(f"{method}: {error}")


@dataclass
class InviteResult:
    """What one batched invite did: who was added, who was in already, who could not be
    added and why."""

    invited: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    already: list[str] = field(default_factory=list)


# conversations.invite errors about the people, not the call: those people are skipped
INVITEE_ERRORS = frozenset(
    {
        "already_in_channel",
        "user_not_found",
        "cant_invite",
        "user_is_deactivated",
        "cant_invite_self",
        "user_is_restricted",
        "user_is_ultra_restricted",
        "ura_max_channels",
    }
)
USERGROUP_MAX_AGE = 600.0  # seconds: a user group's members are never older than this


# After Slack fails to answer a call, calls on a request's thread fail at once for this long
# (background work keeps trying, and finds out when it is back).
SILENT_FOR = 30.0


class SlackGateway:
    """Verbs for what the bot does in Slack, over one WebClient."""

    def __init__(
        self,
        client: WebClient,
        *,
        cache_ttl: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
        foreground: Foreground | None = None,
        telemetry: Telemetry | None = None,
    ):
        self.client = client
        self.foreground = foreground or Foreground()
        self.telemetry = telemetry or Telemetry()
        for handler in client.retry_handlers:  # a 429 is waited out inside the client
            if isinstance(handler, RateLimited):
                handler.on_retry = self._rate_limited
        self._cache_ttl = cache_ttl
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self._bot_user_id: str | None = None
        self._groups: dict[str, tuple[float, list[str]]] = {}  # user group: (loaded, members)
        self._silent_until = 0.0  # while Slack is not answering, requests do not wait on it
        self.pacer = ChannelPacer()  # direct messages' per-channel limit (delivery/pings)
        for handler in getattr(client, "retry_handlers", None) or []:
            if isinstance(handler, Brief):
                handler.foreground = self.foreground

    # -- plumbing ---------------------------------------------------------

    def _call(self, method: str, **args: Any) -> dict[str, Any]:
        self.foreground.give_way()
        if self.foreground.on_request() and self._monotonic() < self._silent_until:
            # Slack just failed to answer: a request is not held up waiting for it again
            # (the answer to a /oncall would come after a client timeout per lookup).
            self.telemetry.slack_call(method, "unreachable")
            raise SlackError(method, "unreachable")
        try:
            if method in _READ_METHODS:
                response = self.client.api_call(method, http_verb="GET", params=args)
            else:
                response = self.client.api_call(method, json=args)
        except SlackApiError as exc:
            self._silent_until = 0.0  # it answered
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            error = str(data.get("error") or exc.response.status_code)
            self.telemetry.slack_call(method, "ratelimited" if error == "429" else "error")
            raise SlackError(method, error, data) from None
        except (OSError, HTTPException) as exc:  # no answer (refused, reset, timed out)
            self.telemetry.slack_call(method, "unreachable")
            self._silent_until = self._monotonic() + SILENT_FOR
            raise SlackError(method, type(exc).__name__) from exc
        self.telemetry.slack_call(method, "ok")
        self._silent_until = 0.0
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _rate_limited(self, url: str) -> None:
        self.telemetry.slack_call(url.rstrip("/").rsplit("/", 1)[-1], "ratelimited")

    def _cached(self, kind: str, key: str, load: Callable[[], Any]) -> Any:
        # One loader per key at a time: concurrent escalations share one lookup.
        with self._lock:
            key_lock = self._key_locks.setdefault((kind, key), threading.Lock())
        with key_lock:
            now = self._monotonic()
            hit = self._cache.get((kind, key))
            if hit and hit[0] > now:
                return hit[1]
            value = load()
            self._cache[(kind, key)] = (now + self._cache_ttl, value)
            return value

    # -- identity and people ----------------------------------------------

    def check_token(self, timeout: int = 5) -> dict[str, Any]:
        """Call auth.test once, without retries; return Slack's answer (remembering who we are).

        Raises SlackError when the token is refused, or the client's error (a connection
        error, a timeout) when Slack cannot be reached.
        """
        once = WebClient(
            token=self.client.token,
            base_url=self.client.base_url,
            timeout=timeout,
            retry_handlers=[],
        )
        try:
            response = once.api_call("auth.test")
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            raise SlackError(
                "auth.test", str(data.get("error") or exc.response.status_code), data
            ) from None
        identity = dict(response.data) if isinstance(response.data, dict) else {}
        if identity.get("user_id"):
            self._bot_user_id = str(identity["user_id"])
        return identity

    def bot_user_id(self) -> str:
        """Return the bot's own user ID (one auth.test per process)."""
        if self._bot_user_id is None:
            self._bot_user_id = str(self._call("auth.test")["user_id"])
        return self._bot_user_id

    def user_info(self, user_id: str) -> dict[str, Any]:
        """Return the user's profile (cached): name, tz, deleted."""
        return dict(
            self._cached("user", user_id, lambda: self._call("users.info", user=user_id)["user"])
        )

    def user_timezone(self, user_id: str, default: str = "UTC") -> str:
        """Return the user's IANA time zone, or `default` when Slack does not say."""
        try:
            return str(self.user_info(user_id).get("tz") or default)
        except SlackError:
            return default

    def usergroup_members(self, usergroup_id: str) -> list[str]:
        """Return the members of a Slack user group, as last loaded if under 10 minutes ago.

        `keep_fresh` reloads the config's groups every 5 minutes in the background and
        `apply_usergroup_change` follows Slack's `subteam_members_changed` events, so
        raising an escalation never waits on a look-up (see bench_escalate's call count).
        """
        with self._lock:
            hit = self._groups.get(usergroup_id)
        if hit is not None and self._monotonic() - hit[0] < USERGROUP_MAX_AGE:
            return list(hit[1])
        return self._load_usergroup(usergroup_id)

    def _load_usergroup(self, usergroup_id: str) -> list[str]:
        loaded = self._monotonic()
        members = list(self._call("usergroups.users.list", usergroup=usergroup_id)["users"])
        with self._lock:
            self._groups[usergroup_id] = (loaded, members)
        return list(members)

    def apply_usergroup_change(
        self, usergroup_id: str, added: Iterable[str], removed: Iterable[str]
    ) -> None:
        """Follow a `subteam_members_changed` event in the cached members (if cached)."""
        with self._lock:
            hit = self._groups.get(usergroup_id)
            if hit is None:
                return
            gone = set(removed)
            members = [u for u in hit[1] if u not in gone]
            members += [u for u in added if u not in members]
            self._groups[usergroup_id] = (hit[0], members)

    def refresh_usergroups(self, usergroup_ids: Iterable[str]) -> None:
        """Load these user groups' members now; a group Slack cannot list is logged."""
        for usergroup_id in usergroup_ids:
            try:
                self._load_usergroup(usergroup_id)
            except (SlackError, OSError) as exc:
                log.warning("could not load the members of %s: %s", usergroup_id, exc)

    def keep_fresh(
        self, usergroup_ids: Sequence[str], every: float = USERGROUP_MAX_AGE / 2
    ) -> threading.Event:
        """Reload the user groups every `every` seconds in a daemon thread; set the returned
        event to stop. The first load happens at once, in that thread."""
        stop = threading.Event()
        ids = list(dict.fromkeys(usergroup_ids))

        def loop() -> None:
            while not stop.is_set():
                self.refresh_usergroups(ids)
                stop.wait(every)

        if ids:
            threading.Thread(target=loop, name="usergroups", daemon=True).start()
        return stop

    def usergroup_members_or_none(self, usergroup_id: str) -> list[str]:
        """Return a user group's members, or nobody when Slack cannot say (refuse, not fail)."""
        try:
            return self.usergroup_members(usergroup_id)
        except (SlackError, OSError) as exc:
            log.warning("could not list the members of %s: %s", usergroup_id, exc)
            return []

    # -- channels ---------------------------------------------------------

    def create_channel(self, name: str, *, private: bool = False) -> dict[str, Any]:
        """Create a channel with exactly this name; raise SlackError (e.g. name_taken)."""
        return dict(self._call("conversations.create", name=name, is_private=private)["channel"])

    def find_channel(self, name: str, *, private: bool) -> dict[str, Any] | None:
        """Return the bot's channel of this name, or None (walks conversations.list)."""
        cursor = None
        types = "private_channel" if private else "public_channel"
        while True:
            args: dict[str, Any] = {"types": types, "limit": 1000, "exclude_archived": False}
            if cursor:
                args["cursor"] = cursor
            data = self._call("conversations.list", **args)
            for channel in data.get("channels", []):
                if channel.get("name") == name:
                    return dict(channel)
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def members(self, channel: str) -> set[str]:
        """Return the channel's members (walks conversations.members)."""
        found: set[str] = set()
        cursor = None
        while True:
            args: dict[str, Any] = {"channel": channel, "limit": 1000}
            if cursor:
                args["cursor"] = cursor
            data = self._call("conversations.members", **args)
            found.update(data.get("members") or [])
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found

    def invite(self, channel: str, users: Iterable[str]) -> InviteResult:
        """Invite everyone in one call (per 1000); skip who cannot join, and say why."""
        bot = self.bot_user_id()
        wanted = list(dict.fromkeys(u for u in users if u and u != bot))
        result = InviteResult()
        for start in range(0, len(wanted), INVITE_BATCH):
            batch = wanted[start : start + INVITE_BATCH]
            try:
                data = self._call(
                    "conversations.invite", channel=channel, users=",".join(batch), force=True
                )
                errors = data.get("errors") or []
            except SlackError as exc:
                if exc.error not in INVITEE_ERRORS:
                    raise
                errors = exc.response.get("errors") or [
                    {"user": u, "error": exc.error} for u in batch
                ]
            there = set()
            for item in errors:
                if item.get("error") == "already_in_channel":
                    there.add(str(item.get("user")))
                else:
                    result.failed[str(item.get("user"))] = str(item.get("error"))
            result.already.extend(u for u in batch if u in there)
            result.invited.extend(u for u in batch if u not in result.failed and u not in there)
        return result

    # -- messages ---------------------------------------------------------

    def post(
        self,
        channel: str,
        text: str,
        *,
        blocks: Sequence[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Post a message that never unfurls; return its ts. `text` must be escaped already."""
        args: dict[str, Any] = {
            "channel": channel,
            "text": truncate(text, MESSAGE_LIMIT),
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if blocks:
            args["blocks"] = list(blocks)
        if thread_ts:
            args["thread_ts"] = thread_ts
        if metadata:
            args["metadata"] = metadata
        return str(self._call("chat.postMessage", **args)["ts"])

    def find_message(self, channel: str, event_type: str, key: str, limit: int = 200) -> str | None:
        """Return the ts of the bot's message tagged with this metadata key, or None."""
        data = self._call(
            "conversations.history", channel=channel, limit=limit, include_all_metadata=True
        )
        for message in data.get("messages", []):
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            # A message may carry several keys (pages for one person sent as one DM).
            if meta.get("event_type") == event_type and (
                payload.get("key") == key or key in (payload.get("keys") or ())
            ):
                return str(message["ts"])
        return None

    def found_keys(
        self, channel: str, event_type: str, keys: Iterable[str], limit: int = 200
    ) -> set[str]:
        """Return which of `keys` the bot's recent messages in `channel` are tagged with."""
        wanted = set(keys)
        data = self._call(
            "conversations.history", channel=channel, limit=limit, include_all_metadata=True
        )
        found: set[str] = set()
        for message in data.get("messages", []):
            meta = message.get("metadata") or {}
            if meta.get("event_type") != event_type:
                continue
            payload = meta.get("event_payload") or {}
            found.update(wanted & {payload.get("key"), *(payload.get("keys") or ())})
        return found

    def update(
        self, channel: str, ts: str, text: str, *, blocks: Sequence[dict[str, Any]] | None = None
    ) -> None:
        """Replace a message's text and blocks."""
        args: dict[str, Any] = {"channel": channel, "ts": ts, "text": truncate(text, MESSAGE_LIMIT)}
        if blocks is not None:
            args["blocks"] = list(blocks)
        self._call("chat.update", **args)

    def pin(self, channel: str, ts: str) -> None:
        """Pin a message; pinning twice is fine."""
        try:
            self._call("pins.add", channel=channel, timestamp=ts)
        except SlackError as exc:
            if exc.error != "already_pinned":
                raise

    def ephemeral(
        self, channel: str, user: str, text: str, *, blocks: Sequence[dict[str, Any]] | None = None
    ) -> None:
        """Show a message to one user in a channel."""
        args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks:
            args["blocks"] = list(blocks)
        self._call("chat.postEphemeral", **args)

    def open_dm(self, user: str) -> str:
        """Return the ID of the bot's direct-message channel with `user` (cached)."""
        return str(
            self._cached(
                "im", user, lambda: self._call("conversations.open", users=user)["channel"]["id"]
            )
        )

    def dm(self, user: str, text: str, *, blocks: Sequence[dict[str, Any]] | None = None) -> str:
        """Send a direct message (posting to a user ID opens the DM)."""
        return self.post(user, text, blocks=blocks)

    def find_reply(self, channel: str, thread_ts: str, event_type: str, key: str) -> str | None:
        """Return the ts of the bot's reply in a thread tagged with this metadata key, or None."""
        data = self._call(
            "conversations.replies",
            channel=channel,
            ts=thread_ts,
            limit=200,
            include_all_metadata=True,
        )
        for message in data.get("messages", []):
            meta = message.get("metadata") or {}
            if (
                meta.get("event_type") == event_type
                and (meta.get("event_payload") or {}).get("key") == key
            ):
                return str(message["ts"])
        return None

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """Return one message of a channel (a thread reply too), or None if it is gone."""
        try:
            data = self._call("conversations.replies", channel=channel, ts=ts, limit=200)
        except SlackError as exc:
            if exc.error in ("thread_not_found", "message_not_found"):
                return None
            raise
        for message in data.get("messages", []):
            if message.get("ts") == ts:
                return dict(message)
        return None

    def permalink(self, channel: str, ts: str) -> str:
        """Return a message's permalink."""
        return str(self._call("chat.getPermalink", channel=channel, message_ts=ts)["permalink"])

    def respond(
        self,
        response_url: str,
        text: str,
        *,
        blocks: Sequence[dict[str, Any]] | None = None,
        ephemeral: bool = True,
    ) -> None:
        """Answer through a response_url (valid 30 minutes, 5 times)."""
        # The Web API client's retry policy (and its injected sleep) for the webhook too.
        webhook = WebhookClient(
            response_url, timeout=self.client.timeout, retry_handlers=self.client.retry_handlers
        )
        try:
            response = webhook.send(
                text=text,
                blocks=list(blocks) if blocks else None,
                response_type="ephemeral" if ephemeral else "in_channel",
                unfurl_links=False,
                unfurl_media=False,
            )
        except (OSError, HTTPException) as exc:  # no answer (refused, reset, timed out)
            raise SlackError("response_url", type(exc).__name__) from exc
        if response.status_code >= 400:
            raise SlackError("response_url", str(response.status_code))

    # -- views ------------------------------------------------------------

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> dict[str, Any]:
        """Open a modal."""
        return dict(self._call("views.open", trigger_id=trigger_id, view=view)["view"])

    def publish_home(self, user: str, view: dict[str, Any]) -> None:
        """Publish a user's App Home tab."""
        self._call("views.publish", user_id=user, view=view)


_READ_METHODS = {
    "conversations.history",
    "conversations.list",
    "users.info",
    "usergroups.users.list",
    "conversations.info",
    "conversations.members",
    "chat.getPermalink",
    "auth.test",
}
