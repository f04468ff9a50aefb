"""Issue 14 item 4 on the running system: one command through HAProxy and the gateway is one trace whose spans
reach every projector, exported over OTLP by every process; and every process logs JSON lines (ADR 0032)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.system import ROLES, RunningSystem

from eventledger_infra import system

CONSUMERS = ("projection-postgres", "projection-redis", "projection-elasticsearch", "stream-windows")
LOG_KEYS = {"time", "level", "service", "logger", "message", "trace_id", "span_id", "correlation_id"}


@pytest.fixture(scope="module")
def client(ledger: RunningSystem) -> httpx.Client:
    token = ledger.token(*ROLES)
    return httpx.Client(base_url=ledger.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _reached_every_consumer(spans: list[ReceivedSpan]) -> bool:
    return {s.service for s in spans if s.kind == "consumer"} >= set(CONSUMERS)


def _complete(spans: list[ReceivedSpan]) -> bool:
    """Every consumer reached, every appended event sent, and every span's parent received too: each process
    exports its own batches, a parent after its children (it ends later), so the projectors' spans may arrive before
    the relay's."""
    ids = {s.span_id for s in spans}
    positions = {p for s in spans if s.name == "eventstore.append" for p in s.attributes["eventledger.positions"]}
    sent = {s.attributes["eventledger.position"] for s in spans if s.service == "relay" and s.kind == "producer"}
    return (
        _reached_every_consumer(spans)
        and bool(positions)
        and sent >= positions
        and all(s.parent_span_id is None or s.parent_span_id in ids for s in spans)
    )


def test_one_command_is_one_trace_from_the_gateway_to_every_projector(
    client: httpx.Client, traces: OtlpReceiver
) -> None:
    account = client.post("/v1/accounts", json={"holder_name": "Tracy Trace", "currency": "EUR"}).json()
    correlation = uuid.uuid4()
    deposit = client.post(
        "/v1/deposits",
        json={"account_id": account["account_id"], "amount": 1_234},
        headers={"X-Correlation-Id": str(correlation)},
    )
    assert deposit.status_code == 201, deposit.text

    # No traceparent was sent: the trace is the correlation id.
    spans = traces.wait_for(correlation.hex, _complete, timeout=60)
    by_id = {s.span_id: s for s in spans}
    summary = sorted((s.service, s.kind, s.name) for s in spans)
    assert _reached_every_consumer(spans), f"spans of the trace so far: {summary}"

    def one(service: str, kind: str, name: str) -> ReceivedSpan:
        found = [s for s in spans if (s.service, s.kind) == (service, kind) and s.name.startswith(name)]
        assert len(found) == 1, f"{service} {kind} {name}: {summary}"
        return found[0]

    def parent(span: ReceivedSpan) -> ReceivedSpan:
        assert span.parent_span_id in by_id, f"{span.service} {span.name}: parent not in the trace: {summary}"
        return by_id[span.parent_span_id]

    def ancestors(span: ReceivedSpan) -> list[ReceivedSpan]:
        found = []
        while span.parent_span_id is not None:
            span = parent(span)
            found.append(span)
        return found

    server = one("gateway", "server", "POST /v1/deposits")
    assert server.parent_span_id is None, "the gateway's span is the trace's root"
    upstream = one("gateway", "client", "POST")
    assert parent(upstream) is server
    command = one("command", "server", "POST /v1/deposits")
    assert parent(command) is upstream
    append = one("command", "client", "eventstore.append")
    assert command in ancestors(append), "the append runs inside the command's request (FastAPI's endpoint span)"
    assert append.attributes["eventledger.positions"], append.attributes
    producers = [s for s in spans if s.service == "relay" and s.kind == "producer"]
    assert producers, summary
    assert all(parent(p) is append for p in producers), "each message is sent as a child of its event's append"
    assert {p.attributes["eventledger.position"] for p in producers} == set(append.attributes["eventledger.positions"])
    for service in CONSUMERS:
        applied = [s for s in spans if s.service == service and s.kind == "consumer"]
        for span in applied:
            producer = parent(span)
            assert producer in producers, f"{service}: {span.name} is not a child of a relay send"
            assert span.links == ((producer.trace_id, producer.span_id),), "and it links to it"
    assert not [s for s in spans if s.error], f"error spans: {[(s.service, s.name) for s in spans if s.error]}"
    assert all(ancestors(s)[-1] is server for s in spans if s is not server), "one tree, rooted at the gateway"


def test_every_process_logs_json_lines(ledger: RunningSystem) -> None:
    log_dir = system.system_dir(ledger.settings)
    wrong: list[str] = []
    for name in [spec.name for spec in system.services(1)]:
        lines = (log_dir / f"{name}.log").read_text().splitlines()
        if not lines:
            wrong.append(f"{name} logged nothing")
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                wrong.append(f"{name}.log line {number} is not a JSON object: {line[:200]}")
            elif not set(entry) >= LOG_KEYS:
                wrong.append(f"{name}.log line {number} lacks {sorted(LOG_KEYS - set(entry))}: {line[:200]}")
            elif entry["service"] != name.replace("projector-", "projection-"):
                wrong.append(f"{name}.log line {number} names another service: {line[:200]}")
    assert not wrong, "\n".join(wrong[:30])
