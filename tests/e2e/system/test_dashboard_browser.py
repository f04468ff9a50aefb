"""The dashboard page in a real headless Chromium (Debian's), driven by Playwright, under the gateway's strict
Content-Security-Policy (ADR 0023): the page works and the browser reports no violation of it."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from tests.support.system import ROLES, RunningSystem

from eventledger_gateway.security import DASHBOARD_CSP

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it "
            "(PYTHONPATH=infrastructure/src python3 -m eventledger_infra browser)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


# Every violation the page meets, as the browser reports it to the page (before any of the page's own scripts).
COLLECT_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def csp_console() -> list[str]:
    """What Chromium logged about the Content-Security-Policy (it logs each violation as well)."""
    return []


def _keep_csp_lines(kept: list[str], text: str) -> None:
    if "Security Policy" in text:
        kept.append(text)


@pytest.fixture
def page(browser: Browser, ledger: RunningSystem, csp_console: list[str]) -> Iterator[Page]:
    opened = browser.new_page()
    opened.add_init_script(COLLECT_VIOLATIONS)
    opened.on("console", lambda message: _keep_csp_lines(csp_console, message.text))
    answer = opened.goto(f"{ledger.gateway_url}/dashboard/#token={ledger.token('reader')}")
    assert answer is not None
    assert answer.headers["content-security-policy"] == DASHBOARD_CSP  # the policy under test is in force
    yield opened
    opened.close()


def test_the_page_loads_live_figures_and_a_transfer_shows_up(
    page: Page, ledger: RunningSystem, tmp_path: Path, csp_console: list[str]
) -> None:
    expect(page.locator("#connection")).to_have_text("live", timeout=20_000)
    expect(page.locator("#open-accounts")).not_to_have_text("–", timeout=20_000)  # noqa: RUF001 - the page's dash

    writer = {"Authorization": f"Bearer {ledger.token(*ROLES)}"}
    marker = f"kayak-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=ledger.gateway_url, headers=writer, timeout=30) as api:
        account = api.post("/v1/accounts", json={"holder_name": "Dora Dashboard", "currency": "SEK"}).json()
        api.post("/v1/deposits", json={"account_id": account["account_id"], "amount": 90_000, "description": marker})

    expect(page.locator("#volume")).to_contain_text("SEK", timeout=30_000)
    page.fill("#q", marker)
    for _ in range(30):  # the search index follows within seconds
        page.click("#search-form button")
        if page.locator("#results tbody tr").count() == 1:
            break
        page.wait_for_timeout(500)
    expect(page.locator("#results")).to_contain_text(marker)

    page.fill("#account-id", account["account_id"])
    for _ in range(30):  # each read model follows on its own; the statement may trail the search index
        page.click("#lookup-form button")
        page.wait_for_timeout(500)
        if "Dora Dashboard" in (page.text_content("#account-summary") or ""):
            break
    expect(page.locator("#account-summary")).to_contain_text("Dora Dashboard")
    expect(page.locator("#entries")).to_contain_text(marker)
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert page.evaluate("window.cspViolations") == []
    assert csp_console == []


def test_the_violation_report_works_so_no_violation_means_none(page: Page, csp_console: list[str]) -> None:
    """An inline style is what the policy forbids: the page and the console both report it."""
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<style>body { color: red }</style>')")
    page.wait_for_function("window.cspViolations.length > 0")
    assert page.evaluate("window.cspViolations") == ["style-src-elem blocked inline"]
    assert any("style-src" in line for line in csp_console)
