"""The command line at its edges: a database it cannot use is one line and exit 1, never a
traceback, and never the password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from bot.cli import main
from tests.support.config import EXAMPLE, PG_URL

SECRET_PASSWORD = "hunter2-not-shown"
REFUSED_PG = f"postgresql+psycopg://postgres:{SECRET_PASSWORD}@127.0.0.1:1/escbot"
TOKEN_ENV = {"SLACK_BOT_TOKEN": "xoxb-edges", "SLACK_SIGNING_SECRET": "edges", "PORT": "0"}


def invoke(args: list[str], database_url: str, **env: str) -> Result:
    """Run `escbot ARGS` with this database, the example config and no `.env` file."""
    environment = {"DATABASE_URL": database_url, "ESCALATION_CONFIG": str(EXAMPLE), **env}
    return CliRunner().invoke(main, args, env=environment, input="")


def one_line_error(result: Result, *names: str) -> str:
    """Assert the run failed with exit 1 and one line naming the problem; return it."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and result.stderr.strip().endswith(lines[0]), result.stderr
    assert "Traceback" not in result.output
    assert SECRET_PASSWORD not in result.output
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


VERBS = {
    "run": (["run"], TOKEN_ENV),
    "run (sandbox)": (["run"], {}),
    "sandbox": (["sandbox"], {}),
    "scheduler": (["scheduler"], TOKEN_ENV),
    "db upgrade": (["db", "upgrade"], {}),
    "export": (["export", "--since", "2026-01-01"], {}),
}


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize(
    "url, names",
    [
        (REFUSED_PG, ["cannot reach the database", "127.0.0.1:1", "refused", "***"]),
        ("sqlite:////nonexistent-dir/escbot.db", ["cannot reach the database", "unable to open"]),
        ("nosuchdriver://x", ["cannot use the database", "nosuchdriver"]),
    ],
    ids=["postgres refused", "sqlite unopenable", "unknown driver"],
)
def test_an_unusable_database_is_one_line_and_exit_1(verb, url, names):
    args, env = VERBS[verb]
    one_line_error(invoke(args, url, **env), *names)


@pytest.fixture
def behind_url() -> Iterator[str]:
    """The URL of an empty PostgreSQL schema (behind the code's migrations)."""
    if not PG_URL:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema = f"behind_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("verb", ["run", "sandbox", "scheduler", "export"])
def test_a_schema_behind_is_one_line_and_exit_1(behind_url, verb):
    args, env = VERBS[verb]
    one_line_error(invoke(args, behind_url, **env), "schema", "escbot db upgrade")


def test_sqlite_is_upgraded_not_refused(tmp_path: Path):
    result = invoke(["export", "--since", "2026-01-01"], f"sqlite:///{tmp_path / 'new.db'}")
    assert result.exit_code == 0, result.output


def test_the_scheduler_does_not_ask_for_a_signing_secret():
    result = invoke(["scheduler"], REFUSED_PG, SLACK_BOT_TOKEN="xoxb-edges")
    one_line_error(result, "cannot reach the database")  # past the settings: no secret asked


def test_run_over_http_still_needs_the_signing_secret():
    result = invoke(["run"], REFUSED_PG, SLACK_BOT_TOKEN="xoxb-edges")
    assert result.exit_code == 2 and "SLACK_SIGNING_SECRET is required" in result.stderr


@pytest.mark.parametrize(
    "url",
    ["not-a-url", "http://escbot.example.com", "https://", "https://a b.com", "ftp://x",
     "javascript:alert(1)", "https://x.example.com/?q=1", ""],
)  # fmt: skip
def test_manifest_refuses_a_url_that_is_not_https(url):
    result = CliRunner().invoke(main, ["manifest", "--url", url])
    assert result.exit_code == 2, result.output
    assert "not an https:// URL" in result.stderr or "no ?query" in result.stderr
    assert "slack/events" not in result.stdout


def test_manifest_takes_an_https_url():
    result = CliRunner().invoke(main, ["manifest", "--url", "https://escbot.example.com/"])
    assert result.exit_code == 0
    assert "request_url: https://escbot.example.com/slack/events" in result.stdout
