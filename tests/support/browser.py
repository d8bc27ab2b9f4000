"""A headless Chromium on the sandbox's web workspace, driven through the page's hooks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
WAIT = 10.0  # seconds any one step may take to show on the page


def chromium() -> tuple[str, str] | None:
    """Return (browser, driver) paths when Chromium and its driver are installed."""
    browser = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    driver = shutil.which("chromedriver") or (
        "/usr/lib/chromium/chromedriver"
        if os.path.exists("/usr/lib/chromium/chromedriver")
        else None
    )
    return (browser, driver) if browser and driver else None


def start_browser(width: int = 1280, height: int = 860) -> Any:
    """Start headless Chromium under chromedriver; raise when either is missing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = chromium()
    if found is None:
        raise RuntimeError("chromium and chromium-driver are not installed")
    browser, driver = found
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--lang=en-US",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def wait_for(page: Any, condition: Callable[[Any], Any], timeout: float = WAIT) -> Any:
    """Wait until `condition(page)` is truthy and return it (the page's own explicit wait)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(
        page, timeout, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)
    ).until(condition)


class Person:
    """A person at the web workspace: steps named as they would say them, hooks and text only."""

    def __init__(self, page: Any, url: str):
        self.page, self.url = page, url

    # -- finding things
    def _all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.page.find_elements(By.CSS_SELECTOR, css)

    def messages(self, *, ephemeral: bool | None = None) -> list[str]:
        """Return the texts of the messages shown (only ephemeral ones, or none of them)."""
        out = []
        for node in self._all("[data-testid=message]"):
            is_ephemeral = node.get_attribute("data-ephemeral") == "true"
            if ephemeral is None or ephemeral == is_ephemeral:
                out.append(node.text)
        return out

    def message_with(self, text: str) -> Any:
        """Wait for the newest message showing `text` and return it."""

        def found(_: Any) -> Any:
            hits = [m for m in self._all("[data-testid=message]") if text in m.text]
            return hits[-1] if hits else None

        return wait_for(self.page, found)

    def see(self, text: str) -> None:
        """Wait until some message shows `text`."""
        self.message_with(text)

    def channel_link(self, name: str) -> Any:
        """Wait for the sidebar link whose name contains `name`."""

        def found(_: Any) -> Any:
            hits = [c for c in self._all("[data-testid=channel-link]") if name in c.text]
            return hits[0] if hits else None

        return wait_for(self.page, found)

    def channel_names(self) -> list[str]:
        """Return the names in the sidebar."""
        return [c.text for c in self._all("[data-testid=channel-link]")]

    def modal(self) -> Any:
        """Wait for the open form."""
        return wait_for(self.page, lambda _: next(iter(self._all("[data-testid=modal]")), None))

    def no_modal(self) -> None:
        """Wait until no form is open."""
        wait_for(self.page, lambda _: not self._all("[data-testid=modal]"))

    def field_errors(self) -> list[str]:
        """Wait for the form's inline errors and return them."""
        return wait_for(
            self.page, lambda _: [e.text for e in self._all("[data-testid=field-error]")] or None
        )

    # -- doing things
    def open(self, user: str) -> None:
        """Load the page and act as `user` (picked in the user switcher)."""
        self.page.get(self.url)
        wait_for(self.page, lambda _: self._all("[data-testid=channel-link]"))
        self.act_as(user)

    def act_as(self, user: str) -> None:
        """Pick `user` (an ID) in the user switcher."""
        from selenium.webdriver.support.ui import Select

        picker = self._all("[data-testid=user-picker]")[0]
        Select(picker).select_by_value(user)
        wait_for(self.page, lambda _: f"user={user}" in self.page.current_url)

    def go(self, name: str) -> None:
        """Click a channel in the sidebar and wait until it shows."""

        def clicked(_: Any) -> str | None:
            hits = [c for c in self._all("[data-testid=channel-link]") if name in c.text]
            if not hits:
                return None
            found = hits[0].get_attribute("data-channel-id")
            hits[0].click()
            return found

        channel = wait_for(self.page, clicked)
        wait_for(self.page, lambda _: f"channel={channel}" in self.page.current_url)

    def type(self, text: str) -> None:
        """Type into the composer and press Enter."""
        from selenium.webdriver.common.keys import Keys

        composer = self._all("[data-testid=composer]")[0]
        composer.send_keys(text)
        composer.send_keys(Keys.ENTER)

    def press(self, text: str, in_message: str | None = None) -> None:
        """Click the button labelled `text`: in the newest message showing `in_message`, else
        the newest such button on the page (the form's, when a form is open)."""
        from selenium.webdriver.common.by import By

        xpath = f".//button[normalize-space()={_quote(text)}]"

        def clicked(_: Any) -> bool:
            scope = self.page
            if in_message is not None:
                hits = [m for m in self._all("[data-testid=message]") if in_message in m.text]
                if not hits:
                    return False
                scope = hits[-1]
            buttons = scope.find_elements(By.XPATH, xpath)
            live = [b for b in buttons if b.is_displayed() and b.is_enabled()]
            if not live:
                return False
            live[-1].click()
            return True

        wait_for(self.page, clicked)

    def wait_message(self, containing: str, shows: str) -> None:
        """Wait until the newest message showing `containing` also shows `shows`."""

        def shown(_: Any) -> bool:
            hits = [m for m in self._all("[data-testid=message]") if containing in m.text]
            return bool(hits) and shows in hits[-1].text

        wait_for(self.page, shown)

    def field(self, label: str) -> Any:
        """Return the form input labelled `label`."""
        from selenium.webdriver.common.by import By

        modal = self.modal()
        tag = modal.find_element(
            By.XPATH, f".//label[starts-with(normalize-space(), {_quote(label)})]"
        )
        return modal.find_element(By.ID, tag.get_attribute("for"))

    def fill(self, label: str, text: str) -> None:
        """Type into the form's text field labelled `label` (replacing what is there)."""
        box = self.field(label)
        box.clear()
        box.send_keys(text)

    def choose(self, label: str, option: str) -> None:
        """Pick `option` (its visible text) in the form's select labelled `label`."""
        from selenium.webdriver.support.ui import Select

        Select(self.field(label)).select_by_visible_text(option)

    def tick(self, label: str) -> None:
        """Tick the form's checkbox labelled `label` (a choice, or a person or option in a list)."""
        from selenium.webdriver.common.by import By

        modal = self.modal()
        tag = modal.find_element(
            By.XPATH, f".//label[starts-with(normalize-space(), {_quote(label)})]"
        )
        target = tag.get_attribute("for")
        (modal.find_element(By.ID, target) if target else tag).click()

    def open_home(self) -> Any:
        """Click the App Home tab and wait for its content."""
        self._all("[data-testid=home-tab]")[0].click()
        return wait_for(self.page, lambda _: next(iter(self._all("[data-testid=home-view]")), None))


def _quote(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    return "concat('" + "', \"'\", '".join(text.split("'")) + "')"
