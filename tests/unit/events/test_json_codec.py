"""JSON payloads for the event store: round trip, and upcasting of stored old versions."""

from __future__ import annotations

from uuid import uuid4

import orjson
import pytest

from eventledger_events import (
    AccountOpened,
    DomainEvent,
    MalformedMessageError,
    payload_from_json,
    payload_to_json,
)

pytestmark = pytest.mark.unit


def test_every_payload_round_trips_and_comes_back_at_its_current_version(sample_payload: DomainEvent) -> None:
    data = payload_to_json(sample_payload)
    decoded = payload_from_json(sample_payload.EVENT_TYPE, sample_payload.SCHEMA_VERSION, data)
    if sample_payload.full_name() == "account.opened.v1":
        assert decoded == AccountOpened(**sample_payload.model_dump(), overdraft_limit=0)
    else:
        assert decoded == sample_payload


def test_money_is_stored_as_json_integers_and_ids_as_strings() -> None:
    account_id = uuid4()
    data = orjson.loads(payload_to_json(AccountOpened(account_id=account_id, holder_name="Ada", currency="EUR")))
    assert data == {"account_id": str(account_id), "holder_name": "Ada", "currency": "EUR", "overdraft_limit": 0}


def test_a_stored_v1_payload_is_read_as_v2() -> None:
    stored = b'{"account_id": "00000000-0000-4000-8000-000000000001", "holder_name": "Ada", "currency": "GBP"}'
    payload = payload_from_json("account.opened", 1, stored)
    assert isinstance(payload, AccountOpened)
    assert payload.overdraft_limit == 0


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'"text"'])
def test_bytes_that_are_not_a_json_object_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        payload_from_json("account.frozen", 1, data)
