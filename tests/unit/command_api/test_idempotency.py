"""Idempotency-Key semantics (PRODUCT.md §2) over HTTP."""

from __future__ import annotations

from tests.support.command_api import Api

from eventledger_command.bootstrap import Container


def test_same_key_and_body_returns_the_original_answer_and_does_nothing_again(api: Api, container: Container) -> None:
    a = api.open()
    headers = {"Idempotency-Key": "dep-1", "X-Actor": "client-1"}
    first = api.client.post("/v1/deposits", json={"account_id": a, "amount": 700}, headers=headers)
    again = api.client.post("/v1/deposits", json={"amount": 700, "account_id": a}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert container.store.head_position() == 3  # opened, then one deposit (transfer + credit)


def test_same_key_with_another_body_is_refused(api: Api) -> None:
    a = api.open()
    headers = {"Idempotency-Key": "dep-2"}
    assert api.client.post("/v1/deposits", json={"account_id": a, "amount": 1}, headers=headers).status_code == 201
    reused = api.client.post("/v1/deposits", json={"account_id": a, "amount": 2}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["type"] == "https://eventledger.dev/problems/idempotency-key-reused"


def test_keys_are_scoped_per_caller(api: Api) -> None:
    a = api.open()
    for actor in ("client-1", "client-2"):
        answer = api.client.post(
            "/v1/deposits", json={"account_id": a, "amount": 5}, headers={"Idempotency-Key": "same", "X-Actor": actor}
        )
        assert "Idempotent-Replayed" not in answer.headers


def test_a_refusal_is_replayed_too(api: Api) -> None:
    a = api.open()
    headers = {"Idempotency-Key": "wd-1"}
    first = api.client.post("/v1/withdrawals", json={"account_id": a, "amount": 50}, headers=headers)
    assert first.status_code == 409
    api.deposit(a, 100)
    again = api.client.post("/v1/withdrawals", json={"account_id": a, "amount": 50}, headers=headers)
    assert again.status_code == 409
    assert again.json() == first.json()
    assert again.headers["content-type"] == "application/problem+json"


def test_a_bad_idempotency_key_is_a_named_422(api: Api) -> None:
    a = api.open()
    answer = api.client.post("/v1/deposits", json={"account_id": a, "amount": 5}, headers={"Idempotency-Key": "a b"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "header.idempotency-key"


def test_path_commands_are_idempotent_too(api: Api) -> None:
    a = api.open()
    headers = {"Idempotency-Key": "freeze-1"}
    first = api.client.post(f"/v1/accounts/{a}/freeze", headers=headers)
    again = api.client.post(f"/v1/accounts/{a}/freeze", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
