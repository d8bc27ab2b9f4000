"""Web API dispatch: routing a request to its method, argument parsing, token checks,
injected faults, per-tier and per-channel rate limits, call records, and posts to
response_url.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

from bot.sandbox.emulator.args import _text_arg, _truthy
from bot.sandbox.emulator.blocks import _check_message_blocks
from bot.sandbox.emulator.limits import (
    METHOD_TIERS,
    POST_MESSAGE_BURST,
    POST_MESSAGE_RATE,
    RESPONSE_URL_LIFETIME,
    RESPONSE_URL_USES,
    TIER_LIMITS,
)
from bot.sandbox.emulator.records import (
    _RESET,
    Call,
    SlackError,
    _Fault,
    _json_response,
    _ResponseUrl,
)
from bot.sandbox.emulator.state import WorkspaceState


class WebApiDispatch(WorkspaceState):
    """Routes HTTP requests to the Web API methods and to response URLs."""

    # ------------------------------------------------------------------ HTTP routing

    def _route(self, verb: str, path: str, query: str, headers, body: bytes):
        if path.startswith("/api/"):
            return self._web_api(path[len("/api/") :], verb, query, headers, body)
        if path.startswith("/_response/"):
            if verb != "POST":
                return 405, {"Content-Type": "text/plain", "Allow": "POST"}, b"method not allowed"
            return self._response_url(path[len("/_response/") :], headers, body)
        return 404, {"Content-Type": "text/plain"}, b"not found"

    def _parse_args(self, verb: str, query: str, headers, body: bytes) -> tuple[dict, bool]:
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        is_json = False
        if verb == "POST" and body:
            content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type == "application/json":
                try:
                    data = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise SlackError("invalid_json") from None
                if not isinstance(data, dict):
                    raise SlackError("invalid_json")
                args.update(data)
                is_json = True
            elif content_type in ("application/x-www-form-urlencoded", "text/plain"):
                try:
                    args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                except UnicodeDecodeError:
                    raise SlackError("invalid_form_data") from None
            elif content_type == "":
                raise SlackError("missing_post_type")
            else:
                raise SlackError("invalid_post_type")
        return args, is_json

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault

    def _record(self, method: str, args: dict, ok: bool, error: str | None, status: int) -> None:
        clean = {k: v for k, v in args.items() if k != "token"}
        with self._lock:
            self.calls.append(Call(method, clean, ok, error, self._clock(), status))
        self.changed()

    def _fault_response(self, method: str, args: dict, fault: _Fault):
        if fault.latency > 0:
            time.sleep(fault.latency)
        if fault.reset:
            self._record(method, args, False, "connection_reset", 0)
            return _RESET
        if fault.status is not None:
            if fault.status == 429:
                error = fault.error or "ratelimited"
                headers = {"Retry-After": str(max(1, int(fault.retry_after)))}
            else:
                default = "service_unavailable" if fault.status == 503 else "internal_error"
                error = fault.error or default
                headers = {}
            self._record(method, args, False, error, fault.status)
            return _json_response(fault.status, {"ok": False, "error": error}, headers)
        if fault.error is not None:
            self._record(method, args, False, fault.error, 200)
            return _json_response(200, {"ok": False, "error": fault.error})
        return None

    def _web_api(self, method: str, verb: str, query: str, headers, body: bytes):
        handler = self._methods.get(method) or self.app_methods.get(method)
        if handler is None:
            self._record(method, {}, False, "unknown_method", 404)
            return _json_response(404, {"ok": False, "error": "unknown_method"})
        try:
            args, is_json = self._parse_args(verb, query, headers, body)
        except SlackError as refusal:
            self._record(method, {}, False, refusal.error, 200)
            return _json_response(200, {"ok": False, "error": refusal.error})

        fault = self._take_fault(method)
        if fault is not None:
            answer = self._fault_response(method, args, fault)
            if answer is not None:
                return answer

        # Authentication: bearer header, or a `token` argument (never inside JSON bodies).
        token = None
        authorization = headers.get("Authorization") or ""
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        elif not is_json:
            token = _text_arg(args, "token")
        if not token:
            self._record(method, args, False, "not_authed", 200)
            return _json_response(200, {"ok": False, "error": "not_authed"})
        refused = self._token_refusal(method, token)
        if refused is not None:
            self._record(method, args, False, refused, 200)
            return _json_response(200, {"ok": False, "error": refused})

        with self._lock:
            retry_after = self._rate_limit(method, args)
            if retry_after is not None:
                self._record(method, args, False, "ratelimited", 429)
                return _json_response(
                    429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
                )
            try:
                result = handler(args)
            except SlackError as refusal:
                self._record(method, args, False, refusal.error, 200)
                return _json_response(200, {"ok": False, "error": refusal.error, **refusal.extra})
            except Exception:
                self.server_errors.append(traceback.format_exc())
                self._record(method, args, False, "internal_error", 500)
                return _json_response(500, {"ok": False, "error": "internal_error"})
            ok = bool(result.get("ok", True))
            payload = {"ok": ok, **{k: v for k, v in result.items() if k != "ok"}}
            self._record(method, args, ok, None if ok else payload.get("error"), 200)
            return _json_response(200, payload)

    def _token_refusal(self, method: str, token: str) -> str | None:
        """Slack's error for a token of the wrong kind or value for ``method``, else None."""
        if method in self.app_methods:
            if not token.startswith("xapp-"):
                return "not_allowed_token_type"
            return None if token == self.app_token else "invalid_auth"
        if token.startswith("xapp-") and token == self.app_token:
            return "not_allowed_token_type"
        return None if token == self.bot_token else "invalid_auth"

    def _rate_limit(self, method: str, args: dict) -> int | None:
        """Seconds to wait when the call is over its limit, else None (and count it)."""
        if not self.rate_limits:
            return None
        now = self._clock()
        if method == "chat.postMessage":
            key = _text_arg(args, "channel") or ""
            record = self._channels.get(key)
            if record is None and key in self._users:
                dm = self._dm_by_key.get((key,))
                key = dm or key
            tokens, last = self._buckets.get(key, (float(POST_MESSAGE_BURST), now))
            refill = max(0.0, now - last) * POST_MESSAGE_RATE
            tokens = min(float(POST_MESSAGE_BURST), tokens + refill)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / POST_MESSAGE_RATE))
            self._buckets[key] = (tokens - 1.0, now)
            return None
        tier = METHOD_TIERS.get(method)
        if tier is None:
            return None
        window = self._windows.setdefault(method, deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= TIER_LIMITS[tier]:
            return max(1, math.ceil(window[0] + 60.0 - now))
        window.append(now)
        return None

    # ------------------------------------------------------------------ response_url

    def _response_url(self, key: str, headers, body: bytes):
        fault = self._take_fault("response_url")
        if fault is not None:
            if fault.latency > 0:
                time.sleep(fault.latency)
            if fault.reset:
                return _RESET
            if fault.status is not None:
                extra = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
                return _json_response(
                    fault.status, {"ok": False, "error": fault.error or "internal_error"}, extra
                )
            if fault.error is not None:
                return _json_response(404, {"ok": False, "error": fault.error})
        url = f"{self.base_url}/_response/{key}"
        with self._lock:
            entry = self._response_urls.get(key)
            if entry is None:
                return _json_response(404, {"ok": False, "error": "no_service"})
            if self._clock() - entry.issued > RESPONSE_URL_LIFETIME:
                return _json_response(404, {"ok": False, "error": "expired_url"})
            if entry.uses >= RESPONSE_URL_USES:
                return _json_response(404, {"ok": False, "error": "used_url"})
            try:
                payload = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return _json_response(400, {"ok": False, "error": "invalid_payload"})
            if not isinstance(payload, dict):
                return _json_response(400, {"ok": False, "error": "invalid_payload"})
            deleting = _truthy(payload.get("delete_original"))
            if not deleting and not payload.get("text") and not payload.get("blocks"):
                return _json_response(400, {"ok": False, "error": "no_text"})
            if payload.get("blocks"):
                try:
                    _check_message_blocks(payload["blocks"])
                except SlackError as refusal:
                    answer = {"ok": False, "error": refusal.error, **refusal.extra}
                    return _json_response(400, answer)
            entry.uses += 1
            self.responses.append({"url": url, "payload": payload})
            self.response_posts.append(
                {
                    "payload": payload,
                    "channel": entry.channel_id,
                    "user": entry.user_id,
                    "ts": self._next_ts(),
                }
            )
            self._apply_response(entry, payload)
        self.changed()
        return _json_response(200, {"ok": True})

    def _apply_response(self, entry: _ResponseUrl, payload: dict) -> None:
        record = self._channels.get(entry.channel_id or "")
        if record is None:
            return
        original = None
        if entry.message_ts:
            original = next((m for m in record["messages"] if m["ts"] == entry.message_ts), None)
        if _truthy(payload.get("delete_original")):
            if original is not None:
                record["messages"].remove(original)
            return
        if _truthy(payload.get("replace_original")) and original is not None:
            original["text"] = payload.get("text") or ""
            original["blocks"] = payload.get("blocks") or []
            original["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            return
        if payload.get("response_type") == "in_channel":
            self._append_message(
                record,
                text=payload.get("text"),
                blocks=payload.get("blocks"),
                attachments=payload.get("attachments"),
                args={"thread_ts": payload.get("thread_ts")} if payload.get("thread_ts") else {},
            )
