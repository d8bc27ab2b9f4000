"""`escbot sandbox` / `escbot run` without a token: the shell drives a real bot."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.config import load_config
from bot.sandbox.shell import start_sandbox
from bot.settings import Settings
from tests.conftest import EXAMPLE


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


def test_sandbox_in_socket_mode_raises_over_envelopes(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ESCALATION_CONFIG", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ESCALATION_CONFIG", str(EXAMPLE))
    typed = "/escalate SEV2 #ads Fake giveaway ads\nin esc-1-fake-giveaway-ads\nclick esc_ack\n"
    result = CliRunner().invoke(main, ["sandbox", "--socket-mode"], input=typed)
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
        box.bot.stop()
        box.socket.stop()
        box.emulator.stop()
