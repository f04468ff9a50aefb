// EventLedger dashboard: live figures over Server-Sent Events, account lookup with statement, transfer search.
// Every call goes through the gateway with the bearer token the user pasted (kept in sessionStorage only).
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("eventledger-token") || "";
let streamAbort = null;

function money(minor, currency) {
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100).toLocaleString()}.${String(abs % 100).padStart(2, "0")}${currency ? " " + currency : ""}`;
}

function cell(text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "num";
  return td;
}

function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    cells.forEach(([text, numeric]) => tr.appendChild(cell(text, numeric)));
    return tr;
  }));
}

async function api(path) {
  const answer = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.detail || body.title || `HTTP ${answer.status}`);
  return { body, readPosition: answer.headers.get("X-Read-Position") };
}

function showFigures(figures) {
  $("open-accounts").textContent = figures.open_accounts ?? "–";
  $("transfers-per-minute").textContent = figures.transfers_per_minute ?? "–";
  if (figures.position !== undefined) $("read-position").textContent = figures.position;
  const volume = Object.entries(figures.volume_per_currency || {}).sort();
  fillRows($("volume").tBodies[0], volume.map(([currency, amount]) => [[currency], [money(amount), true]]));
  fillRows($("top-accounts").tBodies[0], (figures.top_accounts || []).map((row) => [
    [row.holder_name ? `${row.holder_name} (${row.account_id.slice(0, 8)})` : row.account_id],
    [money(row.volume, row.currency), true],
  ]));
}

// EventSource cannot send an Authorization header, so the stream is read with fetch and parsed here.
async function followStream() {
  if (streamAbort) streamAbort.abort();
  streamAbort = new AbortController();
  $("connection").textContent = "connecting…";
  try {
    const answer = await fetch("/v1/stats/stream", {
      headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
      signal: streamAbort.signal,
    });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    $("connection").textContent = "live";
    const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        if (data) showFigures(JSON.parse(data));
      }
    }
    $("connection").textContent = "stream ended; reconnecting";
  } catch (error) {
    if (error.name === "AbortError") return;
    $("connection").textContent = `disconnected (${error.message}); retrying`;
  }
  setTimeout(followStream, 2000);
}

async function lookUp(event) {
  event.preventDefault();
  const id = $("account-id").value.trim();
  $("lookup-error").hidden = true;
  try {
    const { body: account } = await api(`/v1/accounts/${encodeURIComponent(id)}`);
    const { body: entries } = await api(`/v1/accounts/${encodeURIComponent(id)}/entries?limit=50`);
    $("account-summary").textContent =
      `${account.holder_name} — ${account.status} — balance ${money(account.balance, account.currency)}, ` +
      `available ${money(account.available, account.currency)}`;
    fillRows($("entries").tBodies[0], entries.items.map((e) => [
      [new Date(e.posted_at).toLocaleString()], [e.description || ""], [money(e.amount), true], [money(e.balance_after), true],
    ]));
    $("account").hidden = false;
  } catch (error) {
    $("account").hidden = true;
    $("lookup-error").textContent = error.message;
    $("lookup-error").hidden = false;
  }
}

async function search(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ limit: "20" });
  if ($("q").value.trim()) params.set("q", $("q").value.trim());
  if ($("currency").value.trim()) params.set("currency", $("currency").value.trim().toUpperCase());
  $("search-error").hidden = true;
  try {
    const { body } = await api(`/v1/search/transfers?${params}`);
    $("search-total").textContent = `${body.total} transfers`;
    fillRows($("results").tBodies[0], body.items.map((t) => [
      [new Date(t.created_at).toLocaleString()], [t.description || ""], [t.currency], [t.status], [money(t.amount), true],
    ]));
  } catch (error) {
    $("search-error").textContent = error.message;
    $("search-error").hidden = false;
  }
}

function useToken(event) {
  if (event) event.preventDefault();
  token = $("token").value.trim() || token;
  sessionStorage.setItem("eventledger-token", token);
  followStream();
  search();
}

$("token-form").addEventListener("submit", useToken);
$("lookup-form").addEventListener("submit", lookUp);
$("search-form").addEventListener("submit", search);
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) { token = fromHash; history.replaceState(null, "", location.pathname); }
if (token) { $("token").value = token; useToken(); }
