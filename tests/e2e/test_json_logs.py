"""`LOG_FORMAT=json` in the production process: every line on stderr is one JSON object."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.seed import seed
from tests.support.commands import Proc, wait_until
from tests.support.config import EXAMPLE

pytestmark = pytest.mark.slow

SECRET = "json-logs-secret"


def test_every_line_of_the_running_bot_is_json_with_the_escalation_and_outbox_key(
    config, tmp_path: Path
):
    emulator = Emulator(rate_limits=False)
    emulator.start()
    seed(emulator, config)
    env = {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": emulator.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "ESCALATION_CONFIG": str(EXAMPLE),
        "LOG_FORMAT": "json",
    }
    bot = Proc([sys.executable, "-m", "bot", "-v", "run"], env, tmp_path, "bot")
    try:
        bot.start()
        driver = Driver(emulator, f"http://127.0.0.1:{bot.port}/slack/events", SECRET)
        reply = driver.command("U0ANA00001", "/escalate", "SEV2 #election Vote-buying ads")
        assert reply.status == 200, reply.body
        wait_until(lambda: emulator.calls_of("pins.add"), "the card pinned", 30)
        wait_until(lambda: '"outbox_key": "staff' in bot.log(), "staffing logged", 30)
        assert bot.terminate() in (0, -15)
    finally:
        bot.kill()
        emulator.stop()
    lines = [json.loads(line) for line in bot.log().splitlines()]  # each one JSON object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # the server's too
    staffing = [line for line in lines if str(line.get("outbox_key", "")).startswith("staff")]
    assert staffing and all(line["escalation"] == 1 for line in staffing)
