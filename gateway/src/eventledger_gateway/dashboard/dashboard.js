// EventLedger dashboard: live figures and charts of the last hour pushed over Server-Sent Events, accounts found by
// holder name or id with their balance over time and statement, and transfer search. Every call goes through the
// gateway with the bearer token the user pasted (kept in sessionStorage only). ADR 0029 describes the design.
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("eventledger-token") || "";

// ---------------------------------------------------------------- helpers

function money(minor, currency) {
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  const units = `${sign}${Math.floor(abs / 100).toLocaleString("en")}.${String(abs % 100).padStart(2, "0")}`;
  return currency ? `${units} ${currency}` : units;
}

// An amount already in major units (a chart's value), as its axis and legend show it.
function amount(value) {
  return value.toLocaleString("en", { maximumFractionDigits: 2 });
}

// Local time as 2026-12-06 14:03:27.
function when(iso) {
  return new Date(iso).toLocaleString("sv-SE");
}

// An element with text and attributes; children may be elements or text.
function el(tag, { text, className, title, data } = {}, ...children) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  if (title) node.title = title;
  for (const [name, value] of Object.entries(data || {})) node.dataset[name] = value;
  node.append(...children);
  return node;
}

// A holder's name beside the account's id; a button that opens the account view.
function accountCell(accountId, holderName) {
  const name = el("button", { text: holderName || "(name not known yet)", className: "account-link", data: { accountId } });
  name.type = "button";
  return el("td", { className: "account", title: accountId }, name, el("span", { text: accountId, className: "id" }));
}

// The per-currency external account on the other side of a deposit or a withdrawal: no holder, no account view.
function externalCell(accountId, kind) {
  return el("td", { className: "account", title: accountId }, el("span", { text: `external (${kind})`, className: "external" }),
    el("span", { text: accountId, className: "id" }));
}

function row(...cells) {
  return el("tr", {}, ...cells.map((c) => (c instanceof Node ? c : el("td", { text: c[0], className: c[1] || "" }))));
}

async function api(path) {
  const answer = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.detail || body.title || `HTTP ${answer.status}`);
  return body;
}

function showError(id, error) {
  $(id).textContent = error ? error.message : "";
  $(id).hidden = !error;
}

// ---------------------------------------------------------------- live figures and charts

const transfersChart = new LedgerChart($("chart-transfers"), { kind: "bars", perMinute: true, format: amount });
const volumeChart = new LedgerChart($("chart-volume"), { perMinute: true, format: amount });

function showLastHour(hour) {
  const starts = hour.starts || [];
  const currencies = Object.keys(hour.volume || {});
  const perMinute = starts.map((_, i) => currencies.reduce((n, c) => n + hour.transfers[c][i], 0));
  transfersChart.show(starts, [{ label: "Transfers", values: perMinute }]);
  const total = perMinute.reduce((a, b) => a + b, 0);
  transfersChart.target.dataset.total = String(total);
  $("transfers-summary").textContent =
    `${total.toLocaleString("en")} in the last hour, ${(perMinute.at(-1) || 0).toLocaleString("en")} this minute`;
  $("volume-empty").hidden = currencies.length > 0;
  volumeChart.target.hidden = currencies.length === 0;
  if (currencies.length) {
    volumeChart.show(starts, currencies.map((c) => ({ label: c, values: hour.volume[c].map((v) => v / 100) })));
  }
  $("volume-summary").textContent = currencies
    .map((c) => money(hour.volume[c].reduce((a, b) => a + b, 0), c))
    .join(" · ") || "no postings in the last hour";
}

function showFigures(figures) {
  $("open-accounts").textContent = (figures.open_accounts ?? "–").toLocaleString("en");
  $("transfers-per-minute").textContent = figures.transfers_per_minute ?? "–";
  if (figures.position !== undefined) $("read-position").textContent = figures.position;
  const volume = Object.entries(figures.volume_per_currency || {}).sort();
  const counts = figures.transfers_per_currency || {};
  $("volume").tBodies[0].replaceChildren(
    ...volume.map(([currency, amount]) => row([currency], [money(amount), "num"], [(counts[currency] ?? 0).toLocaleString("en"), "num"])),
  );
  $("top-accounts").tBodies[0].replaceChildren(
    ...(figures.top_accounts || []).map((top) => row(accountCell(top.account_id, top.holder_name), [money(top.volume, top.currency), "num"])),
  );
  if (figures.last_hour) showLastHour(figures.last_hour);
}

