"""What the journey tests share: a person in a browser context of their own, who can work by mouse or by
keyboard only, at desktop or phone width; each page they reach is checked with axe-core, every console
error is kept, and screenshots go to the artifacts folder (printed at the end of the run)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "e2e-artifacts"))
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
DEMO_PASSWORD = "ukeoi-demo-2026"  # noqa: S105 (the published demo password)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
MAX_TABS = 250


class Person:
    """One user in their own browser context. `mode` is "desktop", "phone" or "keyboard" (desktop width,
    and every action by Tab, Space and Enter, as someone who cannot use a mouse)."""

    def __init__(self, browser, base_url: str, journey: str, who: str, mode: str = "desktop"):
        self.journey, self.who, self.mode = journey, who, mode
        self.context = browser.new_context(
            base_url=base_url, locale="ja-JP", viewport=PHONE if mode == "phone" else DESKTOP,
            is_mobile=mode == "phone", has_touch=mode == "phone", accept_downloads=True,
        )
        # An init script runs before the page's own and outside its CSP, so the pages are tested as served.
        self.context.add_init_script(path=str(AXE))
        # data-confirm questions are answered yes in the page: no native dialog to race with.
        self.context.add_init_script("window.confirm = () => true;")
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.console_errors: list[str] = []
        self.expected_errors: list[str] = []  # parts of console errors a test provokes on purpose
        self.axe_problems: list[str] = []
        self.checked: set[str] = set()
        self.page.on("console", lambda message: message.type == "error" and self.console_errors.append(
            f"{self.page.url}: {message.text}"))
        self.page.on("pageerror", lambda error: self.console_errors.append(f"{self.page.url}: {error}"))
        self.shots = 0

    # --- actions, by mouse or by keyboard ------------------------------------------------------------

    def focus_by_tab(self, locator) -> None:
        """Press Tab until `locator` has the focus (fails if it is not reachable by keyboard)."""
        for _ in range(MAX_TABS):
            if locator.evaluate("element => element === document.activeElement"):
                return
            self.page.keyboard.press("Tab")
        raise AssertionError(f"{locator} cannot be reached with the Tab key on {self.page.url}")

    def fill(self, locator, text: str) -> None:
        if self.mode == "keyboard":
            self.focus_by_tab(locator)
            if locator.get_attribute("type") == "date":  # typed segment by segment: year, Tab, month, Tab, day
                year, month, day = text.split("-")
                for segment, key in ((year, "Tab"), (month, "Tab"), (day, None)):
                    self.page.keyboard.type(segment)
                    if key:
                        self.page.keyboard.press(key)
                return
            self.page.keyboard.press("Control+a")
            self.page.keyboard.insert_text(text)
        else:
            locator.fill(text)

    def press(self, locator) -> None:
        """Click a button or link (Enter on it with the keyboard)."""
        if self.mode == "keyboard":
            self.focus_by_tab(locator)
            self.page.keyboard.press("Enter")
        else:
            locator.click()

    def tick(self, locator) -> None:
        if self.mode == "keyboard":
            self.focus_by_tab(locator)
            self.page.keyboard.press("Space")
        else:
            locator.check()

    def choose_file(self, locator, name: str, data: bytes) -> None:
        payload = {"name": name, "mimeType": "application/pdf", "buffer": data}
        if self.mode == "keyboard":
            self.focus_by_tab(locator)
            with self.page.expect_file_chooser() as chooser:
                self.page.keyboard.press("Space")
            chooser.value.set_files(payload)
        else:
            locator.set_input_files(payload)

    def login(self, login_id: str, password: str = DEMO_PASSWORD) -> None:
        self.page.goto("/login")
        self.fill(self.page.locator("#login_id"), login_id)
        self.fill(self.page.locator("#password"), password)
        self.press(self.page.get_by_role("button", name="ログイン"))
        self.page.wait_for_url(lambda url: "/login" not in url)

    # --- what is recorded ----------------------------------------------------------------------------

    def shot(self, name: str) -> Path:
        """A full-page screenshot in ARTIFACTS/<journey>/<mode>/, numbered in the order taken."""
        self.shots += 1
        path = ARTIFACTS / self.journey / self.mode / f"{self.who}-{self.shots:02d}-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        # caret="initial": hiding the caret would add an inline style, which the portal's CSP refuses.
        self.page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    def audit(self) -> None:
        """axe-core on the page as it is now (once per address): serious and critical violations are kept."""
        address = self.page.url.split("?")[0]
        if address in self.checked:
            return
        self.checked.add(address)
        self.page.wait_for_function("() => window.axe !== undefined")
        result = self.page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        for violation in result["violations"]:
            if violation["impact"] in ("serious", "critical"):
                nodes = ", ".join(str(node["target"]) for node in violation["nodes"][:3])
                self.axe_problems.append(f"{self.page.url}: {violation['id']} ({violation['impact']}): {nodes}")

    def assert_clean(self) -> None:
        """No axe problem on any page audited and no console error on any page seen."""
        assert not self.axe_problems, "\n".join(self.axe_problems)
        unexpected = [e for e in self.console_errors if not any(part in e for part in self.expected_errors)]
        assert not unexpected, "\n".join(unexpected)

    def close(self) -> None:
        self.context.close()

