"""Every command row of PRODUCT.md §3 through the gateway, against the real command service on PostgreSQL:
answers, refusals passed through, the caller recorded as actor, the correlation id in the events, and
Idempotency-Key passed through."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from tests.support.gateway import System

PROBLEMS = "https://eventledger.dev/problems/"


def _ok(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-request-id"]
    return dict(answer.json())


def _problem(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = dict(answer.json())
    assert body["type"] == PROBLEMS + kind
    return body


def _open(client: httpx.Client, holder: str = "Ada", overdraft: int = 0) -> str:
    body = _ok(
        client.post("/v1/accounts", json={"holder_name": holder, "currency": "EUR", "overdraft_limit": overdraft}), 201
    )
    return str(body["account_id"])


def test_every_command_row_through_the_gateway(system: System) -> None:
    with system.client("writer") as client:
        opened = _ok(client.post("/v1/accounts", json={"holder_name": "Ada Lovelace", "currency": "EUR"}), 201)
        assert set(opened) == {"account_id", "version", "position"}
        assert opened["version"] == 1
        a, b = str(opened["account_id"]), _open(client, "Grace")

        deposit = _ok(client.post("/v1/deposits", json={"account_id": a, "amount": 10_000, "description": "pay"}), 201)
        assert (set(deposit), deposit["status"]) == ({"transfer_id", "status", "position"}, "posted")
        withdrawal = _ok(client.post("/v1/withdrawals", json={"account_id": a, "amount": 1_000}), 201)
        assert withdrawal["position"] > deposit["position"] > opened["position"]

        transfer = _ok(
            client.post("/v1/transfers", json={"from_account_id": a, "to_account_id": b, "amount": 2_000}), 201
        )
        assert transfer["status"] == "posted"

        pending = {"from_account_id": a, "to_account_id": b, "amount": 500, "pending": True, "timeout_seconds": 600}
        held = _ok(client.post("/v1/transfers", json=pending), 201)
        assert held["status"] == "pending"
        posted = _ok(client.post(f"/v1/transfers/{held['transfer_id']}/post"), 200)
        assert (posted["transfer_id"], posted["status"]) == (held["transfer_id"], "posted")
        held_again = _ok(client.post("/v1/transfers", json=pending), 201)
        voided = _ok(client.post(f"/v1/transfers/{held_again['transfer_id']}/void"), 200)
        assert voided["status"] == "voided"

        frozen = _ok(client.post(f"/v1/accounts/{b}/freeze"), 200)
        assert set(frozen) == {"account_id", "version", "position"}
        _problem(client.post("/v1/withdrawals", json={"account_id": b, "amount": 1}), 409, "account-frozen")
        _ok(client.post(f"/v1/accounts/{b}/unfreeze"), 200)
        _ok(client.post("/v1/withdrawals", json={"account_id": b, "amount": 2_500}), 201)
        closed = _ok(client.post(f"/v1/accounts/{b}/close"), 200)
        assert closed["account_id"] == b

    state = system.container.repository.load_account(uuid.UUID(a)).state
    assert state is not None
    assert state.balance == 10_000 - 1_000 - 2_000 - 500


def test_refusals_and_validation_errors_pass_through_unchanged(system: System) -> None:
    with system.client("writer") as client:
        account = _open(client)
        refused = _problem(
            client.post("/v1/withdrawals", json={"account_id": account, "amount": 5}), 409, "insufficient-funds"
        )
        assert refused["instance"] == "/v1/withdrawals"
        invalid = _problem(
            client.post("/v1/deposits", json={"account_id": "nope", "amount": 1.5}), 422, "validation-error"
        )
        assert {error["field"] for error in invalid["errors"]} == {"body.account_id", "body.amount"}
        malformed = client.post("/v1/deposits", content=b"{not json", headers={"Content-Type": "application/json"})
        _problem(malformed, 422, "validation-error")
        _problem(client.post(f"/v1/accounts/{uuid.uuid4()}/freeze"), 404, "not-found")
        _problem(client.post(f"/v1/transfers/{uuid.uuid4()}/post"), 404, "not-found")


def test_the_tokens_subject_is_the_actor_and_the_correlation_id_reaches_the_events(system: System) -> None:
    correlation = uuid.uuid4()
    with system.client("writer", subject="alice@payments") as client:
        answer = client.post(
            "/v1/accounts",
            json={"holder_name": "Ada", "currency": "EUR"},
            headers={"X-Correlation-Id": str(correlation), "X-Request-Id": "req-e2e-1", "X-Actor": "mallory"},
        )
        account = _ok(answer, 201)["account_id"]
        assert answer.headers["x-correlation-id"] == str(correlation)
        assert answer.headers["x-request-id"] == "req-e2e-1"
        deposit = client.post("/v1/deposits", json={"account_id": account, "amount": 700})
        _ok(deposit, 201)
    events = system.container.store.read_stream(f"account-{account}")
    assert [event.event_type for event in events] == ["account.opened", "account.credited"]
    assert {event.actor for event in events} == {"alice@payments"}
    assert events[0].correlation_id == correlation
    # Without a correlation header the gateway issues one and the events carry that same id.
    assert events[1].correlation_id == uuid.UUID(deposit.headers["x-correlation-id"])
    assert events[1].correlation_id != correlation


def test_idempotency_key_passes_through_and_the_command_runs_once(system: System) -> None:
    with system.client("writer") as client:
        account = _open(client)
        key = {"Idempotency-Key": f"deposit-{uuid.uuid4()}"}
        first = client.post("/v1/deposits", json={"account_id": account, "amount": 300}, headers=key)
        again = client.post("/v1/deposits", json={"account_id": account, "amount": 300}, headers=key)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        reused = client.post("/v1/deposits", json={"account_id": account, "amount": 999}, headers=key)
        _problem(reused, 422, "idempotency-key-reused")
    state = system.container.repository.load_account(uuid.UUID(account)).state
    assert state is not None
    assert state.balance == 300


def test_idempotency_keys_are_scoped_per_authenticated_caller(system: System) -> None:
    """The command service scopes keys by X-Actor, which only the gateway sets: two callers' equal keys never
    collide, and nobody can replay another caller's answer by sending their X-Actor."""
    key = {"Idempotency-Key": "shared-key", "X-Actor": "alice"}
    with system.client("writer", subject="alice") as alice, system.client("writer", subject="bob") as bob:
        account = _open(alice)
        body = {"account_id": account, "amount": 100}
        first = alice.post("/v1/deposits", json=body, headers=key)
        other = bob.post("/v1/deposits", json=body, headers=key)
        assert (first.status_code, other.status_code) == (201, 201)
        assert first.json()["transfer_id"] != other.json()["transfer_id"]
        assert "idempotent-replayed" not in other.headers