// ---------------------------------------------------------------- the figures stream and its visible state

// EventSource cannot send an Authorization header, so the stream is read with fetch and parsed here; reconnecting
// (with a growing delay, from the server's `retry`) is ours too. States: connecting, live, disconnected,
// reconnecting, refused (a token the gateway does not accept: no retry until a new one is given).
const stream = { controller: null, attempt: 0, retryMs: 2000, timer: null, lastFrame: 0 };
const MAX_RETRY_MS = 8000;
const SILENCE_MS = 40000; // the server sends at least every 15 s: longer silence means a dead connection

function setConnection(state, text) {
  $("connection").dataset.state = state;
  $("connection").textContent = text;
  document.body.classList.toggle("stale", state !== "live");
}

function handleFrame(frame) {
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    else if (line.startsWith("retry:") && Number(line.slice(6)) > 0) stream.retryMs = Number(line.slice(6));
  }
  if (data.length) showFigures(JSON.parse(data.join("\n")));
}

async function followStream() {
  clearTimeout(stream.timer);
  if (stream.controller) stream.controller.abort();
  const controller = new AbortController();
  stream.controller = controller;
  setConnection(stream.attempt ? "reconnecting" : "connecting", stream.attempt ? "reconnecting…" : "connecting…");
  let reason;
  try {
    const answer = await fetch("/v1/stats/stream", {
      headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (answer.status === 401 || answer.status === 403) {
      setConnection("refused", `token refused (HTTP ${answer.status}): paste a reader token`);
      return;
    }
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    setConnection("live", "live");
    stream.attempt = 0;
    stream.lastFrame = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - stream.lastFrame > SILENCE_MS) controller.abort(new Error("no data for 40 s"));
    }, 5000);
    try {
      const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        stream.lastFrame = Date.now();
        buffer += value.replaceAll("\r\n", "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          handleFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } finally {
      clearInterval(watchdog);
    }
    reason = "the stream ended";
  } catch (error) {
    if (stream.controller !== controller) return; // replaced by a newer connection (a new token)
    reason = controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason.message : error.message;
  }
  if (stream.controller !== controller) return;
  stream.attempt += 1;
  const delay = Math.min(MAX_RETRY_MS, stream.retryMs * 2 ** (stream.attempt - 1));
  const due = Date.now() + delay;
  const countdown = () => {
    const seconds = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    setConnection("disconnected", `disconnected (${reason}); reconnecting in ${seconds} s`);
    stream.timer = seconds > 0 ? setTimeout(countdown, Math.min(1000, due - Date.now())) : setTimeout(followStream, 0);
  };
  countdown();
}

// ---------------------------------------------------------------- accounts

const balanceChart = new LedgerChart($("chart-balance"), { kind: "steps", height: 180, format: amount });
const STATEMENT_ROWS = 50;
const MAX_STATEMENT_PAGES = 5; // the balance chart reads at most 1000 entries (5 pages of 200)
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function findAccounts(event) {
  event.preventDefault();
  const wanted = $("account-query").value.trim();
  showError("account-error", null);
  if (UUID.test(wanted)) {
    $("found").hidden = true;
    await openAccount(wanted);
    return;
  }
  try {
    const page = await api(`/v1/accounts?${new URLSearchParams({ holder: wanted, limit: "20" })}`);
    $("found").tBodies[0].replaceChildren(
      ...page.items.map((a) => row(accountCell(a.account_id, a.holder_name), [a.currency], [a.status], [money(a.balance, a.currency), "num"])),
    );
    $("found").hidden = page.items.length === 0;
    if (!page.items.length) showError("account-error", new Error(`no holder name starts with “${wanted}”`));
  } catch (error) {
    showError("account-error", error);
  }
}

