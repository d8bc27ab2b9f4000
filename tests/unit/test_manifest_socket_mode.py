"""`escbot manifest`: the HTTP variant with request URLs, the Socket Mode one without."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from bot.cli import main


def _manifest(*args: str) -> dict:
    result = CliRunner().invoke(main, ["manifest", *args])
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.output)


def _urls(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k in ("url", "request_url")] + [
            u for v in node.values() for u in _urls(v)
        ]
    if isinstance(node, list):
        return [u for v in node for u in _urls(v)]
    return []


def test_the_socket_mode_manifest_has_no_request_urls():
    http = _manifest("--url", "https://escbot.example.com")
    socket = _manifest("--socket-mode")
    assert set(_urls(http)) == {"https://escbot.example.com/slack/events"}
    assert http["settings"]["socket_mode_enabled"] is False
    assert _urls(socket) == []
    assert socket["settings"]["socket_mode_enabled"] is True
    assert socket["settings"]["interactivity"]["is_enabled"] is True
    assert socket["oauth_config"] == http["oauth_config"]
    assert [c["command"] for c in socket["features"]["slash_commands"]] == [
        c["command"] for c in http["features"]["slash_commands"]
    ]
    assert socket["settings"]["event_subscriptions"] == {
        "bot_events": http["settings"]["event_subscriptions"]["bot_events"]
    }
    assert _manifest("--url", "https://escbot.example.com", "--socket-mode") == socket


def test_manifest_needs_a_url_or_socket_mode():
    result = CliRunner().invoke(main, ["manifest"])
    assert result.exit_code == 2 and "--socket-mode" in result.output
