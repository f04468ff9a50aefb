"""The envelope: metadata of a recorded event, consistent with its payload and stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError

from eventledger_events import (
    AccountFrozen,
    EventEnvelope,
    EventMetadata,
    TransferVoided,
    account_stream_id,
)

pytestmark = pytest.mark.unit

NOW = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)


def _envelope(**changes: object) -> EventEnvelope:
    account_id = uuid4()
    envelope = EventEnvelope.new(
        AccountFrozen(account_id=account_id),
        event_id=uuid4(),
        stream_id=account_stream_id(account_id),
        stream_version=3,
        occurred_at=NOW,
        metadata=EventMetadata(actor="user:ada", correlation_id=uuid4()),
    )
    return EventEnvelope.model_validate({**dict(envelope), **changes})


def test_a_new_envelope_copies_type_version_and_metadata_and_has_no_position() -> None:
    envelope = _envelope()
    assert envelope.event_type == "account.frozen"
    assert envelope.schema_version == 1
    assert envelope.full_event_type == "account.frozen.v1"
    assert envelope.position is None
    assert envelope.recorded_at is None
    assert envelope.metadata.actor == "user:ada"
    assert envelope.causation_id is None


def test_recording_sets_position_and_recorded_at() -> None:
    envelope = _envelope()
    recorded = envelope.recorded(position=42, recorded_at=NOW + timedelta(milliseconds=3))
    assert (recorded.position, recorded.recorded_at) == (42, NOW + timedelta(milliseconds=3))
    assert recorded.payload == envelope.payload
    assert envelope.position is None


def test_type_and_version_must_match_the_payload() -> None:
    with pytest.raises(ValidationError, match=r"account\.frozen\.v1"):
        _envelope(event_type="account.unfrozen")
    with pytest.raises(ValidationError, match=r"account\.frozen\.v1"):
        _envelope(schema_version=2)


def test_the_stream_category_must_match_the_payload() -> None:
    with pytest.raises(ValidationError):
        _envelope(payload=TransferVoided(transfer_id=uuid4()), event_type="transfer.voided")


@pytest.mark.parametrize("stream_id", ["account-42", "wallet-" + str(uuid4()), "account"])
def test_stream_ids_are_category_dash_uuid(stream_id: str) -> None:
    with pytest.raises(ValidationError):
        _envelope(stream_id=stream_id)


def test_stream_versions_count_from_one() -> None:
    with pytest.raises(ValidationError):
        _envelope(stream_version=0)


def test_instants_are_aware_utc() -> None:
    envelope = _envelope(occurred_at=datetime(2030, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5))))
    assert envelope.occurred_at == datetime(2030, 1, 1, 17, tzinfo=UTC)
    with pytest.raises(ValidationError):
        _envelope(occurred_at=datetime(2030, 1, 1, 12))


def test_the_envelope_is_frozen_and_dumps_its_payload_fields() -> None:
    envelope = _envelope()
    with pytest.raises(ValidationError):
        envelope.position = 3  # type: ignore[misc]
    dumped = envelope.model_dump(mode="json")
    assert dumped["payload"] == {"account_id": str(envelope.payload.account_id)}  # type: ignore[attr-defined]


def test_metadata_for_work_caused_by_an_event_keeps_the_correlation() -> None:
    metadata = EventMetadata(actor="user:ada", correlation_id=uuid4())
    cause = uuid4()
    follow_up = metadata.caused_by(cause, actor="system:expiry")
    assert follow_up == EventMetadata(actor="system:expiry", correlation_id=metadata.correlation_id, causation_id=cause)
    with pytest.raises(ValidationError):
        EventMetadata(actor="", correlation_id=uuid4())
