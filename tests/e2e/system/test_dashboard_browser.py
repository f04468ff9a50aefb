"""The dashboard page in a real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from tests.support.system import ROLES, RunningSystem

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


@pytest.fixture
def page(browser: Browser, ledger: RunningSystem) -> Iterator[Page]:
    opened = browser.new_page()
    opened.goto(f"{ledger.gateway_url}/dashboard/#token={ledger.token('reader')}")
    yield opened
    opened.close()


def test_the_page_loads_live_figures_and_a_transfer_shows_up(page: Page, ledger: RunningSystem, tmp_path: Path) -> None:
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
