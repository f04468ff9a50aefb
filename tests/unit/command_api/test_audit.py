"""Audit endpoints: history with metadata, the global log in pages, an account's state replayed at a moment."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests.support.command_api import Api


def test_a_stream_history_carries_full_metadata(api: Api) -> None:
    correlation = str(uuid.uuid4())
    answer = api.client.post(
        "/v1/accounts",
        json={"holder_name": "Ada", "currency": "EUR"},
        headers={"X-Actor": "client-9", "X-Correlation-Id": correlation},
    )
    account = answer.json()["account_id"]
    api.deposit(account, 300)
    history = api.client.get(f"/v1/audit/streams/account-{account}/events").json()
    assert [e["event_type"] for e in history["items"]] == ["account.opened", "account.credited"]
    opened = history["items"][0]
    assert opened["stream_version"] == 1
    assert opened["schema_version"] == 2
    assert opened["actor"] == "client-9"
    assert opened["correlation_id"] == correlation
    assert opened["causation_id"] is None
    assert opened["position"] == answer.json()["position"]
    assert opened["payload"]["holder_name"] == "Ada"
    assert {"event_id", "occurred_at", "recorded_at", "stored_schema_version"} <= set(opened)
    later = api.client.get(f"/v1/audit/streams/account-{account}/events", params={"from_version": 2}).json()
    assert [e["stream_version"] for e in later["items"]] == [2]


def test_the_global_log_pages_in_order(api: Api) -> None:
    for _ in range(3):
        api.deposit(api.open(), 10)
    first = api.client.get("/v1/audit/events", params={"limit": 4}).json()
    second = api.client.get("/v1/audit/events", params={"from_position": first["next_from_position"]}).json()
    positions = [e["position"] for e in first["items"] + second["items"]]
    assert positions == list(range(1, 10))


def test_account_state_at_a_version_and_at_a_moment(api: Api) -> None:
    account = api.open()
    api.deposit(account, 1_000)
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    api.client.post("/v1/withdrawals", json={"account_id": account, "amount": 400})
    at_version = api.client.get(f"/v1/audit/accounts/{account}/state", params={"version": 2}).json()
    assert (at_version["balance"], at_version["version"]) == (1_000, 2)
    at_moment = api.client.get(f"/v1/audit/accounts/{account}/state", params={"at": between.isoformat()}).json()
    assert (at_moment["balance"], at_moment["version"]) == (1_000, 2)
    now = api.client.get(f"/v1/audit/accounts/{account}/state", params={"version": 3}).json()
    assert (now["balance"], now["available"], now["version"]) == (600, 600, 3)
    # A version the stream has not reached is no state the account ever stood in (issue 16): 404, never today's.
    beyond = api.client.get(f"/v1/audit/accounts/{account}/state", params={"version": 4})
    assert beyond.status_code == 404
    assert "has no version 4" in beyond.json()["detail"]


def test_audit_refusals_are_problems(client: TestClient, api: Api) -> None:
    account = api.open()
    assert client.get(f"/v1/audit/accounts/{account}/state").status_code == 422
    assert client.get(f"/v1/audit/accounts/{account}/state", params={"at": "2026-01-01T00:00:00"}).status_code == 422
    before = client.get(f"/v1/audit/accounts/{account}/state", params={"at": "2000-01-01T00:00:00Z"})
    assert before.status_code == 404
    assert client.get(f"/v1/audit/streams/account-{uuid.uuid4()}/events").status_code == 404
    assert client.get("/v1/audit/streams/nonsense/events").status_code == 404
    assert client.get("/v1/audit/events", params={"limit": 0}).status_code == 422
