"""Kill the bot (SIGKILL) at every step of raising an escalation; the restart finishes it.

The bot runs as `python -m bot run`, as in production, against an emulator that can hold a
Web API call at a chosen step: either before Slack acts on it (the process dies having
asked nothing) or after Slack acted but before the bot hears back (the process dies not
knowing that the channel, invite, post or pin exists). Each restart must finish the
escalation killed before it — one channel, one card, one pin, one announcement, each person
invited once — and then serves the next drill.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.config import TeamConfig
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import _RESET, Emulator
from bot.sandbox.seed import seed
from storage.db import Database
from storage.models import Escalation
from tests.support.config import EXAMPLE
from tests.support.process import wired

pytestmark = pytest.mark.slow

SECRET = "crash-drill-secret"
REPORTER = "U0ANA00001"
START_TIMEOUT = 30.0  # a bounded wait for the subprocess to come up
STEP_TIMEOUT = 30.0


@dataclass
class Gate:
    """Hold the first call of `method` for one drill, before or after Slack performs it."""

    name: str
    method: str
    after: bool
    feed: bool | None = None  # chat.postMessage: the feed announcement, or the channel card
    tag: str = ""  # which drill's escalation: its title (and so its channel name) has it
    key: str = ""  # or which ping: the start of the ledger key its message is tagged with
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class GatedEmulator(Emulator):
    """The emulator, able to hold calls of chosen escalations while the test kills the bot."""

    gates: list[Gate]

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.gates = []

    def _mentions(self, args: dict[str, Any], tag: str) -> bool:
        text = json.dumps(args).lower()
        if tag in text:
            return True
        channels = [args.get("channel"), *re.findall(r"<#(C[A-Z0-9]+)", text.upper())]
        for channel in channels:
            record = self.channel(channel) if isinstance(channel, str) else None
            if record is not None and tag in record["name"]:
                return True
        return False

    def _gate(self, method: str, args: dict[str, Any]) -> Gate | None:
        for gate in self.gates:
            if gate.method != method or gate.reached.is_set():
                continue
            if gate.feed is not None and (args.get("channel") == FEED) != gate.feed:
                continue
            if gate.key:
                if _key_of(args).startswith(gate.key) and self._mentions(args, gate.tag):
                    return gate
                continue
            if self._mentions(args, gate.tag):
                return gate
        return None

    def _route(self, verb: str, path: str, query: str, headers: Any, body: bytes) -> Any:
        method = path.removeprefix("/api/") if path.startswith("/api/") else "response_url"
        if not self.gates:
            return super()._route(verb, path, query, headers, body)
        try:
            if method == "response_url":
                args = json.loads(body or b"{}")
            else:
                args, _ = self._parse_args(verb, query, headers, body)
        except Exception:
            args = {}
        gate = self._gate(method, args)
        if gate is None:
            return super()._route(verb, path, query, headers, body)
        if not gate.after:
            gate.reached.set()
            gate.release.wait(STEP_TIMEOUT)
            return _RESET  # the caller is dead; Slack never acted
        answer = super()._route(verb, path, query, headers, body)
        gate.reached.set()
        gate.release.wait(STEP_TIMEOUT)
        return answer  # to a dead socket: the bot never learns it was done


def _key_of(args: dict[str, Any]) -> str:
    """Return the ledger key a message is tagged with ('' for none)."""
    meta = args.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return ""
    return str(((meta or {}).get("event_payload") or {}).get("key") or "")


FEED = "C0FEED0001"
# At most four drills a round: each holds one of the bot's four outbox workers.
ROUNDS = [
    [
        Gate("after the record", "conversations.create", after=False),
        Gate("after the channel, unsaved", "conversations.create", after=True),
        Gate("after the channel", "conversations.invite", after=False),
        Gate("after the invite, unsaved", "conversations.invite", after=True),
    ],
    [
        Gate("after the card post, unsaved", "chat.postMessage", after=True, feed=False),
        Gate("after the pin, unsaved", "pins.add", after=True),
        Gate("after the announcement, unsaved", "chat.postMessage", after=True, feed=True),
        Gate("after the announcement", "response_url", after=False),
    ],
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Bot:
    """`python -m bot run` in its own process."""

    def __init__(self, emulator: Emulator, db_url: str, workdir: Path):
        self.port = _free_port()
        self.env = {
            **os.environ,
            "SLACK_BOT_TOKEN": emulator.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": emulator.url,
            "DATABASE_URL": db_url,
            "ESCALATION_CONFIG": str(EXAMPLE),
            "PORT": str(self.port),
        }
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """Return the Slack endpoint."""
        return f"http://127.0.0.1:{self.port}/slack/events"

    def start(self, *, scheduler: bool = False) -> None:
        """Start the process and wait (bounded) until it has wired the bot."""
        log = open(self.workdir / f"bot-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *([] if scheduler else ["--no-scheduler"])],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (
                self.workdir / f"bot-{self.starts - 1}.log"
            ).read_text()
            if wired(f"http://127.0.0.1:{self.port}"):
                return
            time.sleep(0.05)  # bounded wait for the subprocess to come up
        raise AssertionError("the bot did not come up")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop it if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def drill(config: TeamConfig, tmp_path: Path) -> Iterator[tuple[GatedEmulator, Bot, Database]]:
    """A gated emulator, the bot as a subprocess, and the database both use."""
    emulator = GatedEmulator(rate_limits=False)
    emulator.start()
    assert emulator._server is not None  # answers to a killed bot break their pipe: expected
    emulator._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    seed(emulator, config)
    db = Database(f"sqlite:///{tmp_path / 'crash.db'}")
    bot = Bot(emulator, db.url, tmp_path)
    yield emulator, bot, db
    bot.stop()
    for gate in emulator.gates:
        gate.release.set()
    emulator.stop()
    db.dispose()


def _tagged(db: Database, tag: str) -> Escalation | None:
    with db.uow() as uow:
        for esc in uow.repos.escalations.find():
            if tag in esc.title.lower():
                _ = list(esc.participants)
                return esc
    return None


def _wait_staffed(db: Database, emulator: Emulator, tag: str) -> Escalation:
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        esc = _tagged(db, tag)
        if esc is not None and esc.staffed_at is not None:
            ref = re.compile(rf"\b{esc.ref}\b")
            if any(ref.search(str(r["payload"])) for r in emulator.responses):
                return esc
        time.sleep(0.05)  # the subprocess works in real time
    raise AssertionError(f"{tag} was not staffed and confirmed after a restart")


def test_a_kill_at_any_step_of_raising_is_finished_after_restart(drill):
    emulator, bot, db = drill
    driver = Driver(emulator, bot.url, SECRET)
    bot.start()
    drills = 0
    for gates in ROUNDS:
        for gate in gates:
            drills += 1
            gate.tag = f"drill{drills:02d}"
        emulator.gates = gates
        for gate in gates:
            reply = driver.command(REPORTER, "/escalate", f"SEV2 {gate.tag} {gate.name}")
            assert reply.status == 200, reply.body
        for gate in gates:
            assert gate.reached.wait(STEP_TIMEOUT), f"{gate.name}: the bot never got there"
        bot.kill()  # every drill of the round dies at its own step
        emulator.gates = []
        for gate in gates:
            gate.release.set()
        bot.start()
        for gate in gates:
            _wait_staffed(db, emulator, gate.tag)
    bot.stop()

    with db.uow() as uow:
        rows = uow.repos.escalations.find()
        for row in rows:
            _ = list(row.participants)
    assert sorted(r.id for r in rows) == list(range(1, drills + 1))
    created = [c for c in emulator.calls_of("conversations.create") if c.ok]
    assert len(created) == drills  # one channel each, never a second
    invited: dict[str, list[str]] = {}
    for call in emulator.calls_of("conversations.invite"):  # asked, whatever the answer
        invited.setdefault(call.args["channel"], []).extend(call.args["users"].split(","))
    feed = emulator.messages(FEED)
    for row in rows:
        assert row.staffed_at and row.card_pinned and row.announce_ts, row.ref
        channel = emulator.channel(row.channel_id)
        assert channel is not None and channel["name"].startswith(f"esc-{row.id}-drill")
        messages = emulator.messages(row.channel_id)
        cards = [m for m in messages if (m.get("metadata") or {}).get("event_payload")]
        assert [m["ts"] for m in cards] == [row.card_ts], f"{row.ref}: {len(cards)} cards"
        assert channel["pins"] == [row.card_ts]
        ref = re.compile(rf"\b{row.ref}\b")
        assert len([m for m in feed if ref.search(m["text"])]) == 1, row.ref
        people = invited.get(row.channel_id, [])
        assert len(people) == len(set(people)), f"{row.ref}: invited twice: {people}"
        assert {p.user_id for p in row.participants} <= set(channel["members"])
        said = [r for r in emulator.responses if ref.search(str(r["payload"]))]
        assert len(said) == 1, f"{row.ref}: confirmed {len(said)} times"
    print(f"\n{drills} kills at distinct steps survived in {bot.starts} starts")


def _dms(emulator: Emulator, prefix: str) -> dict[str, int]:
    """Return how many times each DM tagged with a key starting `prefix` reached Slack."""
    counts: dict[str, int] = {}
    for call in emulator.calls_of("chat.postMessage"):
        key = _key_of(call.args)
        if call.ok and key.startswith(prefix) and str(call.args.get("channel", "")).startswith("U"):
            counts[key] = counts.get(key, 0) + 1
    return counts


def _wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT * 3
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)  # the subprocess works in real time
    raise AssertionError(f"{what} did not happen after a restart")


def test_a_kill_while_sending_a_page_a_reminder_or_a_brief_sends_each_dm_once(drill):
    """SIGKILL the bot (with its scheduler) at each step of sending a DM: before Slack acts,
    and after Slack acted but before the bot heard back. The restart sends each DM once."""
    emulator, bot, _ = drill
    driver = Driver(emulator, bot.url, SECRET)
    bot.start(scheduler=True)
    # Round 1: the first page's DM, killed before and after Slack posts it.
    pages = [
        Gate("page DM, unsent", "chat.postMessage", after=False, tag="drillpa", key="page:"),
        Gate("page DM, sent unsaved", "chat.postMessage", after=True, tag="drillpb", key="page:"),
    ]
    emulator.gates = pages
    for gate in pages:
        reply = driver.command(REPORTER, "/escalate", f"SEV3 {gate.tag} {gate.name}")
        assert reply.status == 200, reply.body
    for gate in pages:
        assert gate.reached.wait(STEP_TIMEOUT), f"{gate.name}: the bot never got there"
    bot.kill()
    emulator.gates = []
    for gate in pages:
        gate.release.set()
    bot.start(scheduler=True)
    _wait_for(lambda: len(_dms(emulator, "page:")) >= 2, "both page DMs")
    # Round 2: an override puts Dan on call now: his shift-start DM and the handoff brief.
    rotation = [
        Gate("shift-start DM, sent unsaved", "chat.postMessage", after=True, key="shift_start:"),
        Gate("handoff brief, unsent", "chat.postMessage", after=False, key="handoff:"),
    ]
    emulator.gates = rotation
    reply = driver.command(
        "U0LEAD0001", "/oncall", "override <@U0DAN00001|dan> now +3h primary", channel_id=FEED
    )
    assert reply.status == 200, reply.body
    for gate in rotation:
        assert gate.reached.wait(STEP_TIMEOUT * 2), f"{gate.name}: the bot never got there"
    bot.kill()
    emulator.gates = []
    for gate in rotation:
        gate.release.set()
    bot.start(scheduler=True)
    _wait_for(
        lambda: _dms(emulator, "shift_start:") and _dms(emulator, "handoff:"),
        "the shift-start DM and the handoff brief",
    )
    bot.stop()
    sent = _dms(emulator, "")
    assert all(n == 1 for n in sent.values()), f"a DM went out twice: {sent}"
    dan = [k for k in sent if k.startswith("shift_start:primary:U0DAN00001:")]
    brief = [k for k in sent if k.startswith("handoff:primary:") and k.endswith(":brief")]
    assert len(_dms(emulator, "page:")) == 2 and len(dan) == 1 and brief, sorted(sent)
    assert brief[-1].split(":")[2] == dan[0].split(":")[3]  # Dan's handoff, his brief
    print(f"\n4 kills at DM steps survived in {bot.starts} starts: {sorted(sent)}")
