"""`escbot drill FILE.yaml`: a scripted scenario against a fresh sandbox, on simulated time.

A drill is a list of steps, each as a person would act: type a command, click a button,
fill the open form, wait simulated minutes (the scheduler's passes run at every moment
that falls due meanwhile), expect some text. Then it reports who was paged when, how long
the acknowledgement took, whether the SLA held, and which steps failed.
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.blocks import review_markdown, span
from bot.clock import FakeClock
from bot.config import TeamConfig
from bot.parsing.durations import parse_duration
from bot.sandbox.mentions import translate_mentions
from bot.sandbox.shell import Sandbox, form_values, start_sandbox, submit_form
from bot.sandbox.web import KNOWN_COMMANDS
from bot.settings import Settings
from bot.usecases.reports import sla_breached
from bot.usecases.review import operator_review

ACTIONS = ("type", "click", "submit", "cancel", "wait", "expect")
DEFAULT_START = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Los Angeles
MAX_PASSES = 10_000  # scheduler passes one `wait` may run (every due moment in it)
_ESC = re.compile(r"^ESC-(\d+)$", re.IGNORECASE)


class DrillError(Exception):
    """A drill file that cannot run: the message names the step."""


@dataclass
class Step:
    """One line of the scenario: who, where, and one action."""

    number: int
    action: str
    argument: Any
    user: str | None
    channel: str | None
    refused: str | None = None  # the step must be refused, with this in the reason

    def describe(self) -> str:
        """Return the step as a person would read it."""
        who = f"@{self.user} " if self.user else ""
        where = f"in {self.channel} " if self.channel else ""
        if self.action == "submit":
            arg = ", ".join(
                f'{k}="{v}"' if not str(v).strip() or " " in str(v) else f"{k}={v}"
                for k, v in (self.argument or {}).items()
            )
        else:
            arg = str(self.argument)
        must = f" (must be refused: {self.refused})" if self.refused is not None else ""
        return f"{who}{where}{self.action} {arg}".strip() + must


@dataclass
class Drill:
    """A scenario read from a drill file."""

    name: str
    start: datetime
    steps: list[Step]


@dataclass
class Outcome:
    """What happened to one step, and what the bot answered the person alone."""

    step: Step
    at: datetime
    problem: str | None = None
    replies: list[str] = field(default_factory=list)


@dataclass
class Report:
    """The drill's report: its steps' outcomes and each escalation's figures."""

    drill: Drill
    outcomes: list[Outcome] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)
    review: str = ""  # the review document asked for, as Markdown

    @property
    def failed(self) -> list[Outcome]:
        """Return the outcomes of failed steps."""
        return [o for o in self.outcomes if o.problem]

    def render(self) -> str:
        """Return the report as text."""
        lines = [
            f"Drill: {self.drill.name}",
            f"Started at {self.drill.start:%Y-%m-%d %H:%M} UTC",
            "",
        ]
        lines.append("Steps:")
        for outcome in self.outcomes:
            mark = "FAIL" if outcome.problem else "ok  "
            offset = _offset(outcome.at - self.drill.start)
            lines.append(f"  {mark} {offset:>9}  #{outcome.step.number} {outcome.step.describe()}")
            for reply in outcome.replies:
                lines.append(f"                  ↳ {reply}")
            if outcome.problem:
                lines.append(f"                  {outcome.problem}")
        lines.append("")
        lines.extend(self.escalations or ["No escalation was raised."])
        lines.append("")
        total = len(self.outcomes)
        if self.failed:
            numbers = ", ".join(f"#{o.step.number}" for o in self.failed)
            lines.append(f"FAILED: {len(self.failed)} of {total} steps ({numbers})")
        else:
            lines.append(f"PASSED: all {total} steps")
        return "\n".join(lines) + "\n"