def test_audit_reads_the_command_services_event_store_through_the_gateway(system: System) -> None:
    """ADR 0009: the audit rows are served by the command service, from the event store."""
    correlation = uuid.uuid4()
    with system.client("writer", subject="auditee") as writer:
        account = _open_with(writer, correlation)
    with system.client("auditor", subject="carol") as auditor:
        history = _ok(auditor.get(f"/v1/audit/streams/account-{account}/events?limit=10"), 200)
        state = _ok(auditor.get(f"/v1/audit/accounts/{account}/state?version=1"), 200)
        page = _ok(auditor.get("/v1/audit/events", params={"from_position": 1, "limit": 1000}), 200)
    [opened] = history["items"]
    assert (opened["event_type"], opened["actor"], opened["correlation_id"]) == (
        "account.opened",
        "auditee",
        str(correlation),
    )
    assert (state["account_id"], state["version"], state["balance"]) == (account, 1, 0)
    assert opened["event_id"] in {event["event_id"] for event in page["items"]}


def _open_with(client: httpx.Client, correlation: uuid.UUID) -> str:
    answer = client.post(
        "/v1/accounts", json={"holder_name": "Ada", "currency": "EUR"}, headers={"X-Correlation-Id": str(correlation)}
    )
    return str(_ok(answer, 201)["account_id"])


def test_unstorable_input_through_the_gateway_is_a_named_422_never_a_5xx(system: System) -> None:
    """Issue 16: NUL in a body field reached PostgreSQL (502); a non-ASCII Idempotency-Key broke the gateway's own
    forwarding (500). Each is now the command service's named 422, passed through."""
    with system.client("writer", "auditor") as client:
        account = _open(client)
        opened = client.post("/v1/accounts", json={"holder_name": "a\u0000b", "currency": "EUR"})
        assert [e["field"] for e in _problem(opened, 422, "validation-error")["errors"]] == ["body.holder_name"]
        deposited = client.post("/v1/deposits", json={"account_id": account, "amount": 1, "description": "a\u0000b"})
        assert [e["field"] for e in _problem(deposited, 422, "validation-error")["errors"]] == ["body.description"]
        keyed = client.post(
            "/v1/accounts",
            json={"holder_name": "Ada", "currency": "EUR"},
            headers={b"Idempotency-Key": b"\xd7\xf8\x9b"},
        )
        assert _problem(keyed, 422, "validation-error")["errors"][0]["field"] == "header.idempotency-key"
        stream = client.get("/v1/audit/streams/account-%00/events")
        assert _problem(stream, 422, "validation-error")["errors"][0]["field"] == "path.stream_id"
        state = client.get(f"/v1/audit/accounts/{account}/state", params={"version": "99999999999999999999"})
        assert _problem(state, 422, "validation-error")["errors"][0]["field"] == "query.version"
        log = client.get("/v1/audit/events", params={"from_position": "99999999999999999999"})
        assert _problem(log, 422, "validation-error")["errors"][0]["field"] == "query.from_position"
