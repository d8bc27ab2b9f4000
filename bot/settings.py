"""Environment settings, read once at start (a `.env` file is honoured)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The process environment of SPEC.md, validated once."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: str | None = Field(default=None, pattern=r"^xoxb-")
    slack_signing_secret: str | None = None
    slack_app_token: str | None = Field(default=None, pattern=r"^xapp-")
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///escalations.db"
    escalation_config: Path = Path("escalation.yaml")
    port: int = Field(default=3000, ge=0, le=65535)
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _api_url_dir(self) -> Settings:
        if not self.slack_api_url.endswith("/"):
            self.slack_api_url += "/"
        return self

    @property
    def http_problem(self) -> str | None:
        """Return why Slack cannot be served over HTTP with these settings, or None.

        Only `escbot run` serves Slack requests: the scheduler needs no signing secret.
        """
        if self.slack_bot_token and not self.slack_app_token and not self.slack_signing_secret:
            return "SLACK_SIGNING_SECRET is required with SLACK_BOT_TOKEN in HTTP mode"
        return None

    @property
    def sandbox(self) -> bool:
        """Return True when no Slack token is set: the bot runs the local sandbox."""
        return not self.slack_bot_token


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