def _offset(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"+{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _refusal(wanted: str, problem: str | None) -> str | None:
    """Judge a step that must be refused: fine when its reason says `wanted`."""
    if problem is None:
        return f"expected a refusal ({wanted!r}) but the step went through"
    if wanted not in problem:
        return f"refused, but not with {wanted!r}: {problem}"
    return None


def load_drill(path: Path) -> Drill:
    """Read and check a drill file; raise DrillError naming what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DrillError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise DrillError(f"{path}: a drill is a mapping with a non-empty `steps:` list")
    start = data.get("start", DEFAULT_START)
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start)
        except ValueError:
            raise DrillError(f"{path}: start: not an ISO-8601 time: {start!r}") from None
    if not isinstance(start, datetime):
        raise DrillError(f"{path}: start: give a time like 2026-03-03 18:00")
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    steps = []
    for number, raw in enumerate(data["steps"], 1):
        where = f"{path}: step {number}"
        if not isinstance(raw, dict):
            raise DrillError(f"{where}: a step is a mapping like {{as: ana, type: /esc ack}}")
        unknown = set(raw) - {*ACTIONS, "as", "in", "note", "refused"}
        if unknown:
            raise DrillError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        actions = [a for a in ACTIONS if a in raw]
        if len(actions) != 1:
            raise DrillError(f"{where}: give exactly one of {', '.join(ACTIONS)}")
        action = actions[0]
        argument = raw[action]
        if action == "wait":
            try:
                argument = parse_duration(str(argument))
            except ValueError as exc:
                raise DrillError(f"{where}: wait: {exc}") from None
        if action == "submit" and not isinstance(argument, dict | None):
            raise DrillError(f"{where}: submit: give the fields, like {{title: Leak}}")
        user = raw.get("as")
        channel = raw.get("in")
        refused = raw.get("refused")
        steps.append(
            Step(
                number,
                action,
                argument,
                str(user) if user else None,
                channel and str(channel),
                None if refused is None else str(refused),
            )
        )
    return Drill(str(data.get("name") or path.stem), start, steps)


class Runner:
    """Plays a drill's steps against a fresh sandbox on a fake clock."""

    def __init__(self, box: Sandbox, clock: FakeClock):
        from schedules.scheduler import Scheduler

        self.box, self.clock = box, clock
        self.scheduler = Scheduler(box.bot.services)
        self.user = box.user
        self.channel = box.channel

    def settle(self) -> None:
        """Wait until the bot has done the Slack work handed to it."""
        self.box.bot.services.wait_idle(timeout=60)

    def play(self, step: Step) -> str | None:
        """Run one step; return what went wrong, if anything."""
        if step.user:
            user = self.box.handles.get(step.user.lstrip("@").lower())
            if user is None:
                return f"no person @{step.user} in this workspace"
            self.user = user
        if step.channel:
            channel = self.resolve(step.channel)
            if channel is None:
                return f"no channel {step.channel!r}"
            self.channel = channel
        info = self.box.emulator.channel(self.channel)
        hidden = info is not None and (info["is_private"] or info["is_im"])
        if (
            hidden
            and info is not None
            and self.user not in info["members"]
            and step.action != "wait"
        ):
            return f"@{self.box.names.get(self.user, self.user)} is not in {self.label()}"
        problem = getattr(self, f"do_{step.action}")(step.argument)
        self.settle()
        self.scheduler.run_due()  # what the step made due now (a page), as the scheduler would
        self.settle()
        return problem

    def resolve(self, where: str) -> str | None:
        """Return a channel's ID: `#name`, `ESC-n` (its channel), `dm` (mine with the bot)."""
        emulator = self.box.emulator
        if where.lower() == "dm":
            for channel_id in emulator.channel_ids():
                info = emulator.channel(channel_id)
                if info and info["is_im"] and info["user"] == self.user:
                    return channel_id
            return None
        number = _ESC.match(where)
        if number:
            with self.box.bot.services.db.uow() as uow:
                found = uow.repos.escalations.get(int(number.group(1)))
                return found.channel_id if found else None
        info = emulator.channel(where) or emulator.channel_by_name(where.lstrip("#"))
        return info["id"] if info else None

    def do_type(self, text: Any) -> str | None:
        """Type a slash command (to the bot) or a message (into the channel)."""
        text = translate_mentions(str(text), self.box.handles)
        if not text.startswith("/"):
            info = self.box.emulator.channel(self.channel)
            if info is not None and info["is_im"]:
                return "the bot's Messages tab is read-only: type a slash command"
            if info is not None and self.user not in info["members"]:
                self.box.emulator.add_member(self.channel, self.user)  # typing joins it
            self.box.emulator.add_message(self.channel, text, user=self.user)
            return None
        command, _, rest = text.partition(" ")
        if command not in KNOWN_COMMANDS:
            return f"{command} is not a command of this bot"
        reply = self.box.driver.command(self.user, command, rest, channel_id=self.channel)
        return None if reply.status == 200 else f"the bot answered HTTP {reply.status}"

    def do_click(self, label: Any) -> str | None:
        """Press the newest button with this text in the current channel."""
        emulator = self.box.emulator
        for message in reversed(emulator.messages(self.channel)):
            for block in message.get("blocks") or []:
                elements = list(block.get("elements") or [])
                if isinstance(block.get("accessory"), dict):
                    elements.append(block["accessory"])
                for element in elements:
                    if element.get("type") != "button":
                        continue
                    if element["text"].get("text") == str(label):
                        reply = self.box.driver.action(
                            self.user,
                            element["action_id"],
                            element.get("value"),
                            block_id=block.get("block_id", ""),
                            channel_id=self.channel,
                            message_ts=message["ts"],
                        )
                        return None if reply.ok else f"the bot answered HTTP {reply.status}"
        return f"no button {label!r} in {self.label()}"

    def do_submit(self, fields: dict | None) -> str | None:
        """Submit the person's open form with these fields (the rest as the form set them)."""
        views = self.box.emulator.open_views(self.user)
        if not views:
            return "no open form"
        given = {
            str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v)
            for k, v in (fields or {}).items()
        }
        try:
            values = form_values(views[-1], given, self.box.handles, self.box.emulator)
        except ValueError as exc:
            return str(exc)
        problems = submit_form(self.box.driver, self.user, views[-1], values)
        return "the form refused: " + "; ".join(problems) if problems else None

    def do_cancel(self, _: Any) -> str | None:
        """Close the person's open form."""
        views = self.box.emulator.open_views(self.user)
        if not views:
            return "no open form"
        self.box.emulator.apply_view_response(self.user, views[0]["id"], None)
        return None

    def do_wait(self, delta: timedelta) -> None:
        """Let simulated time pass, running every scheduler pass that falls due meanwhile."""
        target = self.clock() + delta
        tick = self.scheduler.run_due()
        for _ in range(MAX_PASSES):
            self.settle()
            if tick.next_at is None or tick.next_at > target:
                break
            # a moment already due again (its send failed) is retried a second later
            self.clock.set(max(tick.next_at, self.clock() + timedelta(seconds=1)))
            tick = self.scheduler.run_due()
        self.clock.set(target)
        self.scheduler.run_due()
        return None

    def do_expect(self, text: Any) -> str | None:
        """Check that the person sees this text in the current channel."""
        wanted = translate_mentions(str(text), self.box.handles)
        for body in self.visible():
            if wanted in body or str(text) in self.box.render(body):
                return None
        return f"{self.label()} shows no {str(text)!r}"

    def visible(self) -> list[str]:
        """Return every text the acting person sees in the current channel."""
        from bot.sandbox.shell import _flatten

        emulator = self.box.emulator
        out = [
            _flatten(m.get("blocks")) + "\n" + m["text"] for m in emulator.messages(self.channel)
        ]
        for eph in emulator.ephemerals:
            if eph["user"] == self.user and eph["channel"] == self.channel:
                out.append(_flatten(eph.get("blocks")) + "\n" + eph["text"])
        for post in emulator.response_posts:
            if post["user"] == self.user and post["channel"] == self.channel:
                payload = post["payload"]
                out.append(_flatten(payload.get("blocks")) + "\n" + str(payload.get("text") or ""))
        return out

    def replies_seen(self) -> tuple[int, int]:
        """Return a mark of the ephemeral answers so far."""
        return len(self.box.emulator.ephemerals), len(self.box.emulator.response_posts)

    def replies_since(self, seen: tuple[int, int]) -> list[str]:
        """Return the first lines of what the bot answered the acting person since `seen`."""
        emulator, out = self.box.emulator, []
        for eph in emulator.ephemerals[seen[0] :]:
            if eph["user"] == self.user:
                out.append(eph.get("text") or "")
        for post in emulator.response_posts[seen[1] :]:
            payload = post["payload"]
            if post["user"] == self.user and payload.get("response_type") != "in_channel":
                out.append(str(payload.get("text") or ""))
        return [self.box.render(text).splitlines()[0][:120] for text in out if text.strip()]

    def label(self) -> str:
        """Return the current channel as a person names it."""
        return self.box._channel_label(self.channel)


