"""The write side seals personal fields before they reach the event store or a snapshot; the audit API opens them,
and reads ``[erased]`` after the admin erasure, which destroys the key, records who/when/why, and is idempotent."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from tests.support.command_api import Api

from eventledger_command.api.idempotency import Fingerprints
from eventledger_command.bootstrap import Container
from eventledger_events.personal import ERASED, is_sealed


def _stored_bytes(container: Container) -> bytes:
    store = container.store
    events = store.read_all(after_position=0, limit=10_000)
    snapshots = [store.latest_snapshot(stream) for stream in {event.stream_id for event in events}]
    return b"\n".join(
        [event.payload if isinstance(event.payload, bytes) else orjson.dumps(event.payload) for event in events]
        + [snapshot.state for snapshot in snapshots if snapshot is not None]
    )


def test_names_and_descriptions_are_stored_sealed_and_the_audit_api_opens_them(api: Api, container: Container) -> None:
    ada = api.client.post("/v1/accounts", json={"holder_name": "Ada Lovelace", "currency": "EUR"}).json()["account_id"]
    bob = api.client.post("/v1/accounts", json={"holder_name": "Bob Babbage", "currency": "EUR"}).json()["account_id"]
    api.client.post("/v1/deposits", json={"account_id": ada, "amount": 1_000, "description": "salary of Ada"})
    for _ in range(6):  # crosses the snapshot interval (5): snapshots too
        api.client.post(
            "/v1/transfers",
            json={"from_account_id": ada, "to_account_id": bob, "amount": 10, "description": "analytical engine"},
        )
    stored = _stored_bytes(container)
    assert any(container.store.latest_snapshot(f"account-{ada}") for _ in [0])
    for plaintext in (b"Ada Lovelace", b"Bob Babbage", b"salary of Ada", b"analytical engine"):
        assert plaintext not in stored
    history = api.client.get(f"/v1/audit/streams/account-{ada}/events").json()["items"]
    assert history[0]["payload"]["holder_name"] == "Ada Lovelace"
    assert history[1]["payload"]["description"] == "salary of Ada"
    state = api.client.get(f"/v1/audit/accounts/{ada}/state", params={"version": 8}).json()
    assert (state["holder_name"], state["balance"]) == ("Ada Lovelace", 940)


def test_text_in_the_sealed_form_is_refused_as_plaintext(api: Api) -> None:
    forged = "pii:1:" + "0" * 32 + ":AAAA"
    answer = api.client.post("/v1/accounts", json={"holder_name": forged, "currency": "EUR"})
    assert answer.status_code == 422


def test_the_erasure_destroys_the_key_records_the_event_and_is_idempotent(api: Api, container: Container) -> None:
    ada = api.client.post("/v1/accounts", json={"holder_name": "Ada Lovelace", "currency": "EUR"}).json()["account_id"]
    bob = api.open()
    api.client.post("/v1/deposits", json={"account_id": ada, "amount": 500, "description": "salary of Ada"})
    api.client.post("/v1/deposits", json={"account_id": bob, "amount": 50})
    gift = {"from_account_id": bob, "to_account_id": ada, "amount": 1, "description": "gift"}
    assert api.client.post("/v1/transfers", json=gift).status_code == 201
    first = api.client.post(
        f"/v1/admin/accounts/{ada}/erasure", json={"reason": "asked to be forgotten"}, headers={"X-Actor": "admin-1"}
    )
    assert first.status_code == 200, first.text
    record = first.json()
    assert (record["erased_by"], record["reason"]) == ("admin-1", "asked to be forgotten")
    again = api.client.post(
        f"/v1/admin/accounts/{ada}/erasure", json={"reason": "another reason"}, headers={"X-Actor": "admin-2"}
    )
    assert again.status_code == 200
    assert again.json() == record  # the first erasure's record, and still one event
    history = api.client.get(f"/v1/audit/streams/account-{ada}/events").json()["items"]
    erasures = [e for e in history if e["event_type"] == "account.personal_data_erased"]
    assert len(erasures) == 1
    assert erasures[0]["payload"]["key_id"] == record["key_id"]
    assert erasures[0]["payload"]["erased_by"] == "admin-1"
    assert erasures[0]["actor"] == "admin-1"
    assert history[0]["payload"]["holder_name"] == ERASED
    assert history[1]["payload"]["description"] == ERASED
    bob_history = api.client.get(f"/v1/audit/streams/account-{bob}/events").json()["items"]
    assert bob_history[-1]["payload"]["description"] == ERASED  # about both parties: erasing either erases it
    state = api.client.get(f"/v1/audit/accounts/{ada}/state", params={"version": len(history)}).json()
    assert (state["holder_name"], state["balance"]) == (ERASED, 501)
    assert container.keys.erasure(f"account:{ada}") is not None


def test_an_erased_holder_gets_no_new_personal_data_but_money_still_moves(api: Api) -> None:
    ada = api.open()
    bob = api.open()
    api.client.post(f"/v1/admin/accounts/{ada}/erasure", json={"reason": "asked to be forgotten"})
    refused = api.client.post("/v1/deposits", json={"account_id": ada, "amount": 5, "description": "note"})
    assert refused.status_code == 410
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/personal-data-erased")
    transfer = {"from_account_id": bob, "to_account_id": ada, "amount": 5, "description": "note"}
    api.client.post("/v1/deposits", json={"account_id": bob, "amount": 50})
    assert api.client.post("/v1/transfers", json=transfer).status_code == 410
    assert api.client.post("/v1/deposits", json={"account_id": ada, "amount": 5}).status_code == 201


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 501}, {"reason": "ok", "extra": 1}])
def test_an_erasure_needs_a_bounded_reason(api: Api, body: dict[str, object]) -> None:
    answer = api.client.post(f"/v1/admin/accounts/{api.open()}/erasure", json=body)
    assert answer.status_code == 422


def test_erasing_an_unknown_account_is_404(api: Api) -> None:
    answer = api.client.post(
        "/v1/admin/accounts/00000000-0000-4000-8000-00000000dead/erasure", json={"reason": "asked"}
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_sealed_values_stay_sealed_in_the_store_after_the_erasure(container: Container, api: Api) -> None:
    ada = api.client.post("/v1/accounts", json={"holder_name": "Ada Lovelace", "currency": "EUR"}).json()["account_id"]
    api.client.post(f"/v1/admin/accounts/{ada}/erasure", json={"reason": "asked"})
    opened = container.store.read_stream(f"account-{ada}")[0]
    payload = orjson.loads(opened.payload)
    assert is_sealed(payload["holder_name"])


def test_the_stored_request_fingerprint_is_keyed_and_matches_across_a_rotation(api: Api, container: Container) -> None:
    body = {"holder_name": "Ada Lovelace", "currency": "EUR", "overdraft_limit": 0}
    first = api.client.post("/v1/accounts", json=body, headers={"Idempotency-Key": "open-ada"})
    stored = container.store.find_idempotency("anonymous", "open-ada")
    assert stored is not None
    canonical = b"POST /v1/accounts\n" + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    assert stored.request_fingerprint != hashlib.sha256(canonical).hexdigest()  # a guessed name cannot be confirmed
    assert stored.request_fingerprint == Fingerprints(container.personal.secrets()).of(canonical)[0]
    rotated = Fingerprints(["the-next-key-encryption-key", *container.personal.secrets()]).of(canonical)
    assert rotated[0] != stored.request_fingerprint
    assert stored.request_fingerprint in rotated  # a repeat during a rotation still matches
    again = api.client.post("/v1/accounts", json=body, headers={"Idempotency-Key": "open-ada"})
    assert (again.status_code, again.json()) == (201, first.json())
