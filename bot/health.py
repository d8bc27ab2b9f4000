"""Readiness: the named checks `/readyz` answers with, and the bot token's check at start.

Liveness (`/healthz`) asks nothing of anyone: the process answers, so it is alive. Readiness
asks the database, the token's auth.test made at start, and what each process adds (its
scheduler's last pass, a Socket Mode connection) through `Readiness.add`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from sqlalchemy import text

from bot.slack import SlackError, SlackGateway
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One readiness check's answer."""

    ok: bool
    detail: str


class Readiness:
    """The readiness checks of one process, by name; each runs when `/readyz` is asked."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], Check]] = {}

    def add(self, name: str, check: Callable[[], Check]) -> None:
        """Add (or replace) a named check."""
        self._checks[name] = check

    def run(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Run every check; return whether all passed, and each one's answer by name."""
        answers: dict[str, dict[str, Any]] = {}
        for name, check in list(self._checks.items()):
            try:
                answer = check()
            except Exception as exc:  # a check that cannot tell says not ready, in one line
                answer = Check(False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            answers[name] = {"ok": answer.ok, "detail": answer.detail}
        return all(a["ok"] for a in answers.values()), answers


def database_check(db: Database) -> Callable[[], Check]:
    """Return a check that the database answers a query."""

    def check() -> Check:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return Check(True, "answers")

    return check


class SlackToken:
    """The bot token, checked by one auth.test at start and never on a request's path.

    Refused, it is said once, plainly, and stays refused (a new token needs a restart).
    While Slack cannot be reached it is asked again every `retry_every` seconds, off every
    request's path, until it answers.
    """

    def __init__(self, slack: SlackGateway, *, retry_every: float = 30.0, timeout: int = 5):
        self.slack = slack
        self.retry_every = retry_every
        self.timeout = timeout
        self.state = "unchecked"  # then "ok", "refused" or "unreachable"
        self.detail = "not checked yet"
        self.identity: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> str:
        """Ask Slack once; return the state ("ok", "refused" or "unreachable")."""
        try:
            identity = self.slack.check_token(timeout=self.timeout)
        except SlackError as exc:
            self.state, self.detail = "refused", f"Slack refused the token: {exc.error}"
            log.error(
                "SLACK_BOT_TOKEN was refused by Slack (%s): nothing reaches Slack until it is "
                "replaced and the bot restarted; work is still accepted and kept",
                exc.error,
            )
        except Exception as exc:
            first = next(iter(str(exc).splitlines()), "")[:200]
            self.state, self.detail = (
                "unreachable",
                f"Slack unreachable: {first or type(exc).__name__}",
            )
            log.warning("%s; asking again in %.0f s", self.detail, self.retry_every)
        else:
            self.identity = identity
            self.state = "ok"
            self.detail = f"bot {identity.get('user_id')} in team {identity.get('team_id')}"
            log.info("Slack token ok: %s", self.detail)
        return self.state

    def start(self) -> None:
        """Check now; while Slack is unreachable, keep asking in the background."""
        if self.check() != "unreachable" or self._thread is not None:
            return

        def retry() -> None:
            while not self._stop.wait(self.retry_every):
                if self.check() != "unreachable":
                    return

        self._thread = threading.Thread(target=retry, name="token-check", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop asking."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None

    def readiness(self) -> Check:
        """The readiness check: ready once the token has passed auth.test."""
        return Check(self.state == "ok", self.detail)

    def authorizer(self) -> Callable[..., AuthorizeResult]:
        """Return Bolt's `authorize`, from the check at start: no auth.test on a request's path.

        (An `Authorize`, which Bolt calls as it is, without building its arguments by name.)
        """
        return _FromCheck(self)


class _FromCheck(Authorize):
    """Who the bot is, from the token's check at start; the request says the rest."""

    def __init__(self, token: SlackToken) -> None:
        super().__init__()
        self.token = token

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **actor: str | None,
    ) -> AuthorizeResult:
        identity = self.token.identity
        return AuthorizeResult(
            enterprise_id=enterprise_id or identity.get("enterprise_id"),
            team_id=team_id or identity.get("team_id"),
            bot_token=self.token.slack.client.token,
            bot_id=identity.get("bot_id"),
            bot_user_id=identity.get("user_id"),
            user_id=user_id,
        )


def scheduler_check(last_pass: Callable[[], float | None], max_age: float) -> Callable[[], Check]:
    """Return a check that the scheduler's last pass ended within `max_age` seconds."""

    def check() -> Check:
        at = last_pass()
        if at is None:
            return Check(False, "no pass yet")
        age = time.time() - at
        return Check(age <= max_age, f"last pass {age:.0f} s ago")

    return check
