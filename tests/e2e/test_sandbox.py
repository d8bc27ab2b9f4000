"""`escbot sandbox` / `escbot run` without a token: the shell drives a real bot."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config
from bot.sandbox.shell import start_sandbox
from bot.settings import Settings
from tests.support.config import EXAMPLE


def test_shell_raises_and_shows_the_channel(tmp_path: Path):
    out = io.StringIO()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", _env_file=None)  # type: ignore[call-arg]
    box = start_sandbox(settings, load_config(EXAMPLE), out=out)
    try:
        assert box.execute("/escalate SEV2 #ads Fake giveaway ads")
        assert box.execute("/escalate SEV7 broken")
        assert box.execute("in esc-1-fake-giveaway-ads")
        assert box.execute("read")
        assert not box.execute("quit")
    finally:
        box.bot.stop()
        box.emulator.stop()
    text = out.getvalue()
    assert "created channel #esc-1-fake-giveaway-ads" in text
    assert "ESC-1: Fake giveaway ads" in text
    assert "Unknown severity `SEV7`" in text
    assert "(pinned)" in text
    assert "*Reporter*: @lead" in text


def test_run_without_token_starts_the_sandbox(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ESCALATION_CONFIG", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ESCALATION_CONFIG", str(EXAMPLE))
    result = CliRunner().invoke(main, ["run"], input="/escalate #crisis Flood of hoaxes\n")
    assert result.exit_code == 0, result.output
    assert "starting the local sandbox" in result.output
    assert "created channel #esc-1-flood-of-hoaxes" in result.output
    assert (tmp_path / "escalations.db").exists()


def test_shell_shows_whole_replies_forms_home_and_pings(tmp_path: Path):
    out = io.StringIO()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", _env_file=None)  # type: ignore[call-arg]
    box = start_sandbox(settings, load_config(EXAMPLE), out=out)
    box.follow()
    try:
        box.execute("/escalate SEV2 #ads Fake giveaway ads")
        box.execute("in esc-1-fake-giveaway-ads")
        box.execute("/esc status")
        people = [line for line in out.getvalue().splitlines() if line.startswith("*People:* ")]
        assert people and "@lead (reporter)" in people[-1]  # the body, not just its header
        # Comms: neither routed for ads nor on any rotation (whoever is on call now was paged
        # in already), so the invite is the shell's to show whatever the time of day.
        box.execute("/esc invite @com")
        assert "invited com" in out.getvalue()
        box.execute("/oncal")
        assert "`/oncal` is not a command here. Try /escalate, /esc" in out.getvalue()
        assert "HTTP 404" not in out.getvalue()

        box.execute("/escalate")
        box.execute('submit title="   "')
        assert "! title: " in out.getvalue()
        assert box.emulator.open_views(box.user)
        box.execute("cancel")
        assert box.emulator.open_views(box.user) == []

        box.execute("click esc_log_decision")
        box.execute("submit decision=Remove consulted=@zed")
        assert "! consulted: no such person @zed" in out.getvalue()
        box.execute("submit decision=Remove consulted=@ana")
        assert "Decision #1" in out.getvalue()

        box.execute("home")
        assert "[App Home]" in out.getvalue() and "My open escalations" in out.getvalue()

        mark = len(out.getvalue())
        box.driver.command(
            "U0BEN00001", "/escalate", "SEV1 #crisis Flood of hoaxes"
        )  # not typed here
        box.bot.services.wait_idle(timeout=60)
        deadline = time.monotonic() + 10
        while "esc-2-flood-of-hoaxes" not in out.getvalue()[mark:]:
            assert time.monotonic() < deadline, out.getvalue()[mark:]
            threading.Event().wait(0.02)
    finally:
        box.stop()


def test_sandbox_in_socket_mode_raises_over_envelopes(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ESCALATION_CONFIG", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ESCALATION_CONFIG", str(EXAMPLE))
    typed = "/escalate SEV2 #ads Fake giveaway ads\nin esc-1-fake-giveaway-ads\nclick esc_ack\n"
    result = CliRunner().invoke(main, ["sandbox", "--socket-mode", "--web-port", "0"], input=typed)
    assert result.exit_code == 0, result.output
    assert "bot over Socket Mode at ws://127.0.0.1:" in result.output
    assert "created channel #esc-1-fake-giveaway-ads" in result.output
    assert "Acknowledged by" in result.output


def test_the_socket_mode_sandbox_takes_envelopes_not_posts(tmp_path: Path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", _env_file=None)  # type: ignore[call-arg]
    box = start_sandbox(settings, load_config(EXAMPLE), out=io.StringIO(), socket_mode=True)
    try:
        assert box.socket is not None
        assert box.execute("/escalate SEV3 Over the socket")
        assert [e.type for e in box.socket.sent] == ["slash_commands"]
        assert box.emulator.channel_by_name("esc-1-over-the-socket") is not None
    finally:
        box.stop()


def test_the_web_workspace_drives_the_bot_over_socket_mode(tmp_path: Path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", _env_file=None)  # type: ignore[call-arg]
    config = load_config(EXAMPLE)
    box = start_sandbox(settings, config, out=io.StringIO(), web_port=0, socket_mode=True)
    try:
        assert box.socket is not None and box.web_url is not None
        lead, team = config.team.members[0], config.team.channel
        typed = {"user": lead, "channel": team, "text": "/escalate SEV2 #ads Typed in the page"}
        answer = httpx.post(f"{box.web_url}api/send", json=typed, timeout=10)
        assert answer.status_code == 200, answer.text
        box.bot.services.wait_idle(timeout=30)
        assert [e.type for e in box.socket.sent] == ["slash_commands"]
        assert box.emulator.channel_by_name("esc-1-typed-in-the-page") is not None
    finally:
        box.stop()
