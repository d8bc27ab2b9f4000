"""`python -m bot run` as a real process: started on a free port, waited for, stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0


def free_port() -> int:
    """Return a port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """The bot in its own process, its output kept in a log file."""

    def __init__(self, env: dict[str, str], workdir: Path, *args: str):
        self.port = free_port()
        self.env = {**os.environ, **env, "PORT": str(self.port)}
        self.args = args or ("run",)
        self.log = workdir / f"bot-{self.port}.log"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the base URL the process serves."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BotProcess:
        """Start it and wait (bounded) until it answers /healthz."""
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", *self.args],
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            if wired(self.url):
                return self
            time.sleep(0.05)  # bounded wait for the process to come up
        raise AssertionError(f"the bot did not come up:\n{self.output()}")

    def wired(self) -> bool:
        """Return True once the process has wired the bot (see `wired`)."""
        return wired(self.url)

    def get(self, path: str) -> tuple[int, Any]:
        """GET a path; return the status and the JSON answer."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as failure:
            return failure.code, json.loads(failure.read() or b"null")

    def output(self) -> str:
        """Return what the process printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def wired(base_url: str) -> bool:
    """Return True once a bot process at `base_url` serves and has wired the bot: its /readyz
    names the real checks, not `startup` (`escbot run` serves liveness while it starts)."""
    try:
        with urllib.request.urlopen(base_url + "/readyz", timeout=1) as response:
            body = response.read()
    except urllib.error.HTTPError as refused:  # 503: not ready, but maybe wired
        body = refused.read()
    except OSError:
        return False
    try:
        return "startup" not in json.loads(body).get("checks", {})
    except (ValueError, AttributeError):
        return False


def bot_env(
    token: str, secret: str, api_url: str, database_url: str, config: Path | str, port: int
) -> dict[str, str]:
    """Return the environment of an `escbot run` process against a Slack-compatible API."""
    return {
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": database_url,
        "ESCALATION_CONFIG": str(config),
        "PORT": str(port),
    }
