"""Take the README's screenshots of the sandbox's web workspace in headless Chromium.

    .venv/bin/python docs/screenshots.py      # writes docs/web-*.png
"""

from __future__ import annotations

import io
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.clock import FakeClock  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.sandbox.shell import start_sandbox  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.support.browser import Person, start_browser  # noqa: E402

LEAD = "U0LEAD0001"


def main() -> None:
    """Raise an escalation from the page, then photograph its card, its form and App Home."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(database_url=f"sqlite:///{scratch}/s.db", _env_file=None)  # type: ignore[call-arg]
        box = start_sandbox(
            settings,
            load_config(ROOT / "escalation.example.yaml"),
            out=io.StringIO(),
            web_port=0,
            clock=FakeClock(datetime(2026, 3, 3, 18, 0, tzinfo=UTC)),
        )
        page = start_browser(1280, 1000)
        try:
            assert box.web_url
            me = Person(page, box.web_url)
            me.open(LEAD)
            me.go("escalations-team")
            me.type("/escalate SEV1 #election Vote-buying ads targeting voters in BR")
            me.go("vote-buying-ads")
            me.see("Change severity")
            me.type("/esc update Ads Manager team is pulling the 40 ads; checking lookalikes")
            me.see("Ads Manager team")
            page.save_screenshot(str(ROOT / "docs" / "web-escalation.png"))

            me.type("/escalate")
            me.modal()
            me.fill("Title", "Leaked internal memo on election ads")
            me.fill("What is happening", "A screenshot of the memo is spreading on Threads")
            me.choose("Category", "press")
            me.choose("Severity", "SEV2")
            me.press("Escalate")
            me.no_modal()
            me.type("/escalate")
            me.modal()
            me.fill("What is happening", "Accounts selling 'verified voter lists' in DMs")
            me.choose("Category", "election")
            me.choose("Severity", "SEV2")
            me.choose("Region / market", "latam")
            me.press("Escalate")  # no title yet: the form says so under the field
            me.field_errors()
            page.save_screenshot(str(ROOT / "docs" / "web-modal.png"))
            me.press("Cancel")
            me.no_modal()

            home = me.open_home()
            me.page.execute_script("arguments[0].scrollIntoView()", home)
            from tests.support.browser import wait_for

            wait_for(page, lambda _: "Leaked internal memo" in home.text)
            page.save_screenshot(str(ROOT / "docs" / "web-home.png"))
        finally:
            page.quit()
            box.stop()


if __name__ == "__main__":
    main()
