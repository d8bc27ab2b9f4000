"""`escbot run` with SLACK_APP_TOKEN as a real process: Socket Mode, health, an /escalate."""

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import TeamConfig
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.seed import seed
from bot.sandbox.socket_mode import SocketMode
from tests.support.config import EXAMPLE

READY = {"database": "ok", "slack_token": "ok", "socket_mode": "ok"}  # all checks passing

pytestmark = pytest.mark.slow

START_TIMEOUT = 30.0
STEP_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as failure:
        return failure.code, failure.read().decode()


@pytest.fixture
def workspace(config: TeamConfig) -> Iterator[tuple[Emulator, SocketMode]]:
    """An emulated workspace with Socket Mode, seeded from the example config."""
    emulator = Emulator(rate_limits=False)
    emulator.start()
    seed(emulator, config)
    with SocketMode(emulator) as socket_mode:
        yield emulator, socket_mode
    emulator.stop()


def _start(emulator: Emulator, app_token: str, tmp_path: Path, port: int) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if k != "SLACK_SIGNING_SECRET"},
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_APP_TOKEN": app_token,
        "SLACK_API_URL": emulator.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'socket.db'}",
        "ESCALATION_CONFIG": str(EXAMPLE),
        "PORT": str(port),
    }
    log = open(tmp_path / "bot.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_escbot_run_in_socket_mode_serves_health_and_escalations(
    workspace: tuple[Emulator, SocketMode], tmp_path: Path
):
    emulator, socket_mode = workspace
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(emulator, socket_mode.app_token, tmp_path, port)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        ready: tuple[int, str] = (0, "")
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "bot.log").read_text()
            try:
                ready = _get(f"{base}/readyz")
            except OSError:
                ready = (0, "")
            if ready[0] == 200:
                break
            time.sleep(0.05)  # bounded wait for the process to come up
        assert ready[0] == 200, ready
        assert json.loads(ready[1])["checks"] == {**READY, "scheduler": "ok"}
        assert _get(f"{base}/healthz")[0] == 200
        status, metrics = _get(f"{base}/metrics")
        assert status == 200 and "escbot_outbox_pending" in metrics
        with pytest.raises(urllib.error.HTTPError):  # Slack's requests come over the socket
            urllib.request.urlopen(urllib.request.Request(f"{base}/slack/events", b"{}"))
        socket_mode.wait_connected()

        driver = Driver(emulator, "", "", transport=socket_mode.transport)
        reply = driver.command("U0ANA00001", "/escalate", "SEV2 #ads Counterfeit ads wave")
        assert reply.status == 200 and "Raising" in reply.json["text"], reply
        assert reply.elapsed < 3.0
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline and not _card_pinned(emulator):
            time.sleep(0.05)  # the process works in real time
        assert _card_pinned(emulator)
        assert len(emulator.calls_of("conversations.create")) == 1

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, (tmp_path / "bot.log").read_text()
        assert socket_mode.connected == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _card_pinned(emulator: Emulator) -> bool:
    channel: dict[str, Any] | None = emulator.channel_by_name("esc-1-counterfeit-ads-wave")
    return channel is not None and any(m["pinned"] for m in emulator.messages(channel["id"]))


def test_escbot_run_with_a_refused_app_token_exits_with_one_line(
    workspace: tuple[Emulator, SocketMode], tmp_path: Path
):
    emulator, _ = workspace
    proc = _start(emulator, "xapp-1-A0SANDBOX1-1-revoked", tmp_path, _free_port())
    try:
        assert proc.wait(timeout=START_TIMEOUT) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    log = (tmp_path / "bot.log").read_text()
    assert "error: SLACK_APP_TOKEN refused by apps.connections.open: invalid_auth" in log
    assert "Traceback" not in log
    assert not emulator.calls_of("chat.postMessage")  # nothing was sent before it stopped
