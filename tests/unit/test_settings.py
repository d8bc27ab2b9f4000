"""Environment settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "DATABASE_URL",
        "ESCALATION_CONFIG",
        "PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults():
    settings = Settings()
    assert settings.sandbox
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url == "sqlite:///escalations.db"
    assert settings.escalation_config == Path("escalation.yaml")
    assert settings.port == 3000


def test_env_and_dotenv(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-1\nSLACK_SIGNING_SECRET=s3\nPORT=8080\n")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    settings = Settings()
    assert not settings.sandbox
    assert settings.slack_signing_secret == "s3"
    assert settings.port == 8080
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


def test_token_needs_secret_in_http_mode(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert "SLACK_SIGNING_SECRET is required" in (Settings().http_problem or "")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert Settings().slack_app_token == "xapp-1"
    assert Settings().http_problem is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token"),
        ("SLACK_APP_TOKEN", "xoxb-1"),
        ("PORT", "99999"),
    ],
)
def test_bad_values(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    with pytest.raises(ValidationError):
        Settings()