def escalation_summaries(box: Sandbox, start: datetime, now: datetime) -> list[str]:
    """Return each escalation's figures: pages, acknowledgement, SLA, resolution."""

    def who(user: str | None) -> str:
        return "@" + box.names.get(user or "", user or "nobody")

    def row(label: str, at: datetime | None, text: str) -> str:
        return f"  {label:<13}{_offset(at - start) if at else '':>9}  {text}".rstrip()

    out = []
    with box.bot.services.db.uow() as uow:
        for esc in sorted(uow.repos.escalations.find(), key=lambda e: e.id):
            lines = [f"ESC-{esc.id} [{esc.severity}] {esc.title} — {esc.status}"]
            lines.append(row("raised", esc.created_at, f"by {who(esc.reporter)}"))
            for event in uow.repos.escalations.timeline(esc.id):
                if event.kind == "paged":
                    step = event.detail.get("step", 0) + 1
                    round_ = event.detail.get("round", 0) + 1
                    paged = ", ".join(who(u) for u in event.detail.get("users", [])) or "nobody"
                    lines.append(row("paged", event.at, f"step {step}, round {round_}: {paged}"))
            if esc.acknowledged_at:
                took = span((esc.acknowledged_at - esc.created_at).total_seconds())
                lines.append(
                    row(
                        "acknowledged",
                        esc.acknowledged_at,
                        f"by {who(esc.acknowledged_by)}, {took} after raising",
                    )
                )
            else:
                lines.append(row("acknowledged", None, "never"))
            within = span((esc.ack_deadline - esc.created_at).total_seconds())
            answered = esc.acknowledged_at or esc.resolved_at
            sla = "missed" if sla_breached(esc, now) else "met" if answered else "still running"
            lines.append(row("SLA", esc.ack_deadline, f"{sla}: acknowledge within {within}"))
            deadline = getattr(esc, "deadline_at", None)
            if deadline is not None:
                done = esc.resolved_at is not None and esc.resolved_at <= deadline
                lines.append(row("deadline", deadline, "met" if done else "missed"))
            if esc.resolved_at:
                took = span((esc.resolved_at - esc.created_at).total_seconds())
                lines.append(row("resolved", esc.resolved_at, f"{took} after raising"))
            out.append("\n".join(lines))
    return out


