"""Socket Mode for the emulator: Slack's side of the WebSocket an app opens instead of a URL.

The app calls ``apps.connections.open`` with its app-level token (``xapp-…``; a bot token gets
``not_allowed_token_type``, an unknown app token ``invalid_auth``) and gets a one-use
``ws://127.0.0.1:<port>/link/?ticket=…`` URL. On connecting it receives ``hello``; after that,
the same slash commands, interactivity payloads and events the driver would POST arrive as
envelopes::

    {"envelope_id": "…", "type": "slash_commands" | "interactive" | "events_api",
     "payload": {…}, "accepts_response_payload": true | false,
     "retry_attempt": 0, "retry_reason": ""}            # the last two: events_api only

The app acknowledges each with ``{"envelope_id": "…", "payload": {…}}`` within
:attr:`SocketMode.ack_timeout` (3 s) on any of its connections, a payload only where Slack
takes one (slash commands, ``view_submission`` and ``block_suggestion``). An event not
acknowledged in time, or left unacknowledged on a connection that closed, is delivered again
with ``retry_attempt`` + 1 and ``retry_reason: "timeout"`` (up to 3 retries), like Slack does; a
command or interaction is not (the user would see Slack's error). :meth:`SocketMode.disconnect`
sends ``disconnect`` (``refresh_requested``: the app reconnects and Slack closes the old
socket; ``link_disabled``: closed at once), so reconnects can be tested.

:meth:`SocketMode.transport` plugs into :class:`~bot.sandbox.driver.Driver`: every request the
driver builds goes out as an envelope and the acknowledgement comes back as its
:class:`~bot.sandbox.driver.Reply`.
"""

from __future__ import annotations

import contextlib
import http
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.sandbox.driver import Reply
from bot.sandbox.emulator import Emulator

__all__ = ["Envelope", "SocketMode"]

log = logging.getLogger(__name__)

ACK_TIMEOUT = 3.0  # seconds Slack waits for an envelope's acknowledgement
EVENT_RETRIES = 3  # redeliveries of an unacknowledged events_api envelope
TICKET_LIFETIME = 60.0  # seconds a URL from apps.connections.open can be used
REFRESH_GRACE = 10.0  # seconds Slack keeps a socket open after asking the app to reconnect
_RESPONSE_PAYLOAD = frozenset({"view_submission", "block_suggestion"})


