"""Topics per stream category, stream ids, and the per-currency external account."""

from __future__ import annotations

from uuid import UUID, uuid4, uuid5

import pytest

from eventledger_events import (
    ACCOUNTS_TOPIC,
    ALL_TOPICS,
    TRANSFERS_TOPIC,
    V1_TOPICS,
    account_stream_id,
    external_account_id,
    parse_stream_id,
    stream_category,
    topic_for,
    transfer_stream_id,
)
from eventledger_events.streams import EXTERNAL_ACCOUNT_NAMESPACE

pytestmark = pytest.mark.unit


def test_topic_names_follow_the_published_convention() -> None:
    assert ACCOUNTS_TOPIC == "eventledger.accounts.v2"
    assert TRANSFERS_TOPIC == "eventledger.transfers.v2"
    assert ALL_TOPICS == (ACCOUNTS_TOPIC, TRANSFERS_TOPIC)
    assert V1_TOPICS == ("eventledger.accounts.v1", "eventledger.transfers.v1")


def test_the_topic_comes_from_the_stream_category() -> None:
    assert topic_for(account_stream_id(uuid4())) == ACCOUNTS_TOPIC
    assert topic_for(transfer_stream_id(uuid4())) == TRANSFERS_TOPIC
    with pytest.raises(ValueError, match="not an EventLedger stream id"):
        topic_for(f"wallet-{uuid4()}")


def test_stream_ids_parse_back() -> None:
    account_id = UUID("12345678-1234-4234-8234-123456789abc")
    assert account_stream_id(account_id) == "account-12345678-1234-4234-8234-123456789abc"
    assert parse_stream_id(account_stream_id(account_id)) == ("account", account_id)
    assert parse_stream_id(transfer_stream_id(account_id)) == ("transfer", account_id)
    assert stream_category(account_stream_id(account_id)) == "account"
    assert stream_category(transfer_stream_id(account_id)) == "transfer"


@pytest.mark.parametrize(
    "stream_id",
    [
        "account",
        "account-",
        "account-xyz",
        "ACCOUNT-12345678-1234-4234-8234-123456789abc",
        "account-12345678-1234-4234-8234-123456789ABC",
        "account-{12345678-1234-4234-8234-123456789abc}",
        "account-123456781234423482341234567890bc",
        "account-12345678-1234-4234-8234-123456789abc\n",
        "ledger-12345678-1234-4234-8234-123456789abc",
    ],
)
def test_malformed_stream_ids_are_refused(stream_id: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies with the defect
        parse_stream_id(stream_id)
    with pytest.raises(ValueError):  # noqa: PT011 - the fast check refuses what the parse refuses
        stream_category(stream_id)


def test_the_external_account_is_derived_deterministically_from_the_currency() -> None:
    assert external_account_id("EUR") == uuid5(EXTERNAL_ACCOUNT_NAMESPACE, "EUR")
    assert external_account_id("EUR") == external_account_id("EUR")
    assert external_account_id("EUR") != external_account_id("USD")
    assert (
        uuid5(UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8"), "urn:eventledger:external-account")
        == EXTERNAL_ACCOUNT_NAMESPACE
    )
    assert str(external_account_id("EUR")) == "b2f23c78-0022-5fe1-ac32-c4a7a4f5a932", "changing it re-keys history"
