"""The web workspace in a real headless Chromium: a person's steps, through the page's hooks.

Skipped only where Chromium is not installed and this is not CI; under CI=true a missing
browser fails the run.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys

from bot.clock import FakeClock
from bot.config import load_config
from bot.rotations import OnCall
from bot.sandbox.shell import Sandbox, start_sandbox
from bot.settings import Settings
from tests.support.browser import Person, chromium, start_browser, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

EXAMPLE = Path(__file__).resolve().parents[2] / "escalation.example.yaml"
LEAD, BEN, SALES = "U0LEAD0001", "U0BEN00001", "U0SAL00001"
TAB = Keys.TAB
TUESDAY = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)  # a weekday: the daily layer is on call

if chromium() is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI: chromium and chromium-driver must be installed for these tests")
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    path = tmp_path_factory.mktemp("web") / "sandbox.db"
    settings = Settings(database_url=f"sqlite:///{path}", _env_file=None)  # type: ignore[call-arg]
    sandbox = start_sandbox(
        settings, load_config(EXAMPLE), out=io.StringIO(), web_port=0, clock=FakeClock(TUESDAY)
    )
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    page = start_browser()
    yield page
    page.quit()


@pytest.fixture
def person(box: Sandbox, browser: object) -> Person:
    assert box.web_url
    return Person(browser, box.web_url)


def test_raise_from_the_composer_and_work_the_card(person: Person):
    person.open(LEAD)
    person.go("escalations-team")
    person.type("/escalate SEV2 #ads Fake giveaway ads")
    person.go("fake-giveaway-ads")
    card = person.message_with("Change severity").text
    assert "ESC-" in card and "SEV2" in card and "Open" in card
    person.press("Acknowledge", in_message="Change severity")
    person.wait_message("Change severity", "Acknowledged")

    person.press("Change severity", in_message="Change severity")
    person.modal()
    person.choose("Severity", "SEV1")
    person.press("Change")
    person.no_modal()
    person.wait_message("Change severity", "SEV1")

    person.press("Add stakeholders", in_message="Change severity")
    person.modal()
    person.fill("People", "da")  # the picker filters the workspace's people
    person.tick("Dan (@dan)")
    person.press("Invite")
    person.no_modal()
    person.wait_message("Added", "@dan")

    person.type("/esc owner @be" + TAB)  # completes to @ben, sent as <@U0BEN00001>
    person.wait_message("Change severity", "@ben")
    assert "Owner\n@ben" in person.message_with("Change severity").text


def test_the_form_shows_errors_inline_cancels_and_raises(person: Person):
    person.open(LEAD)
    person.go("escalations-team")
    channels = wait_for(person.page, lambda _: person.channel_names())

    person.type("/escalate")
    person.modal()
    person.press("Escalate")  # Title left empty
    assert person.field_errors() == ["Please complete this required field."]
    person.fill("Title", "   ")  # only spaces: the bot itself refuses it
    person.press("Escalate")
    wait_for(
        person.page, lambda _: person.field_errors() != ["Please complete this required field."]
    )
    person.press("Cancel")
    person.no_modal()
    assert wait_for(person.page, lambda _: person.channel_names()) == channels  # nothing raised

    person.type("/escalate")
    person.modal()
    person.fill("Title", "Doxxing of a candidate")
    person.fill("What is happening", "Home address posted\nin three groups")
    person.choose("Category", "election")
    person.tick("Restricted (need to know)")
    person.press("Escalate")
    person.no_modal()
    wait_for(  # a private channel, 🔒
        person.page, lambda _: any("🔒" in n and "restricted" in n for n in person.channel_names())
    )

    private = person.channel_link("restricted").get_attribute("data-channel-id")
    person.act_as(SALES)  # not in the need-to-know channel: it does not exist for them
    wait_for(person.page, lambda _: not any("restricted" in n for n in person.channel_names()))
    person.page.get(f"{person.url}?user={SALES}&channel={private}")  # straight to it by ID
    wait_for(person.page, lambda _: person.channel_names())
    assert f"channel={private}" not in person.page.current_url
    assert not any("Doxxing" in m for m in person.messages())


def test_ephemeral_replies_show_only_to_their_person(person: Person):
    person.open(LEAD)
    person.go("escalations-team")
    person.type("/oncall")
    replies = wait_for(
        person.page,
        lambda _: [m for m in person.messages(ephemeral=True) if "secondary" in m] or None,
    )
    assert "Only visible to you" in replies[-1]

    person.act_as(BEN)
    person.go("escalations-team")
    wait_for(person.page, lambda _: person.messages(ephemeral=True) == [])
    person.act_as(LEAD)
    wait_for(person.page, lambda _: any("secondary" in m for m in person.messages(ephemeral=True)))


def test_app_home_shows_who_is_on_call(person: Person):
    person.open(LEAD)
    home = person.open_home()
    wait_for(
        person.page, lambda _: "On call now" in home.text and "My open escalations" in home.text
    )


def test_a_page_arrives_live_and_is_acknowledged_from_it(box: Sandbox, person: Person):
    with box.bot.services.db.uow() as uow:
        oncall = OnCall(box.config).user_at(uow.repos.overrides, "primary", TUESDAY)
    assert oncall is not None
    person.open(oncall)
    person.go("escalations-feed")

    # Someone else raises it, elsewhere: the page must arrive without a reload.
    box.driver.command(LEAD, "/escalate", "SEV1 #election Vote-buying ads in BR")
    person.see("Vote-buying ads in BR")  # the announcement, live in the feed
    person.go(box.emulator.bot_name)  # the DM the page opened
    person.press("Acknowledge", in_message="You are paged")
    person.go("vote-buying-ads")
    person.wait_message("Change severity", "Acknowledged")


def test_a_snapshot_arriving_after_a_switch_does_not_take_the_person_back(
    box: Sandbox, person: Person, monkeypatch: pytest.MonkeyPatch
):
    import threading

    from selenium.webdriver.support.ui import Select

    workspace = box.workspace
    assert workspace is not None
    real = workspace.snapshot
    armed, held, release = threading.Event(), threading.Event(), threading.Event()

    def slow(user: str, channel: str | None, home: bool) -> dict:
        if user == LEAD and armed.is_set():  # the lead's next snapshot is late
            armed.clear()
            held.set()
            release.wait(10)
        return real(user, channel, home)

    monkeypatch.setattr(workspace, "snapshot", slow)
    person.open(LEAD)
    armed.set()
    # Go to another channel (in the page, in one step: the sidebar re-renders on updates)
    person.page.execute_script(
        "const links = document.querySelectorAll('[data-testid=channel-link]');"
        "links[links.length - 1].click();"
    )  # which fetches the lead's snapshot, held
    assert held.wait(10)
    Select(person._all("[data-testid=user-picker]")[0]).select_by_value(BEN)  # meanwhile
    release.set()
    wait_for(person.page, lambda _: f"user={BEN}" in person.page.current_url)
    picker = person._all("[data-testid=user-picker]")[0]
    wait_for(person.page, lambda _: picker.get_attribute("value") == BEN)