@dataclass
class Envelope:
    """One envelope as sent, and its acknowledgement once it came."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int = 0
    retry_reason: str = ""
    connection: int | None = None
    acked: threading.Event = field(default_factory=threading.Event)
    ack: dict[str, Any] | None = None

    def message(self) -> dict[str, Any]:
        """Return the envelope as it goes over the socket."""
        out: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            out["retry_attempt"] = self.retry_attempt
            out["retry_reason"] = self.retry_reason
        return out


class _Link:
    """One open socket of the app."""

    def __init__(self, number: int, ws: ServerConnection) -> None:
        self.number = number
        self.ws = ws
        self.draining = False  # asked to reconnect: nothing new goes out on it
        self.refreshing = False  # ... and closed once the app has opened its next socket
        self.closed = threading.Event()
        self.send_lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> bool:
        with self.send_lock:
            if self.closed.is_set():
                return False
            try:
                self.ws.send(json.dumps(message, separators=(",", ":")))
            except (ConnectionClosed, OSError):
                return False
            return True


class SocketMode:
    """The emulator's Socket Mode endpoint: connection tickets, envelopes, acks, disconnects."""

    def __init__(
        self,
        emulator: Emulator,
        *,
        app_token: str = "xapp-1-A0SANDBOX1-1-sandbox",
        ack_timeout: float = ACK_TIMEOUT,
        event_retries: int = EVENT_RETRIES,
    ) -> None:
        self.emulator = emulator
        self.app_token = app_token
        self.ack_timeout = ack_timeout
        self.event_retries = event_retries
        self._lock = threading.Condition()
        self._tickets: dict[str, float] = {}
        self._links: list[_Link] = []
        self._numbers = iter(range(1, 1_000_000))
        self._pending: dict[str, Envelope] = {}
        self._lose_acks = 0
        self._turn = -1
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        #: Every envelope sent, redeliveries included, in order.
        self.sent: list[Envelope] = []
        #: Acknowledgements discarded on purpose (:meth:`lose_acks`), by envelope id.
        self.lost: list[str] = []
        #: Every connection made (its number), and the reasons of each disconnect sent.
        self.connections: list[int] = []
        self.disconnects: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SocketMode:
        """Serve WebSockets on loopback and add ``apps.connections.open`` to the emulator."""
        if self._server is not None:
            return self
        self._server = serve(
            self._serve_link,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            ping_interval=None,  # the app pings; Slack answers
            max_size=2**22,
        )
        port = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/link/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"slack-socket-{port}", daemon=True
        )
        self._thread.start()
        self.emulator.app_token = self.app_token
        self.emulator.app_methods["apps.connections.open"] = self._connections_open
        self.emulator.on_stop.append(self.stop)
        return self

    def stop(self) -> None:
        """Close every socket and stop serving."""
        self.emulator.app_methods.pop("apps.connections.open", None)
        if self.stop in self.emulator.on_stop:
            self.emulator.on_stop.remove(self.stop)
        server, self._server = self._server, None
        with self._lock:
            links = list(self._links)
        for link in links:
            with contextlib.suppress(Exception):
                link.ws.close()
        if server is not None:
            server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SocketMode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the Web API method

    def _connections_open(self, args: dict) -> dict:
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets[ticket] = time.monotonic() + TICKET_LIFETIME
        return {"url": f"{self.url}?ticket={ticket}&app_id={self.emulator.app_id}"}

    def _check_ticket(self, ws: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        ticket = (parse_qs(parts.query).get("ticket") or [""])[0]
        with self._lock:
            expires = self._tickets.pop(ticket, None)  # one use each
        if parts.path != "/link/" or expires is None or expires < time.monotonic():
            return ws.respond(http.HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")
        return None

    # ------------------------------------------------------------------ sockets

    @property
    def connected(self) -> int:
        """Return how many sockets of the app are open and taking envelopes."""
        with self._lock:
            return sum(1 for link in self._links if not link.draining)

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Block until at least `count` sockets take envelopes."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while sum(1 for link in self._links if not link.draining) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the app has not connected {count} socket(s)")
                self._lock.wait(left)

    def _serve_link(self, ws: ServerConnection) -> None:
        with self._lock:
            link = _Link(next(self._numbers), ws)
            self._links.append(link)
            self.connections.append(link.number)
            num = len(self._links)
        link.send(
            {
                "type": "hello",
                "num_connections": num,
                "debug_info": {
                    "host": f"applink-sandbox-{link.number}",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.emulator.app_id},
            }
        )
        with self._lock:
            replaced = [other for other in self._links if other.refreshing]
            for other in replaced:
                other.refreshing = False
            self._lock.notify_all()
        for other in replaced:  # the app has reconnected: Slack retires the old socket
            other.ws.close()
        try:
            for raw in ws:
                self._received(raw)
        except ConnectionClosed:
            pass
        finally:
            with link.send_lock:
                link.closed.set()
            with self._lock:
                self._links.remove(link)
                self._lock.notify_all()

    def _received(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("socket mode: not JSON from the app: %.200r", raw)
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if not envelope_id:
            return
        with self._lock:
            envelope = self._pending.get(envelope_id)
            if envelope is None or envelope.acked.is_set():
                return  # late, unknown or repeated: Slack ignores it
            if self._lose_acks > 0:
                self._lose_acks -= 1
                self.lost.append(envelope_id)
                return
            payload = message.get("payload")
            envelope.ack = payload if isinstance(payload, dict) else {}
            envelope.acked.set()

    def lose_acks(self, count: int = 1) -> None:
        """Discard the next `count` acknowledgements, as if they never arrived."""
        with self._lock:
            self._lose_acks += count

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send ``disconnect`` on every open socket; ``link_disabled`` closes them at once."""
        with self._lock:
            links = [link for link in self._links if not link.draining]
            for link in links:
                link.draining = True
                link.refreshing = reason == "refresh_requested"
            self.disconnects.append(reason)
        for link in links:
            sent = link.send(
                {
                    "type": "disconnect",
                    "reason": reason,
                    "debug_info": {"host": f"applink-sandbox-{link.number}"},
                }
            )
            if reason == "refresh_requested" and sent:
                closer = threading.Timer(REFRESH_GRACE, link.ws.close)
                closer.daemon = True
                closer.start()
            else:
                link.ws.close()

    # ------------------------------------------------------------------ envelopes

    def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> Envelope | None:
        """Deliver one envelope (again, for an event not acknowledged); return it once
        acknowledged, or None when the app did not acknowledge it in time."""
        accepts = kind == "slash_commands" or (
            kind == "interactive" and payload.get("type") in _RESPONSE_PAYLOAD
        )
        tries = 1 + (self.event_retries if kind == "events_api" else 0)
        for attempt in range(tries):
            envelope = Envelope(
                str(uuid.uuid4()),
                kind,
                payload,
                accepts,
                retry_attempt + attempt,
                retry_reason if attempt == 0 else "timeout",
            )
            if self._deliver_once(envelope):
                return envelope
        return None

    def _deliver_once(self, envelope: Envelope) -> bool:
        deadline = time.monotonic() + self.ack_timeout
        with self._lock:
            self._pending[envelope.envelope_id] = envelope
        try:
            link = self._pick(deadline)
            while link is not None:
                envelope.connection = link.number
                with self._lock:
                    self.sent.append(envelope)
                if link.send(envelope.message()):
                    break
                link = self._pick(deadline)  # it closed under us: the next one
            if link is None:
                return False
            # An acknowledgement may come on another socket than the envelope went out on
            # (a client answers on whichever is current), so only the deadline counts.
            return envelope.acked.wait(max(0.0, deadline - time.monotonic()))
        finally:
            with self._lock:
                self._pending.pop(envelope.envelope_id, None)

    def _pick(self, deadline: float) -> _Link | None:
        """Return an open socket taking envelopes (each in turn, as Slack spreads them over an
        app's sockets), waiting for one until `deadline`."""
        with self._lock:
            while True:
                live = [link for link in self._links if not link.draining]
                if live:
                    self._turn += 1
                    return live[self._turn % len(live)]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)

    # ------------------------------------------------------------------ the driver's transport

    def transport(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        """Send a request the driver built as an envelope; return the acknowledgement."""
        started = time.perf_counter()
        kind, payload = envelope_payload(body, headers)
        retry = headers.get("X-Slack-Retry-Num")
        envelope = self.send(
            kind,
            payload,
            retry_attempt=int(retry) if retry else 0,
            retry_reason=headers.get("X-Slack-Retry-Reason", "") if retry else "",
        )
        elapsed = time.perf_counter() - started
        if envelope is None:
            return Reply(0, "operation_timeout", None, {}, elapsed)
        if not envelope.ack:
            return Reply(200, "", None, {}, elapsed)
        answer = json.dumps(envelope.ack, ensure_ascii=False)
        return Reply(200, answer, envelope.ack, {}, elapsed)


def envelope_payload(body: bytes, headers: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Return the envelope type and payload Slack sends for an HTTP request's body."""
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    text = body.decode("utf-8")
    if content_type == "application/json":
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("type") != "event_callback":
            raise ValueError("only event callbacks travel over Socket Mode")
        return "events_api", data
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        return "interactive", json.loads(form["payload"])
    return "slash_commands", form