def _review(box: Sandbox, config: TeamConfig, number: int, now: datetime) -> str:
    """Return ESC-<number>'s review as Markdown, people by their handles."""
    try:
        found = operator_review(box.bot.services.db, config, number, now)
    except LookupError as exc:
        return f"(no review: {exc})\n"
    text = review_markdown(found, config)
    return re.sub(
        r"@([UW][A-Z0-9]{2,})", lambda m: "@" + box.names.get(m.group(1), m.group(1)), text
    )


def run_drill(
    drill: Drill, settings: Settings, config: TeamConfig, *, review: int | None = None
) -> Report:
    """Play the drill against a fresh sandbox (its own database) and return the report;
    with `review`, the review document of that escalation too."""
    report = Report(drill)
    clock = FakeClock(drill.start)
    with tempfile.TemporaryDirectory(prefix="escbot-drill-") as scratch:
        local = settings.model_copy(
            update={"database_url": f"sqlite:///{Path(scratch) / 'drill.db'}"}
        )
        # Slack's rate limits would make the client wait in real seconds: a drill's time is
        # simulated, so they are off.
        box = start_sandbox(
            local, config, out=io.StringIO(), clock=clock, scheduler=False, rate_limits=False
        )
        try:
            runner = Runner(box, clock)
            runner.scheduler.recover()
            runner.settle()
            for step in drill.steps:
                at = clock()
                seen = runner.replies_seen()
                try:
                    problem = runner.play(step)
                except Exception as exc:  # a drill reports a broken step, it does not crash
                    problem = f"{type(exc).__name__}: {exc}"
                replies = runner.replies_since(seen) if step.action in ("type", "click") else []
                if step.refused is not None:
                    problem = _refusal(step.refused, problem)
                report.outcomes.append(Outcome(step, at, problem, replies))
            report.escalations = escalation_summaries(box, drill.start, clock())
            if review is not None:
                report.review = _review(box, config, review, clock())
        finally:
            box.stop()
    return report
