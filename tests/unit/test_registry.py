"""Every outbox kind has exactly one handler, registered in one place."""

from __future__ import annotations

import re
from pathlib import Path

from bot import kinds
from bot.delivery import registry

ROOT = Path(__file__).resolve().parents[2]


def test_every_outbox_kind_has_a_handler_and_nothing_else_does():
    assert len(kinds.OUTBOX_KINDS) == len(set(kinds.OUTBOX_KINDS))
    assert set(registry.HANDLERS) == set(kinds.OUTBOX_KINDS)


def test_handlers_are_registered_only_by_the_registry():
    registering = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*.py")
        if "sandbox" not in path.parts
        and re.search(r"\.outbox\.register\(", path.read_text())
    )
    assert registering == ["bot/delivery/registry.py"]


def test_page_dms_run_in_the_urgent_lane():
    pattern = "|".join(".*".join(map(re.escape, p.split("%"))) for p in registry.URGENT)
    assert re.fullmatch(pattern, "page:12:0:1:dm:U0BEN00001")
    assert not re.fullmatch(pattern, "staff:12")
