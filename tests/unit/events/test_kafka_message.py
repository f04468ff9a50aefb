"""Kafka messages: key = stream id, value = Avro single object, headers = envelope metadata + trace context."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support import ledger
from tests.support.poison import poison_messages, valid_record

from eventledger_events import (
    ACCOUNTS_TOPIC,
    TRANSFERS_TOPIC,
    AccountFrozen,
    AccountOpened,
    AccountOpenedV1,
    DomainEvent,
    EventContractError,
    EventEnvelope,
    EventMetadata,
    KafkaRecord,
    MalformedMessageError,
    account_stream_id,
    decode_avro,
    envelope_from_kafka,
    identify_from_kafka,
    record_from_kafka,
    to_kafka_record,
    topic_for,
)
from eventledger_events.topics import (
    HEADER_CAUSATION_ID,
    HEADER_CORRELATION_ID,
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_OCCURRED_AT,
    HEADER_POSITION,
    HEADER_RECORDED_AT,
    HEADER_SCHEMA_VERSION,
    HEADER_TRACEPARENT,
)

pytestmark = pytest.mark.unit

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _recorded(payload: DomainEvent, stream_id: str, *, causation: bool = True) -> EventEnvelope:
    metadata = EventMetadata(actor="user:ada", correlation_id=uuid4(), causation_id=uuid4() if causation else None)
    envelope = EventEnvelope.new(
        payload, event_id=uuid4(), stream_id=stream_id, stream_version=2, occurred_at=NOW, metadata=metadata
    )
    return envelope.recorded(position=1234, recorded_at=NOW)


def _stream_of(payload: DomainEvent) -> str:
    entity_id = getattr(payload, "account_id", None) or payload.transfer_id  # type: ignore[attr-defined]
    return f"{payload.category()}-{entity_id}"


def test_every_event_becomes_a_message_and_back(sample_payload: DomainEvent) -> None:
    envelope = _recorded(sample_payload, _stream_of(sample_payload))
    record = to_kafka_record(envelope, traceparent=TRACEPARENT)
    assert record.topic == topic_for(envelope.stream_id)
    assert record.key == envelope.stream_id.encode()
    assert decode_avro(record.value) == envelope_from_kafka(record.key, record.value, record.headers).payload
    back = envelope_from_kafka(record.key, record.value, list(record.headers))
    if isinstance(sample_payload, AccountOpenedV1):
        assert back.payload == AccountOpened(**sample_payload.model_dump(), overdraft_limit=0)
        assert back.schema_version == 2
        unchanged = {"payload", "schema_version"}
        assert back.model_dump(exclude=unchanged) == envelope.model_dump(exclude=unchanged)
    else:
        assert back == envelope


def test_headers_carry_the_metadata_and_trace_context() -> None:
    account_id = uuid4()
    envelope = _recorded(AccountFrozen(account_id=account_id), account_stream_id(account_id))
    record = to_kafka_record(envelope, traceparent=TRACEPARENT)
    headers = dict(record.headers)
    assert record.topic == ACCOUNTS_TOPIC
    assert headers[HEADER_EVENT_ID] == str(envelope.event_id).encode()
    assert headers[HEADER_EVENT_TYPE] == b"account.frozen"
    assert headers[HEADER_SCHEMA_VERSION] == b"1"
    assert headers[HEADER_POSITION] == b"1234"
    assert headers[HEADER_CORRELATION_ID] == str(envelope.correlation_id).encode()
    assert headers[HEADER_CAUSATION_ID] == str(envelope.causation_id).encode()
    assert headers[HEADER_TRACEPARENT] == TRACEPARENT.encode()


def test_optional_headers_are_left_out_when_absent() -> None:
    account_id = uuid4()
    envelope = _recorded(AccountFrozen(account_id=account_id), account_stream_id(account_id), causation=False)
    record = to_kafka_record(envelope)
    names = {name for name, _ in record.headers}
    assert HEADER_CAUSATION_ID not in names
    assert HEADER_TRACEPARENT not in names
    assert envelope_from_kafka(record.key, record.value, record.headers).causation_id is None


def test_an_event_not_yet_appended_cannot_be_published() -> None:
    account_id = uuid4()
    envelope = ledger.envelope(AccountFrozen(account_id=account_id), account_stream_id(account_id), 1, at=NOW)
    with pytest.raises(ValueError, match="no position"):
        to_kafka_record(envelope)


def test_foreign_or_damaged_messages_are_refused() -> None:
    account_id = uuid4()
    record = to_kafka_record(_recorded(AccountFrozen(account_id=account_id), account_stream_id(account_id)))
    with pytest.raises(MalformedMessageError):
        envelope_from_kafka(None, record.value, record.headers)
    with pytest.raises(MalformedMessageError):
        envelope_from_kafka(record.key, record.value, [h for h in record.headers if h[0] != HEADER_POSITION])
    wrong_type = [(n, b"account.closed" if n == HEADER_EVENT_TYPE else v) for n, v in record.headers]
    with pytest.raises(MalformedMessageError):
        envelope_from_kafka(record.key, record.value, wrong_type)
    with pytest.raises(MalformedMessageError):
        envelope_from_kafka(b"account-nope", record.value, record.headers)


@pytest.mark.parametrize("topic", [ACCOUNTS_TOPIC, TRANSFERS_TOPIC])
def test_a_valid_message_is_identified_by_its_type_and_position(topic: str) -> None:
    record = valid_record(topic, position=42)
    identity = identify_from_kafka(record.key, record.value, record.headers)
    assert (identity.event_type, identity.position) == (envelope_from_kafka(*_parts(record)).event_type, 42)


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_no_poison_message_is_identified(data: st.DataObject) -> None:
    """What a projector may pass over undecoded (ADR 0022) must be refused here whenever it is poison, so that the
    runner decodes it and parks it (issue 16)."""
    poison = data.draw(poison_messages(data.draw(st.sampled_from([ACCOUNTS_TOPIC, TRANSFERS_TOPIC]))))
    with pytest.raises(EventContractError):
        identify_from_kafka(poison.key, poison.value, poison.headers)


def _parts(record: KafkaRecord) -> tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]:
    return record.key, record.value, record.headers


def test_a_current_event_reads_as_its_avro_record_and_an_older_version_is_left_to_full_decoding(
    sample_payload: DomainEvent,
) -> None:
    """ADR 0037: what a projector maps straight to its operations is what the full decoding would give it."""
    envelope = _recorded(sample_payload, _stream_of(sample_payload))
    record = to_kafka_record(envelope, traceparent=TRACEPARENT)
    read = record_from_kafka(*_parts(record))
    if isinstance(sample_payload, AccountOpenedV1):
        assert read is None, "an older schema version is upcast by the full decoding"
        return
    assert read is not None
    assert (read.event_type, read.stream_id, read.stream_version, read.position) == (
        envelope.event_type,
        envelope.stream_id,
        envelope.stream_version,
        envelope.position,
    )
    assert read.recorded_at == NOW.isoformat()
    assert type(envelope.payload).model_validate(read.record) == envelope.payload


def test_a_record_is_refused_when_its_ids_or_instants_are_not_what_they_say() -> None:
    account_id = uuid4()
    record = to_kafka_record(_recorded(AccountFrozen(account_id=account_id), account_stream_id(account_id)))
    for name, junk in (
        (HEADER_EVENT_ID, b"not-a-uuid"),
        (HEADER_CORRELATION_ID, b"42"),
        (HEADER_RECORDED_AT, b"yesterday"),
        (HEADER_OCCURRED_AT, b"2030-01-01T00:00:00"),  # no time zone
    ):
        headers = [(n, junk if n == name else v) for n, v in record.headers]
        with pytest.raises(MalformedMessageError):
            record_from_kafka(record.key, record.value, headers)


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_no_poison_message_reads_as_a_record(data: st.DataObject) -> None:
    """A projector that maps records (ADR 0037) parks every poison message, as one that decodes envelopes does."""
    poison = data.draw(poison_messages(data.draw(st.sampled_from([ACCOUNTS_TOPIC, TRANSFERS_TOPIC]))))
    with pytest.raises(EventContractError):
        record_from_kafka(poison.key, poison.value, poison.headers)
