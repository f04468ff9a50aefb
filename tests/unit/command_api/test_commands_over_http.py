"""Every command row of PRODUCT.md §3 over HTTP, on the in-memory store: answers, refusals, problem+json."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2 as httpx  # starlette's TestClient answers httpx2 responses once httpx2 is installed
import pytest
from fastapi.testclient import TestClient
from tests.support.clock import Clock
from tests.support.command_api import Api

from eventledger_command.bootstrap import Container


def _balance(container: Container, account_id: str) -> tuple[int, int]:
    account = container.repository.load_account(uuid.UUID(account_id)).state
    assert account is not None
    return account.balance, account.available


def _problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert body["type"] == f"https://eventledger.dev/problems/{kind}"
    assert body["status"] == status
    return body


def test_open_account_answers_id_version_and_position(client: TestClient) -> None:
    answer = client.post("/v1/accounts", json={"holder_name": "Ada Lovelace", "currency": "EUR"})
    assert answer.status_code == 201
    body = answer.json()
    assert uuid.UUID(body["account_id"])
    assert body["version"] == 1
    assert body["position"] == 1


def test_deposit_withdraw_and_transfer_move_money(api: Api, container: Container) -> None:
    a, b = api.open(), api.open("Grace")
    deposit = api.deposit(a, 10_000)
    assert deposit["status"] == "posted"
    withdrawal = api.client.post("/v1/withdrawals", json={"account_id": a, "amount": 1_500, "description": "cash"})
    assert withdrawal.status_code == 201
    transfer = api.client.post("/v1/transfers", json={"from_account_id": a, "to_account_id": b, "amount": 2_500})
    assert transfer.status_code == 201
    assert transfer.json()["status"] == "posted"
    assert transfer.json()["position"] > withdrawal.json()["position"] > int(str(deposit["position"]))
    assert _balance(container, a) == (6_000, 6_000)
    assert _balance(container, b) == (2_500, 2_500)


def test_every_bad_field_is_named_in_a_422(client: TestClient) -> None:
    answer = client.post("/v1/deposits", json={"account_id": "not-a-uuid", "amount": 12.5, "extra": 1})
    body = _problem(answer, 422, "validation-error")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"body.account_id", "body.amount", "body.extra"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"holder_name": "", "currency": "EUR"}, "body.holder_name"),
        ({"holder_name": "Ada", "currency": "eur"}, "body.currency"),
        ({"holder_name": "Ada", "currency": "EUR", "overdraft_limit": -1}, "body.overdraft_limit"),
        ({"holder_name": "Ada", "currency": "EUR", "overdraft_limit": "100"}, "body.overdraft_limit"),
        ({"currency": "EUR"}, "body.holder_name"),
    ],
)
def test_open_account_validation(client: TestClient, payload: dict[str, object], field: str) -> None:
    body = _problem(client.post("/v1/accounts", json=payload), 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == [field]


def test_malformed_json_and_bad_path_ids_are_422_not_500(client: TestClient) -> None:
    malformed = client.post("/v1/deposits", content=b"{not json", headers={"content-type": "application/json"})
    _problem(malformed, 422, "validation-error")
    _problem(client.post("/v1/accounts/42/freeze"), 422, "validation-error")


def test_an_unknown_currency_code_is_refused(client: TestClient) -> None:
    _problem(client.post("/v1/accounts", json={"holder_name": "Ada", "currency": "ABC"}), 422, "invalid-currency")


def test_insufficient_funds_is_a_409_and_changes_nothing(api: Api, container: Container) -> None:
    a = api.open()
    api.deposit(a, 100)
    body = _problem(
        api.client.post("/v1/withdrawals", json={"account_id": a, "amount": 101}), 409, "insufficient-funds"
    )
    assert body["account_id"] == a
    assert _balance(container, a) == (100, 100)


def test_overdraft_limit_lets_the_balance_go_below_zero(api: Api, container: Container) -> None:
    a = api.open(overdraft=500)
    assert api.client.post("/v1/withdrawals", json={"account_id": a, "amount": 500}).status_code == 201
    assert _balance(container, a) == (-500, 0)
    _problem(api.client.post("/v1/withdrawals", json={"account_id": a, "amount": 1}), 409, "insufficient-funds")


def test_frozen_accounts_take_credits_but_no_debits(api: Api, container: Container) -> None:
    a = api.open()
    api.deposit(a, 1_000)
    frozen = api.client.post(f"/v1/accounts/{a}/freeze")
    assert frozen.status_code == 200
    assert frozen.json()["version"] == 3
    api.deposit(a, 1)
    _problem(api.client.post("/v1/withdrawals", json={"account_id": a, "amount": 1}), 409, "account-frozen")
    assert api.client.post(f"/v1/accounts/{a}/unfreeze").status_code == 200
    assert api.client.post("/v1/withdrawals", json={"account_id": a, "amount": 1}).status_code == 201
    assert _balance(container, a) == (1_000, 1_000)


def test_closing_needs_a_zero_balance_and_then_nothing_moves(api: Api) -> None:
    a = api.open()
    api.deposit(a, 10)
    _problem(api.client.post(f"/v1/accounts/{a}/close"), 409, "account-not-empty")
    api.client.post("/v1/withdrawals", json={"account_id": a, "amount": 10})
    assert api.client.post(f"/v1/accounts/{a}/close").status_code == 200
    _problem(api.client.post("/v1/deposits", json={"account_id": a, "amount": 1}), 409, "account-closed")


def test_transfers_need_one_currency_and_two_accounts(api: Api) -> None:
    eur, usd = api.open(currency="EUR"), api.open(currency="USD")
    api.deposit(eur, 100)
    mismatch = api.client.post("/v1/transfers", json={"from_account_id": eur, "to_account_id": usd, "amount": 1})
    _problem(mismatch, 409, "currency-mismatch")
    same = api.client.post("/v1/transfers", json={"from_account_id": eur, "to_account_id": eur, "amount": 1})
    _problem(same, 422, "same-account")


def test_unknown_ids_are_404(client: TestClient) -> None:
    unknown = str(uuid.uuid4())
    _problem(client.post("/v1/deposits", json={"account_id": unknown, "amount": 1}), 404, "not-found")
    _problem(client.post(f"/v1/transfers/{unknown}/post"), 404, "not-found")


def test_pending_transfer_holds_then_posts(api: Api, container: Container) -> None:
    a, b = api.open(), api.open("Grace")
    api.deposit(a, 1_000)
    pending = api.hold(a, b, 400, timeout_seconds=60)
    assert pending.status_code == 201
    assert pending.json()["status"] == "pending"
    assert _balance(container, a) == (1_000, 600)
    posted = api.client.post(f"/v1/transfers/{pending.json()['transfer_id']}/post")
    assert posted.json()["status"] == "posted"
    assert _balance(container, a) == (600, 600)
    assert _balance(container, b) == (400, 400)
    _problem(api.client.post(f"/v1/transfers/{pending.json()['transfer_id']}/void"), 409, "transfer-not-pending")


def test_void_releases_the_hold(api: Api, container: Container) -> None:
    a, b = api.open(), api.open("Grace")
    api.deposit(a, 1_000)
    pending = api.hold(a, b, 400, timeout_seconds=60).json()
    voided = api.client.post(f"/v1/transfers/{pending['transfer_id']}/void")
    assert voided.json()["status"] == "voided"
    assert _balance(container, a) == (1_000, 1_000)


def test_pending_transfers_expire_automatically_after_their_timeout(
    api: Api, container: Container, clock: Clock
) -> None:
    a, b = api.open(), api.open("Grace")
    api.deposit(a, 1_000)
    pending = api.hold(a, b, 400, timeout_seconds=30).json()
    clock.advance(29)
    assert container.expiry.run_once() == 0
    clock.advance(2)
    assert container.expiry.run_once() == 1
    assert _balance(container, a) == (1_000, 1_000)
    _problem(api.client.post(f"/v1/transfers/{pending['transfer_id']}/post"), 409, "transfer-not-pending")
    assert container.expiry.run_once() == 0


def test_pending_needs_a_timeout_and_only_pending_takes_one(client: TestClient, api: Api) -> None:
    a, b = api.open(), api.open("Grace")
    no_timeout = client.post(
        "/v1/transfers", json={"from_account_id": a, "to_account_id": b, "amount": 1, "pending": True}
    )
    _problem(no_timeout, 422, "validation-error")
    stray = client.post(
        "/v1/transfers", json={"from_account_id": a, "to_account_id": b, "amount": 1, "timeout_seconds": 5}
    )
    _problem(stray, 422, "validation-error")


def test_commands_carry_actor_and_correlation_into_the_events(api: Api, container: Container) -> None:
    correlation = str(uuid.uuid4())
    answer = api.client.post(
        "/v1/accounts",
        json={"holder_name": "Ada", "currency": "EUR"},
        headers={"X-Actor": "client-7", "X-Correlation-Id": correlation},
    )
    (event,) = container.store.read_stream(f"account-{answer.json()['account_id']}")
    assert event.actor == "client-7"
    assert str(event.correlation_id) == correlation
    assert event.event_type == "account.opened"
    assert event.schema_version == 2


def test_operations_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert "eventledger_commands_total" in client.get("/metrics").text
    assert client.get("/openapi.json").json()["paths"]["/v1/transfers"]["post"]