async function statement(accountId) {
  const entries = [];
  let cursor = null;
  for (let page = 0; page < MAX_STATEMENT_PAGES; page += 1) {
    const params = new URLSearchParams({ limit: "200" });
    if (cursor) params.set("cursor", cursor);
    const body = await api(`/v1/accounts/${encodeURIComponent(accountId)}/entries?${params}`);
    entries.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return { entries, complete: !cursor };
}

async function openAccount(accountId) {
  showError("account-error", null);
  try {
    const account = await api(`/v1/accounts/${encodeURIComponent(accountId)}`);
    const { entries, complete } = await statement(accountId);
    $("account-holder").textContent = account.holder_name;
    $("account-id").textContent = account.account_id;
    $("account-summary").textContent =
      `${account.status} · balance ${money(account.balance, account.currency)} · ` +
      `available ${money(account.available, account.currency)}`;
    $("account").hidden = false;
    const xs = entries.map((e) => Date.parse(e.posted_at) / 1000);
    const balances = entries.map((e) => e.balance_after / 100);
    if (entries.length) { // the balance holds until now
      xs.push(Math.max(Date.now() / 1000, xs.at(-1) + 1));
      balances.push(balances.at(-1));
    }
    $("balance-empty").hidden = entries.length > 0;
    balanceChart.target.hidden = entries.length === 0;
    if (entries.length) balanceChart.show(xs, [{ label: `Balance (${account.currency})`, values: balances }]);
    $("statement-note").textContent = entries.length
      ? `latest ${Math.min(STATEMENT_ROWS, entries.length)} of ${entries.length}${complete ? "" : "+"} entries, newest first`
      : "no entries yet";
    $("entries").tBodies[0].replaceChildren(
      ...entries.slice(-STATEMENT_ROWS).reverse().map((e) =>
        row([when(e.posted_at), "when"], [e.description || ""], [money(e.amount), "num"], [money(e.balance_after), "num"])),
    );
    $("account-section").scrollIntoView({ block: "start" });
  } catch (error) {
    $("account").hidden = true;
    showError("account-error", error);
  }
}

function onAccountLink(event) {
  const link = event.target.closest(".account-link");
  if (!link) return;
  $("account-query").value = link.dataset.accountId;
  openAccount(link.dataset.accountId);
}

// ---------------------------------------------------------------- search

async function search(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ limit: "20" });
  if ($("q").value.trim()) params.set("q", $("q").value.trim());
  if ($("currency").value.trim()) params.set("currency", $("currency").value.trim().toUpperCase());
  showError("search-error", null);
  try {
    const body = await api(`/v1/search/transfers?${params}`);
    $("search-total").textContent = `${body.total.toLocaleString("en")} transfers`;
    $("results").tBodies[0].replaceChildren(
      ...body.items.map((t) => row(
        [when(t.created_at), "when"], [t.description || ""],
        t.kind === "deposit" ? externalCell(t.from_account_id, t.kind) : accountCell(t.from_account_id, t.from_holder_name),
        t.kind === "withdrawal" ? externalCell(t.to_account_id, t.kind) : accountCell(t.to_account_id, t.to_holder_name),
        [t.status], [money(t.amount, t.currency), "num"],
      )),
    );
  } catch (error) {
    showError("search-error", error);
  }
}

// ---------------------------------------------------------------- start

function useToken(event) {
  if (event) event.preventDefault();
  token = $("token").value.trim() || token;
  sessionStorage.setItem("eventledger-token", token);
  stream.attempt = 0;
  followStream();
  search();
}

$("token-form").addEventListener("submit", useToken);
$("finder-form").addEventListener("submit", findAccounts);
$("search-form").addEventListener("submit", search);
document.querySelector("main").addEventListener("click", onAccountLink);
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) { token = fromHash; history.replaceState(null, "", location.pathname); }
if (token) { $("token").value = token; useToken(); }
