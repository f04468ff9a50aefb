"""The dashboard page in a real headless Chromium (Debian's), driven by Playwright, against the running system and
under the gateway's strict Content-Security-Policy (ADR 0023): the live charts receive points as transfers are made
(pushed over Server-Sent Events from the stream job's windows, ADR 0029), holder names stand beside account ids, an
account opens with its balance over time and its statement, the tables fit the page at 1024 px, and the stream's
state shows "disconnected" while the gateway is stopped and "live" again once it restarted. The browser reports no
violation of the policy.

With ``EVENTLEDGER_UPDATE_SCREENSHOT=1`` the screenshot is also written to ``docs/dashboard.png`` (the README's)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright
from tests.support.processes import wait_for
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
DOCS_SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "dashboard.png"
WIDE: ViewportSize = {"width": 1280, "height": 900}
NARROW: ViewportSize = {"width": 1024, "height": 800}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it "
            "(PYTHONPATH=infrastructure/src python3 -m eventledger_infra browser)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


# Every violation the page meets, as the browser reports it to the page (before any of the page's own scripts), and
# every state the stream indicator takes (a state shown for a moment is still recorded).
WATCH_PAGE = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
window.connectionStates = [];
document.addEventListener("DOMContentLoaded", () => {
  const indicator = document.getElementById("connection");
  new MutationObserver(() => {
    const state = indicator.dataset.state;
    if (window.connectionStates.at(-1) !== state) window.connectionStates.push(state);
  }).observe(indicator, { attributes: true, attributeFilter: ["data-state"] });
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
    opened = browser.new_page(viewport=WIDE)
    opened.add_init_script(WATCH_PAGE)
    opened.on("console", lambda message: _keep_csp_lines(csp_console, message.text))
    answer = opened.goto(f"{ledger.gateway_url}/dashboard/#token={ledger.token('reader')}")
    assert answer is not None
    assert answer.headers["content-security-policy"] == DASHBOARD_CSP  # the policy under test is in force
    expect(opened.locator("#connection")).to_have_attribute("data-state", "live", timeout=30_000)
    yield opened
    assert opened.evaluate("window.cspViolations") == []
    assert csp_console == []
    opened.close()


@pytest.fixture(scope="module")
def api(ledger: RunningSystem) -> Iterator[httpx.Client]:
    writer = {"Authorization": f"Bearer {ledger.token(*ROLES)}"}
    with httpx.Client(base_url=ledger.gateway_url, headers=writer, timeout=30) as client:
        yield client


def _open(api: httpx.Client, holder: str, currency: str) -> str:
    answer = api.post("/v1/accounts", json={"holder_name": holder, "currency": currency})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["account_id"])


def _deposit(api: httpx.Client, account: str, amount: int, description: str) -> None:
    answer = api.post("/v1/deposits", json={"account_id": account, "amount": amount, "description": description})
    assert answer.status_code == 201, answer.text


def _transfer(api: httpx.Client, source: str, target: str, amount: int, description: str) -> None:
    body = {"from_account_id": source, "to_account_id": target, "amount": amount, "description": description}
    answer = api.post("/v1/transfers", json=body)
    assert answer.status_code == 201, answer.text


def _charted_transfers(page: Page) -> int:
    return int(page.get_attribute("#chart-transfers", "data-total") or 0)


# Pixels of the bars' colour (the first of the palette, #2f6fdf, drawn with some transparency in the fill) on the
# transfers chart's canvas: what the chart drew, not only what it was given.
PAINTED = """
() => {
  const canvas = document.querySelector("#chart-transfers canvas");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
    if (a > 0 && b > 180 && b - r > 80 && b - g > 40) painted += 1;
  }
  return painted;
}
"""


def test_the_charts_receive_points_as_transfers_are_made(page: Page, api: httpx.Client) -> None:
    before = _charted_transfers(page)
    ada, bea = _open(api, "Chart Ada", "NOK"), _open(api, "Chart Bea", "NOK")
    _deposit(api, ada, 50_000, "chart seed")
    for n in range(4):
        _transfer(api, ada, bea, 1_000 + n, f"chart {n}")
    # Five postings (one deposit, four transfers); a minute may turn over meanwhile, and both minutes are charted.
    wait_for(lambda: _charted_transfers(page) >= before + 5, 60, "the transfers chart to count the five postings")
    expect(page.locator("#chart-volume")).to_have_attribute("data-series", re.compile(r"(^|\|)NOK(\||$)"))
    assert int(page.get_attribute("#chart-volume", "data-points") or 0) >= 1
    assert page.evaluate(PAINTED) > 0  # bars were drawn (their heights change with the scale: no count to compare)
    expect(page.locator("#volume-summary")).to_contain_text("NOK")
    expect(page.locator("#volume")).to_contain_text("NOK")


def test_names_stand_beside_ids_and_an_account_opens_with_its_balance_over_time_and_statement(
    page: Page, api: httpx.Client, ledger: RunningSystem, tmp_path: Path
) -> None:
    marker = f"kayak-{uuid.uuid4().hex[:6]}"
    dora, eli = _open(api, "Dora Dashboard", "SEK"), _open(api, "Eli Example", "SEK")
    _deposit(api, dora, 90_000, marker)
    _transfer(api, dora, eli, 12_345, f"{marker} share")
    _transfer(api, dora, eli, 2_000, f"{marker} coffee")

    # Top accounts: the holder's name beside the id.
    top = page.locator("#top-accounts tbody tr", has_text="Dora Dashboard")
    expect(top).to_have_count(1, timeout=30_000)
    expect(top.locator(".id")).to_have_text(dora)

    # Search: both sides named, and the external account of the deposit said so.
    page.fill("#q", marker)
    for _ in range(40):  # the search index follows within seconds
        page.click("#search-form button")
        page.wait_for_timeout(500)
        if page.locator("#results tbody tr").count() == 3:
            break
    expect(page.locator("#results tbody tr")).to_have_count(3)
    share = page.locator("#results tbody tr", has_text=f"{marker} share")
    expect(share.locator("td.account").nth(0)).to_contain_text("Dora Dashboard")
    expect(share.locator("td.account").nth(0).locator(".id")).to_have_text(dora)
    expect(share.locator("td.account").nth(1)).to_contain_text("Eli Example")
    expect(page.locator("#results tbody tr", has_text=marker).locator(".external")).to_have_text("external (deposit)")

    # Found by the beginning of the holder's name, then opened from the table.
    page.fill("#account-query", "Dora Dash")
    page.click("#finder-form button")
    found = page.locator("#found tbody tr", has_text=dora)
    expect(found).to_contain_text("Dora Dashboard")
    for _ in range(30):  # each read model follows on its own: the statement may trail the search index
        found.locator(".account-link").click()
        page.wait_for_timeout(500)
        if page.locator("#entries tbody tr").count() == 3:
            break
    expect(page.locator("#account-holder")).to_have_text("Dora Dashboard")
    expect(page.locator("#account-id")).to_have_text(dora)
    expect(page.locator("#entries tbody tr")).to_have_count(3)
    expect(page.locator("#entries tbody tr").first).to_contain_text(f"{marker} coffee")  # newest first
    expect(page.locator("#entries tbody tr").first).to_contain_text("756.55")  # 900.00 - 123.45 - 20.00
    # Three movements and the balance held until now: four points, all above zero.
    expect(page.locator("#chart-balance")).to_have_attribute("data-points", "4")
    assert page.locator("#chart-balance canvas").count() == 1

    # Opened from a search result as well: the other side's account.
    share.locator(".account-link", has_text="Eli Example").click()
    expect(page.locator("#account-holder")).to_have_text("Eli Example", timeout=10_000)

    # The screenshot for reviewers: demo data, these accounts, charts with points.
    page.fill("#account-query", "Dora Dash")
    page.click("#finder-form button")
    found.locator(".account-link").click()
    expect(page.locator("#account-holder")).to_have_text("Dora Dashboard")
    page.evaluate("window.scrollTo(0, 0)")
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("EVENTLEDGER_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)


# Every table, and every cell in it, within its card; the page no wider than the window.
OVERFLOW = """
() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) problems.push(`page ${root.scrollWidth} > ${root.clientWidth}`);
  for (const table of document.querySelectorAll("main table:not([hidden])")) {
    const card = table.closest(".card").getBoundingClientRect();
    const box = table.getBoundingClientRect();
    if (table.rows.length < 2) problems.push(`${table.id}: no rows to measure`);
    if (box.right > card.right + 0.5 || box.left < card.left - 0.5) problems.push(`${table.id} ${box.width} wide`);
    if (table.scrollWidth > table.clientWidth) problems.push(`${table.id} scrolls ${table.scrollWidth}`);
    for (const cell of table.querySelectorAll("th, td")) {
      const c = cell.getBoundingClientRect();
      if (c.right > box.right + 0.5) problems.push(`${table.id} cell "${cell.textContent}" ends at ${c.right}`);
    }
    // Names, ids and descriptions may end in an ellipsis (the whole id is in the title); amounts, dates, headers not.
    for (const cell of table.querySelectorAll("th, td.num, td.when")) {
      if (cell.scrollWidth > cell.clientWidth) problems.push(`${table.id} cuts "${cell.textContent}"`);
    }
  }
  return problems;
}
"""


def test_the_tables_fit_the_page_at_1024_px(page: Page, api: httpx.Client) -> None:
    long_name = "Maximiliane Konstantinopolitanische-Wiederaufbereitungsgesellschaft"
    rich, other = _open(api, long_name, "CHF"), _open(api, "Fitz Fit", "CHF")
    marker = f"fit-{uuid.uuid4().hex[:6]}"
    _deposit(api, rich, 9_876_543_210_00, f"{marker} an unusually long description " * 4)
    _transfer(api, rich, other, 1_234_567_890_12, f"{marker} transfer")
    page.set_viewport_size(NARROW)
    page.fill("#q", marker)
    for _ in range(40):
        page.click("#search-form button")
        page.wait_for_timeout(500)
        if page.locator("#results tbody tr").count() == 2:
            break
    expect(page.locator("#results tbody tr")).to_have_count(2)
    page.fill("#account-query", "Maximiliane")
    page.click("#finder-form button")
    link = page.locator("#found .account-link").first
    expect(link).to_have_text(long_name)
    for _ in range(30):
        link.click()
        page.wait_for_timeout(500)
        if page.locator("#entries tbody tr").count() == 2:
            break
    expect(page.locator("#entries tbody tr")).to_have_count(2)
    expect(page.locator("#top-accounts tbody tr", has_text="Maximiliane")).to_have_count(1, timeout=30_000)

    expect(page.locator("#results tbody tr", has_text="transfer").locator("td.num")).to_have_text(
        "1,234,567,890.12 CHF"
    )
    problems: list[Any] = page.evaluate(OVERFLOW)
    assert problems == []


def test_the_stream_shows_disconnected_while_the_gateway_is_stopped_and_live_after_it_restarts(
    page: Page, api: httpx.Client, ledger: RunningSystem
) -> None:
    page.evaluate("window.connectionStates = []")
    gateway = ledger.service_pid("gateway")
    os.kill(gateway, signal.SIGTERM)  # it drains and exits; the supervisor starts it again
    expect(page.locator("#connection")).to_have_attribute("data-state", "disconnected", timeout=30_000)
    expect(page.locator("#connection")).to_contain_text("reconnecting in")
    assert page.locator("body").get_attribute("class") == "stale"  # the figures are marked as not live
    wait_for(lambda: ledger.service_pid("gateway") != gateway, 60, "the supervisor to start the gateway again")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=60_000)
    states: list[str] = page.evaluate("window.connectionStates")
    assert states[0] == "disconnected", states
    assert states[-1] == "live", states
    assert "reconnecting" in states, states

    # The figures flow again on the new connection.
    before = _charted_transfers(page)
    account = _open(api, "After Restart", "EUR")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the gateway may still be warming up behind HAProxy
        answer = api.post("/v1/deposits", json={"account_id": account, "amount": 100, "description": "again"})
        if answer.status_code == 201:
            break
        time.sleep(0.5)
    wait_for(lambda: _charted_transfers(page) > before, 60, "the chart to count a deposit after the restart")


def test_the_violation_report_works_so_no_violation_means_none(browser: Browser, ledger: RunningSystem) -> None:
    """An inline style is what the policy forbids: the page and the console both report it."""
    console: list[str] = []
    opened = browser.new_page()
    opened.add_init_script(WATCH_PAGE)
    opened.on("console", lambda message: _keep_csp_lines(console, message.text))
    opened.goto(f"{ledger.gateway_url}/dashboard/")
    opened.evaluate("document.body.insertAdjacentHTML('beforeend', '<style>body { color: red }</style>')")
    opened.wait_for_function("window.cspViolations.length > 0")
    assert opened.evaluate("window.cspViolations") == ["style-src-elem blocked inline"]
    assert any("style-src" in line for line in console)
    opened.close()
