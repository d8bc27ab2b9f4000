"""What makes the HTTP answer to a Slack request fast, in one place.

Slack waits at most 3 s for the answer to a command and the reporter watches for it, so the
answer (the ack) must not wait for work that can follow it. The target: ack p99 of escbot at
most 1.5x that of a bare Bolt app with `process_before_response` (the fair baseline: its
listener, which only acks, on the request thread, no 10 ms poll for the ack). What each
mechanism buys is measured by switching it off in a copy of `escbot run` beside the full one
and the baselines, taking turns in one run:

    python tests/benchmarks/bench_escalate.py --rounds 3 --without each

The mechanisms, with the p99 ratio to the fair baseline without each (900 requests per app
from 20 concurrent senders on SQLite, load 0.03-1.69 on the shared 2-core machine; the full
escbot was at 1.49x, bare Bolt with its defaults at 17.65x):

- `OnLoop`, `answer_on_loop` (on_loop): `/escalate` with text, whose listener never blocks,
  is dispatched on the event loop itself; its save is queued (`Intake.add_later`) and the
  ack made when it is committed. No hand-over to a listener thread and back. Without it:
  1.74x (CPU per request 0.66 ms against 0.51 ms).
- The loop's own commit (loop_save, in bot.delivery.intake): a batch queued on the loop is
  saved there at the end of its turn when SQLite can be written at once (a local commit in
  WAL mode, no fsync; another writer, another process or PostgreSQL: the intake's thread
  saves it and the loop goes on). `Mailbox` wakes the loop once for the answers a thread's
  commit hands back. Without it: 1.57x.
- `Foreground` (give_way): background threads (outbox workers, scheduler passes, Web API
  calls) wait for a quiet moment between requests before each step, at most 1 s. The outbox,
  the Slack gateway and the scheduler's sweep call `give_way`. Without it: 2.82x (their CPU
  per request 0.49 ms where it is 0.01 ms).
- In storage (which imports nothing of bot), referenced here: `storage.db.WriteLock`
  (write_priority) queues this process's SQLite transactions, request threads before
  background ones, and gives a request up after `REQUEST_QUEUE_S` so it says "Not saved"
  within Slack's 3 s. Without the order: 1.67x. The outbox's `Intake` (group_commit,
  bot.delivery.intake) saves the items of concurrent requests in one commit through
  `storage.repositories.OutboxInsert` on the driver's connection. Without it: 1.67x.
- `tune_process`, `freeze_heap` (tuning): a 0.5 ms switch interval, so a request waiting to
  be acknowledged is not held up behind other threads for whole 5 ms slices; the start-up
  heap frozen out of the collector's full passes, which stop every thread, acks included.
  Without it: 3.63x.
- `answer_at_ack` (early_answer): for the requests dispatched on the listener pool (all but
  inline `/escalate`), the answer leaves when the listener acks, the listener going on; Bolt
  itself answers when the listener returns. Without it 1.45x here, as `/escalate` no longer
  takes that path, but a Slack that never answers would then hold a request: tests/e2e/
  test_slack_down.py::test_slack_that_never_answers_holds_a_request_one_client_timeout_at_
  most fails without it, so it stays.

Where the rest goes. Twenty senders keep the app busy, so ack latency is about twenty times
the interpreter's time per request, and the p99 ratio follows the CPU each request costs
(the bench prints it per app, counted only while the senders send). The fair baseline spends
0.32-0.33 ms a request; escbot 0.51-0.53 ms, all but 0.01 ms on the event loop. Over the
fair baseline's, a request pays for what that baseline does not do: the durable save before
the ack (about 55 us a request in batches of ~7, the insert and its JSON payload half of
it), an answer with a body ("Raising ..." where the baseline's is empty), parsing the
command and checking the request's shape (about 40 us), the outbox item queued for staffing.
A third app in the bench, Bolt with `process_before_response` saving each command in a
commit of its own (the plain way to keep that promise), costs 0.51-0.53 ms too, at
1.36x-1.53x. Six runs of the same code on a quiet machine (load 0.02-1.7): escbot at 1.46x,
1.49x, 1.51x, 1.57x, 1.67x and 1.74x (median 1.54x), so the target is met in some runs and
not held. Measured and left out: a larger gen-0 threshold for the collector (-3% CPU, and
the baselines would have to get it too).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse

# The interpreter hands its lock round every 0.5 ms instead of 5 ms.
SWITCH_INTERVAL_S = 0.0005


def tune_process() -> None:
    """Hand the interpreter lock round more often (call once, at start)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def freeze_heap() -> None:
    """Keep what start-up made (modules, config, schemas: most of the heap, living as long as
    the process) out of the collector's full passes (call once, when start-up is done).

    No collection first: start-up leaves about a hundred objects of garbage, which stay, while
    a full pass over its 90 000 objects would hold up the first /healthz by ~0.2 s.
    """
    gc.freeze()


