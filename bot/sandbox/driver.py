"""Deliver Slack-formatted, signed requests to a bot's HTTP endpoint.

The driver plays Slack's side of slash commands, interactivity and the Events
API: payloads are shaped the way Slack sends them, response URLs and trigger
ids come from the :class:`~bot.sandbox.emulator.Emulator` (so the bot's
follow-up Web API calls land there), and every request carries
``X-Slack-Request-Timestamp`` / ``X-Slack-Signature`` computed with the signing
secret exactly as ``slack_sdk.signature.SignatureVerifier`` checks them.

Only the standard library is used for HTTP (``urllib.request``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.emulator import Emulator

__all__ = ["Driver", "Reply", "deliver", "signature_for"]

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def signature_for(signing_secret: str, timestamp: int | str, body: bytes | str) -> str:
    """Slack's v0 request signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{ts}:{body}``."""
    raw = body.decode("utf-8") if isinstance(body, bytes) else body
    base = f"v0:{timestamp}:{raw}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Reply:
    """What the bot answered."""

    status: int
    body: str
    json: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def deliver(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 10.0) -> Reply:
    """POST a prepared request to a bot and return its answer and how long it took."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    started = time.perf_counter()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
            raw = response.read()
            response_headers = response.headers
    except urllib.error.HTTPError as failure:
        status = failure.code
        raw = failure.read()
        response_headers = failure.headers
    elapsed = time.perf_counter() - started
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    return Reply(status, text, parsed, response_headers, elapsed)


class Driver:
    """Sends slash commands, block actions, view submissions and events to a bot."""

    def __init__(
        self,
        emulator: Emulator,
        bot_url: str,
        signing_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        team_id: str | None = None,
        timeout: float = 10.0,
        verification_token: str = "sandbox-verification-token",
        transport: Callable[[bytes, dict[str, str]], Reply] | None = None,
    ) -> None:
        self.emulator = emulator
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.clock = clock
        self.team_id = team_id or emulator.team_id
        self.timeout = timeout
        self.verification_token = verification_token
        self._sequence = count(1)
        self.holding: list[tuple[bytes, dict[str, str]]] | None = None
        #: Sends a prepared (body, headers) instead of an HTTP POST to ``bot_url``, e.g. as a
        #: Socket Mode envelope (:class:`bot.sandbox.socket_mode.SocketMode`).
        self.transport = transport

    # ------------------------------------------------------------------ helpers

    def _user(self, user_id: str) -> dict:
        user = self.emulator.user(user_id)
        name = user["name"] if user else user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _channel_name(self, channel_id: str) -> str:
        info = self.emulator.channel(channel_id)
        if info is None:
            return "unknown"
        if info["is_im"]:
            return "directmessage"
        if info["is_mpim"]:
            return "mpdm"
        return info["name"]

    def _team(self) -> dict:
        return {"id": self.team_id, "domain": self.emulator.team_domain}

    def _action_ts(self) -> str:
        now = self.clock()
        return f"{now:.6f}"

    # ------------------------------------------------------------------ transport

    def send_raw(
        self,
        body: bytes,
        content_type: str,
        headers: dict | None = None,
        *,
        sign: bool = True,
        timestamp: int | None = None,
    ) -> Reply:
        """POST ``body`` to the bot; signs it unless ``sign=False``."""
        out = self.headers_for(body, content_type, headers, sign=sign, timestamp=timestamp)
        if self.holding is not None:  # prepared for sending later, from elsewhere
            self.holding.append((body, out))
            return Reply(0, "", None)
        if self.transport is not None:
            return self.transport(body, out)
        return deliver(self.bot_url, body, out, self.timeout)

    def headers_for(
        self,
        body: bytes,
        content_type: str,
        headers: dict | None = None,
        *,
        sign: bool = True,
        timestamp: int | None = None,
    ) -> dict[str, str]:
        """Return the HTTP headers Slack sends with ``body``, signed unless ``sign=False``."""
        ts = int(self.clock()) if timestamp is None else int(timestamp)
        out = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if sign:
            out["X-Slack-Request-Timestamp"] = str(ts)
            out["X-Slack-Signature"] = signature_for(self.signing_secret, ts, body)
        if headers:
            out.update(headers)
        return out

    @contextmanager
    def held(self) -> Iterator[list[tuple[bytes, dict[str, str]]]]:
        """Within the block, requests are prepared (body, headers) instead of sent."""
        self.holding = []
        try:
            yield self.holding
        finally:
            self.holding = None

    def _send(
        self,
        body: bytes,
        content_type: str,
        *,
        retry_num: int | None,
        signature: str | None = None,
        timestamp: int | None = None,
    ) -> Reply:
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        if signature is not None:
            headers["X-Slack-Signature"] = signature
        return self.send_raw(body, content_type, headers, timestamp=timestamp)

    def _send_payload(self, payload: dict) -> Reply:
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return self._send(body, "application/x-www-form-urlencoded", retry_num=None)

    # ------------------------------------------------------------------ Slack requests

    def command(
        self,
        user_id: str,
        command: str,
        text: str = "",
        channel_id: str = "C0TEAM0001",
        *,
        retry_num: int | None = None,
        signature: str | None = None,
        timestamp: int | None = None,
    ) -> Reply:
        """A slash command invocation, form-encoded as Slack sends it."""
        user = self._user(user_id)
        form = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.emulator.team_domain,
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": user["name"],
            "command": command,
            "text": text,
            "api_app_id": self.emulator.app_id,
            "is_enterprise_install": "false",
            "response_url": self.emulator.new_response_url(channel_id=channel_id, user_id=user_id),
            "trigger_id": self.emulator.new_trigger_id(user_id=user_id),
        }
        body = urlencode(form).encode()
        return self._send(
            body,
            "application/x-www-form-urlencoded",
            retry_num=retry_num,
            signature=signature,
            timestamp=timestamp,
        )

    def action(
        self,
        user_id: str,
        action_id: str,
        value: Any = None,
        *,
        block_id: str = "b",
        channel_id: str | None = None,
        message_ts: str | None = None,
        view: dict | None = None,
        trigger: bool = True,
    ) -> Reply:
        """A ``block_actions`` payload (a button press unless ``value`` is a dict).

        A dict ``value`` is merged into the action, e.g.
        ``{"type": "static_select", "selected_option": {...}}``.
        """
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "type": "button",
            "action_ts": self._action_ts(),
        }
        if isinstance(value, dict):
            action.update(value)
        else:
            action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
            if value is not None:
                action["value"] = value
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.emulator.app_id,
            "token": self.verification_token,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = self._view_payload(view, view.get("state", {}).get("values", {}))
        elif channel_id is not None:
            container: dict[str, Any] = {
                "type": "message",
                "channel_id": channel_id,
                "is_ephemeral": message_ts is None,
            }
            if message_ts is not None:
                container["message_ts"] = message_ts
            payload["container"] = container
        else:
            payload["container"] = {}
        if trigger:
            payload["trigger_id"] = self.emulator.new_trigger_id(user_id=user_id)
        if channel_id is not None:
            payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
            if message_ts is not None:
                payload["message"] = self._message(channel_id, message_ts)
            payload["state"] = {"values": {}}
            payload["response_url"] = self.emulator.new_response_url(
                channel_id=channel_id, user_id=user_id, message_ts=message_ts
            )
        payload["actions"] = [action]
        return self._send_payload(payload)

    def submit_view(
        self, user_id: str, view: dict, values: dict, *, view_id: str | None = None
    ) -> Reply:
        """A ``view_submission``; ``values`` is ``{block_id: {action_id: value-dict}}``.

        A plain string value is shorthand for a ``plain_text_input`` value. When
        the bot acknowledges, the emulator's modal stack follows ``response_action``.
        """
        state = {
            block: {
                action: ({"type": "plain_text_input", "value": v} if isinstance(v, str) else v)
                for action, v in actions.items()
            }
            for block, actions in values.items()
        }
        submitted = self._view_payload(view, state, view_id=view_id)
        payload = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.emulator.app_id,
            "token": self.verification_token,
            "trigger_id": self.emulator.new_trigger_id(user_id=user_id),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        reply = self._send_payload(payload)
        if reply.ok:
            self.emulator.apply_view_response(user_id, submitted["id"], reply.json)
        return reply

    def message_shortcut(
        self, user_id: str, callback_id: str, channel_id: str, message_ts: str
    ) -> Reply:
        """A ``message_action``: the user picked a message shortcut on a message."""
        payload = {
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": self._user(user_id),
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.emulator.new_trigger_id(user_id=user_id),
            "response_url": self.emulator.new_response_url(
                channel_id=channel_id, user_id=user_id, message_ts=message_ts
            ),
            "message_ts": message_ts,
            "message": self._message(channel_id, message_ts),
        }
        return self._send_payload(payload)

    def reaction(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        reaction: str = "pushpin",
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> Reply:
        """A ``reaction_added`` event: the user reacted to a message (item_user its author)."""
        author = next(
            (m["user"] for m in self.emulator.messages(channel_id) if m["ts"] == message_ts), None
        )
        channel = self.emulator.channel(channel_id) or {}
        event: dict[str, Any] = {
            "type": "reaction_added",
            "user": user_id,
            "reaction": reaction,
            "item": {
                "type": "message",
                "channel": channel_id,
                "ts": message_ts,
                "channel_type": "group" if channel.get("is_private") else "channel",
            },
        }
        if author:  # messages not authored by a user (webhooks) carry no item_user
            event["item_user"] = author
        return self.event(event, event_id=event_id, retry_num=retry_num)

    def event(
        self, event: dict, *, event_id: str | None = None, retry_num: int | None = None
    ) -> Reply:
        """An ``event_callback`` envelope around ``event``."""
        now = self.clock()
        inner = dict(event)
        inner.setdefault("event_ts", f"{now:.6f}")
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.emulator.app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or f"Ev{int(now)}{next(self._sequence):06d}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.emulator.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-sandbox-{next(self._sequence)}",
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        return self._send(body, "application/json", retry_num=retry_num)

    def url_verification(self, challenge: str = "sandbox-challenge") -> Reply:
        """The Events API URL verification handshake."""
        body = json.dumps(
            {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        ).encode()
        return self._send(body, "application/json", retry_num=None)

    # ------------------------------------------------------------------ payload pieces

    def _message(self, channel_id: str, message_ts: str) -> dict:
        for message in self.emulator.messages(channel_id):
            if message["ts"] == message_ts:
                out = {
                    "type": "message",
                    "user": message["user"],
                    "ts": message["ts"],
                    "text": message["text"],
                    "team": self.team_id,
                }
                if message["user"] == self.emulator.bot_user_id:
                    out["bot_id"] = self.emulator.bot_id
                    out["app_id"] = self.emulator.app_id
                if message.get("blocks"):
                    out["blocks"] = message["blocks"]
                if message.get("thread_ts"):
                    out["thread_ts"] = message["thread_ts"]
                return out
        return {"type": "message", "ts": message_ts, "text": ""}

    def _view_payload(self, view: dict, values: dict, *, view_id: str | None = None) -> dict:
        vid = view_id or view.get("id")
        known = self.emulator.views.get(vid) if vid else None
        base = dict(known) if known else {}
        base.update({k: v for k, v in view.items() if k != "state"})
        if not vid:
            digest = hashlib.sha1(json.dumps(view, sort_keys=True, default=str).encode())
            vid = "V" + digest.hexdigest()[:10].upper()
        return {
            "id": vid,
            "team_id": self.team_id,
            "type": base.get("type", "modal"),
            "blocks": base.get("blocks", []),
            "private_metadata": base.get("private_metadata", ""),
            "callback_id": base.get("callback_id", ""),
            "state": {"values": values},
            "hash": base.get("hash", f"{int(self.clock())}.sandbox"),
            "title": base.get("title", {"type": "plain_text", "text": "Modal"}),
            "clear_on_close": base.get("clear_on_close", False),
            "notify_on_close": base.get("notify_on_close", False),
            "close": base.get("close"),
            "submit": base.get("submit"),
            "previous_view_id": base.get("previous_view_id"),
            "root_view_id": base.get("root_view_id", vid),
            "app_id": self.emulator.app_id,
            "external_id": base.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.emulator.bot_id,
        }
