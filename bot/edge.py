"""The edge of `/slack/events`: the signature checked before any parsing, the shape after.

A request without a valid signature is refused (401) before its body is read as anything; a
signed one is parsed, and one that is not JSON where JSON belongs, or lacks a field the
listeners read, is refused (400) with one log line — never handed on to fail in a listener.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)


_Url = Annotated[str, Field(pattern=r"^https?://[^\s/]+\S*$")]  # where replies go


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


_UserId = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,40}$")]  # U0ANA00001, W…


class _User(_Shape):
    id: _UserId


class _Option(_Shape):
    value: str


class _Element(_Shape):
    type: str | None = None
    value: str | None = None
    selected_option: _Option | None = None
    selected_options: list[_Option] | None = None
    selected_users: list[str] | None = None


class _State(_Shape):
    values: dict[str, dict[str, _Element]]


class _View(_Shape):
    id: str
    callback_id: str
    private_metadata: str | None = None


class _SubmittedView(_View):
    state: _State


class _Where(_Shape):
    id: str | None = None


class _Container(_Shape):
    channel_id: str | None = None
    message_ts: str | None = None


class _Action(_Shape):
    action_id: str
    value: str | None = None
    block_id: str | None = None


class _BlockActions(_Shape):
    user: _User
    actions: list[_Action]
    trigger_id: str | None = None
    response_url: _Url | None = None
    channel: _Where | None = None
    container: _Container | None = None
    message: dict[str, Any] | None = None
    view: _View | None = None


class _ViewSubmission(_Shape):
    user: _User
    view: _SubmittedView


class _ViewClosed(_Shape):
    user: _User
    view: _View


class _Shortcut(_Shape):
    user: _User
    callback_id: str
    trigger_id: str


class _MessageShortcut(_Shortcut):
    channel: _Where
    message: dict[str, Any]


class _Command(_Shape):
    command: str
    user_id: _UserId
    trigger_id: str
    text: str | None = None
    channel_id: str | None = None
    response_url: _Url | None = None


class _Event(_Shape):
    type: str
    user: str | None = None


class _HomeOpened(_Event):
    user: _UserId
    tab: str | None = None


class _MessageItem(_Shape):
    channel: str
    ts: str


class _ReactionAdded(_Event):
    user: _UserId
    reaction: str
    item: _MessageItem


class _EventCallback(_Shape):
    event: _Event
    event_id: str | None = None


class _ReactionAddedCallback(_EventCallback):
    event: _ReactionAdded


class _HomeOpenedCallback(_EventCallback):
    event: _HomeOpened


class _Challenge(_Shape):
    challenge: str


class _Envelope(_Shape):
    """What Bolt's own middleware reads of any request, of whatever kind: the right types."""

    type: str | None = None
    event: dict[str, Any] | None = None
    view: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    message: dict[str, Any] | None = None
    container: dict[str, Any] | None = None
    channel: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    team: dict[str, Any] | None = None
    enterprise: dict[str, Any] | None = None
    authorizations: list[dict[str, Any]] | None = None


_ENVELOPE = TypeAdapter(_Envelope)
_SHAPES: dict[str, TypeAdapter[Any]] = {
    kind: TypeAdapter(model)
    for kind, model in {
        "block_actions": _BlockActions,
        "view_submission": _ViewSubmission,
        "view_closed": _ViewClosed,
        "shortcut": _Shortcut,
        "message_action": _MessageShortcut,
        "event_callback": _EventCallback,
        "url_verification": _Challenge,
    }.items()
}
_COMMAND = TypeAdapter(_Command)
_EVENTS: dict[str, TypeAdapter[Any]] = {
    "app_home_opened": TypeAdapter(_HomeOpenedCallback),
    "reaction_added": TypeAdapter(_ReactionAddedCallback),
}


def signed(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    """Return True when the request carries Slack's valid, recent signature over `body`."""
    try:
        return verifier.is_valid_request(body, dict(headers))
    except (ValueError, TypeError, UnicodeError):  # a timestamp that is no number, and so on
        return False


def parse(body: bytes, headers: Mapping[str, str], query: str = "") -> BoltRequest | str:
    """Return the request Bolt dispatches, or why a signed request is malformed."""
    try:
        raw = body.decode("utf-8")
        request = BoltRequest(body=raw, query=query, headers=dict(headers))
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        # JSON that is not JSON, or a payload that is no object (Bolt reads it as one)
        return f"unreadable body ({type(exc).__name__})"
    return malformed(request.body) or request


def malformed(body: Any) -> str | None:
    """Return what is missing or wrong in a parsed Slack request, or None if it is whole.

    Kinds no listener takes pass (Bolt answers them 404); the ones listeners read must carry
    every field they read, of the right type.
    """
    if not isinstance(body, dict) or not body:
        return "not a Slack request"
    kind = body.get("type")
    try:
        if "command" not in body:
            _ENVELOPE.validate_python(body)
        if "command" in body:
            _COMMAND.validate_python(body)
        elif isinstance(kind, str) and kind in _SHAPES:
            _SHAPES[kind].validate_python(body)
            event = body.get("event") or {}
            if kind == "event_callback" and event.get("type") in _EVENTS:
                _EVENTS[event["type"]].validate_python(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return f"{kind or 'command'}: {where}: {first['msg']}"
    return None