class Foreground:
    """Slack requests being answered, and background threads that give way to them.

    Slack waits at most 3 s for an answer and the reporter watches for it, while staffing a
    channel or sending a ping can start a moment later without anyone noticing. So a thread
    marked as background, before each step (an outbox item, a Web API call, a scheduler
    pass), waits until no request has been answered for `quiet_for` seconds, for at most
    `patience` seconds: under a burst of commands acks come first, yet background work
    never stops.
    """

    def __init__(
        self,
        patience: float = 1.0,
        quiet_for: float = 0.01,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.patience = patience
        self.quiet_for = quiet_for
        self._monotonic = monotonic
        self._serving = 0
        self._last = float("-inf")  # when the last request was answered
        self._lock = threading.Lock()
        self._local = threading.local()
        self.waited: float = 0.0  # seconds background threads spent giving way, for the metrics

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Count a request as being answered for the duration of the block.

        Nobody is woken when it ends: under a burst, requests end a thousand times a second,
        and background threads look again at their own pace (every `quiet_for`) instead.
        """
        with self._lock:
            self._serving += 1
        try:
            yield
        finally:
            with self._lock:
                self._serving -= 1
                self._last = self._monotonic()

    def mark_background(self) -> None:
        """Mark the calling thread as background (a pool initializer)."""
        self._local.background = True

    def background(self) -> bool:
        """Return True on a thread marked as background."""
        return bool(getattr(self._local, "background", False))

    def mark_request(self) -> None:
        """Mark the calling thread as one that answers Slack requests (a pool initializer)."""
        self._local.request = True

    def on_request(self) -> bool:
        """Return True on a thread marked as answering Slack requests (the listeners)."""
        return bool(getattr(self._local, "request", False))

    def give_way(self) -> None:
        """On a background thread, wait for a quiet moment (at most `patience` seconds)."""
        if not getattr(self._local, "background", False):
            return
        started = self._monotonic()
        deadline = started + self.patience
        while True:
            now = self._monotonic()
            with self._lock:
                last = self._last if self._serving == 0 else now  # a request in hand: not quiet
            quiet_at = last + self.quiet_for
            if now >= quiet_at or now >= deadline:
                break
            time.sleep(min(quiet_at, deadline) - now)
        with self._lock:
            self.waited += self._monotonic() - started


class AnsweringAck(Ack):
    """Bolt's `ack` that also hands its answer on (to the web endpoint) when called."""

    def __init__(self, on_ack: Callable[[BoltResponse], None]) -> None:
        super().__init__()
        self.on_ack = on_ack

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = super().__call__(*args, **kwargs)
        self.on_ack(response)
        return response


class Mailbox:
    """Hands answers from other threads to one event loop, waking it once for many.

    `call_soon_threadsafe` writes to the loop's wake-up pipe on every call; answers handed
    over while the loop has not yet run the previous ones ride along with them instead (a
    batch of commands saved in one commit wakes the loop once).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weakly: `of` keeps a loop's mailbox for as long as the loop lives, not longer.
        self._loop = weakref.ref(loop)
        self._pending: list[tuple[Callable[[Any], None], Any]] = []
        self._lock = threading.Lock()

    def post(self, call: Callable[[Any], None], arg: Any) -> None:
        """Run `call(arg)` on the loop soon (from any thread)."""
        with self._lock:
            self._pending.append((call, arg))
            if len(self._pending) > 1:
                return  # the loop is woken already and takes this one too
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the event loop is gone")
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: nobody waits for these answers any more
            with self._lock:
                self._pending.clear()

    def _drain(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for call, arg in pending:
            call(arg)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Mailbox:
        """Return the loop's mailbox (made on first use, gone with the loop)."""
        with _MAILBOXES_LOCK:
            box = _MAILBOXES.get(loop)
            if box is None:
                box = _MAILBOXES[loop] = cls(loop)
            return box


_MAILBOXES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Mailbox] = (
    weakref.WeakKeyDictionary()
)
_MAILBOXES_LOCK = threading.Lock()


