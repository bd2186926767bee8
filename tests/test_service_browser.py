"""The officer's flow in a real headless Chromium, every page checked with axe-core.

An officer signs in, opens a referral, sees the ranked matches with their breakdown and
accepts one that needs approval; a manager approves; the register and the audit show it.
Needs Debian's `chromium` (/usr/bin/chromium), the `playwright` package (its driver only:
no browser is downloaded) and axe-core's axe.min.js from the `axe-playwright-python` package.
"""

from __future__ import annotations

import importlib.resources
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx",
             "jinja2"):
    pytest.importorskip(_dep)
CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"the browser test needs Debian's chromium at {CHROMIUM} "
                "(apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the browser test needs the playwright package")

import uvicorn  # noqa: E402
from service_helpers import DEMO, password, seeded_sqlite  # noqa: E402

from optimiser import load_instance  # noqa: E402
from optimiser.match import Matcher  # noqa: E402
from optimiser.service.app import create_app  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def axe_script() -> str:
    try:
        files = importlib.resources.files("axe_playwright_python")
    except ModuleNotFoundError:
        pytest.skip("axe-core checks need axe.min.js from the axe-playwright-python package")
    return (files / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = seeded_sqlite(tmp_path_factory.mktemp("browser"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=port,
                                        log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def near_miss_child() -> tuple[str, str]:
    """A waiting child alone (no group) with a near miss, and that placement."""
    m = Matcher(load_instance(DEMO))
    for cid, group in zip(m.cid, m.inst.sibling_group.tolist(), strict=True):
        if not group:
            res = m.rank(cid)
            if res.near_misses and res.ranked:
                return cid, res.near_misses[0].placement_id
    raise AssertionError("no near miss in the demo authority")


class Checker:
    def __init__(self) -> None:
        self.script = axe_script()
        self.pages: list[str] = []

    def __call__(self, page: Any) -> None:
        page.evaluate(self.script)
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        bad = [(v["id"], v["impact"], len(v["nodes"])) for v in result["violations"]
               if v["impact"] in ("serious", "critical")]
        assert not bad, f"{page.url}: {bad}"
        self.pages.append(page.url)


def sign_in(page: Any, base: str, role: str, check: Checker) -> None:
    page.goto(f"{base}/sign-in")
    check(page)
    page.keyboard.press("Tab")  # the first stop is the skip link
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.fill("#username", role)
    page.fill("#password", password(role))
    page.click("button:has-text('Sign in')")


def test_officer_flow_in_chromium(base: str) -> None:
    child, pid = near_miss_child()
    check = Checker()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            officer = browser.new_context(bypass_csp=True, java_script_enabled=True).new_page()
            sign_in(officer, base, "officer", check)
            officer.wait_for_url(f"{base}/referrals")
            check(officer)
            officer.fill("#who", child)
            officer.click("button:has-text('Open referral')")
            officer.wait_for_url(f"{base}/referrals/*")
            assert officer.locator("h1").inner_text().startswith(f"Matches for child {child}")
            ranked = officer.locator("table").first
            assert ranked.locator("th", has_text="Distance").count() == 1
            assert ranked.locator("tbody tr").count() >= 1
            assert officer.locator("details summary").count() >= 1  # ruled out, by rule
            check(officer)
            officer.select_option("#placement_id", pid)
            officer.check("#decision-accept")
            officer.fill("#reason", "closest to school")
            officer.click("button:has-text('Record decision')")
            assert "waits for a manager" in officer.locator(".notification-banner").inner_text()
            check(officer)

            manager = browser.new_context(bypass_csp=True).new_page()
            sign_in(manager, base, "manager", check)
            manager.goto(f"{base}/approvals")
            check(manager)
            manager.locator("label", has_text="Approve").first.click()
            manager.locator("textarea").first.fill("agreed with the director")
            manager.click("button:has-text('Record approval decision')")
            assert "the child is placed" in manager.locator(".notification-banner").inner_text()
            manager.goto(f"{base}/register/children")
            manager.fill("#q", child)
            manager.click("button:has-text('Search')")
            row = manager.locator("tr", has=manager.locator("th", has_text=child))
            assert pid in row.inner_text()
            check(manager)
            manager.goto(f"{base}/audit")
            assert "chain verified" in manager.inner_text("main")
            assert manager.locator("td", has_text="approval.approve").count() == 1
            check(manager)
            manager.goto(f"{base}/reallocations")
            check(manager)
            manager.fill("#max_moves", "3")
            manager.click("button:has-text('Start a run')")
            manager.wait_for_url(f"{base}/reallocations/*")
            assert manager.locator("input[name=chain]").count() >= 1
            check(manager)

            commissioner = browser.new_context(bypass_csp=True).new_page()
            sign_in(commissioner, base, "commissioner", check)
            commissioner.goto(f"{base}/commissioning")
            check(commissioner)
            commissioner.fill("#scenarios", "two")  # not a number: the error, accessibly
            commissioner.click("button:has-text('Make a plan')")
            assert "whole number" in commissioner.locator(".error-message").inner_text()
            check(commissioner)
        finally:
            browser.close()
    assert len(check.pages) >= 10