async def answer_at_ack(bolt: App, request: BoltRequest, listeners: Executor) -> BoltResponse:
    """Dispatch on the pool; return the ack's answer as soon as there is one.

    The pool's thread hands the answer over once: at the ack, or when dispatch ends without
    one (refused, an error, or a request no listener takes).
    """
    loop = asyncio.get_running_loop()
    mailbox = Mailbox.of(loop)
    answer: asyncio.Future[BoltResponse] = loop.create_future()
    unanswered = threading.Lock()  # taken by the first hand-over (a Lock is cheap to make)

    def settle(outcome: BoltResponse | BaseException) -> None:
        if answer.done():
            return
        if isinstance(outcome, BaseException):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome)

    def hand_over(outcome: BoltResponse | BaseException) -> None:
        if unanswered.acquire(blocking=False):
            mailbox.post(settle, outcome)

    def dispatch() -> None:  # on the pool's thread
        try:
            response = bolt.dispatch(request)
        except BaseException as exc:
            hand_over(exc)
            raise
        hand_over(response)

    request.context["ack"] = AnsweringAck(hand_over)
    listeners.submit(dispatch)
    return await answer


# In the context of a request dispatched on the event loop (`answer_on_loop`): its `Later`.
ANSWER_LATER = "answer_later"


class OnLoop:
    """Which Slack requests are dispatched on the event loop itself, not on the listener pool.

    Handlers add a test for the requests whose listener never blocks (no database read, no
    Slack call): such a listener that must save its work first calls `Later.hold` from the
    request's context, queues the save, and acks when it is done, from whichever thread.
    """

    def __init__(self) -> None:
        self._tests: list[Callable[[BoltRequest], bool]] = []

    def add(self, test: Callable[[BoltRequest], bool]) -> None:
        """Dispatch the requests this returns True for on the event loop."""
        self._tests.append(test)

    def __call__(self, request: BoltRequest) -> bool:
        return any(test(request) for test in self._tests)


class Later:
    """Given to a listener dispatched on the event loop: `hold` says its ack follows later."""

    def __init__(self) -> None:
        self.held = False

    def hold(self) -> BoltResponse:
        """Say the answer is the ack made later (from any thread), not dispatch's return;
        return what the listener returns, so Bolt takes the request as handled."""
        self.held = True
        return BoltResponse(status=200, body="")


async def answer_on_loop(bolt: App, request: BoltRequest) -> BoltResponse:
    """Dispatch on the event loop; return the ack's answer, which may come from elsewhere.

    No hand-over to a pool's thread and back: the listener runs here, and a save it waits
    for is committed here at the end of the loop's turn, or (SQLite being written, or
    PostgreSQL) on the intake's thread, whose commit answers all the requests it saved with
    one wake-up of the loop (`Mailbox`).
    """
    loop = asyncio.get_running_loop()
    mailbox = Mailbox.of(loop)
    answer: asyncio.Future[BoltResponse] = loop.create_future()
    here = threading.get_ident()

    def settle(response: BoltResponse) -> None:
        if not answer.done():
            answer.set_result(response)

    def hand_over(response: BoltResponse) -> None:
        if threading.get_ident() == here:
            settle(response)
        else:
            mailbox.post(settle, response)

    later = Later()
    request.context["ack"] = AnsweringAck(hand_over)
    request.context[ANSWER_LATER] = later
    response = bolt.dispatch(request)
    if not later.held:
        settle(response)  # acked already (that answer stands), or refused or unhandled
    return await answer
