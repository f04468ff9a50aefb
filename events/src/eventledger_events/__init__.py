"""EventLedger event contracts: versioned event types, envelope, upcasters, serialization, Avro schemas,
topics.

Shared by every part of the system; depends on no other EventLedger package.
"""

from eventledger_events.account_events import (
    ACCOUNT_EVENT_TYPES,
    AccountClosed,
    AccountCredited,
    AccountDebited,
    AccountEvent,
    AccountFrozen,
    AccountHoldPlaced,
    AccountHoldReleased,
    AccountOpened,
    AccountPersonalDataErased,
    AccountUnfrozen,
    HoldReleaseReason,
)
from eventledger_events.avro_codec import (
    AvroSchemaCatalog,
    decode_avro,
    default_avro_catalog,
    encode_avro,
    schema_fingerprint,
    schema_for_fingerprint,
)
from eventledger_events.base import DomainEvent
from eventledger_events.catalog import EVENT_REGISTRY, current_version, model_for, payload_from_dict
from eventledger_events.envelope import EventEnvelope
from eventledger_events.errors import (
    EventContractError,
    MalformedMessageError,
    MissingUpcasterError,
    UnknownEventTypeError,
    UnknownSchemaFingerprintError,
    UnknownSchemaVersionError,
)
from eventledger_events.json_codec import payload_from_json, payload_to_json
from eventledger_events.kafka_message import (
    EventRecord,
    KafkaRecord,
    MessageIdentity,
    envelope_from_kafka,
    identify_from_kafka,
    record_from_kafka,
    to_kafka_record,
)
from eventledger_events.legacy import AccountCreditedV1, AccountDebitedV1, AccountOpenedV1, TransferPostedV1
from eventledger_events.metadata import EventMetadata
from eventledger_events.registered_schemas import RegisteredSchemaIds, register_schemas
from eventledger_events.registry import EventRegistry
from eventledger_events.schema_registry import (
    COMPATIBILITY_LEVEL,
    InMemorySchemaRegistry,
    SchemaRegistry,
    SchemaRegistryUnavailableError,
    subject_for,
)
from eventledger_events.streams import (
    account_stream_id,
    external_account_id,
    parse_stream_id,
    stream_category,
    transfer_stream_id,
)
from eventledger_events.topics import (
    ACCOUNTS_TOPIC,
    ALL_TOPICS,
    TRANSFERS_TOPIC,
    V1_TOPICS,
    V2_TOPICS,
    topic_for,
)
from eventledger_events.transfer_events import (
    TRANSFER_EVENT_TYPES,
    TransferEvent,
    TransferExpired,
    TransferKind,
    TransferPendingCreated,
    TransferPendingPosted,
    TransferPosted,
    TransferVoided,
)

__all__ = [
    "ACCOUNTS_TOPIC",
    "ACCOUNT_EVENT_TYPES",
    "ALL_TOPICS",
    "COMPATIBILITY_LEVEL",
    "EVENT_REGISTRY",
    "TRANSFERS_TOPIC",
    "TRANSFER_EVENT_TYPES",
    "V1_TOPICS",
    "V2_TOPICS",
    "AccountClosed",
    "AccountCredited",
    "AccountCreditedV1",
    "AccountDebited",
    "AccountDebitedV1",
    "AccountEvent",
    "AccountFrozen",
    "AccountHoldPlaced",
    "AccountHoldReleased",
    "AccountOpened",
    "AccountOpenedV1",
    "AccountPersonalDataErased",
    "AccountUnfrozen",
    "AvroSchemaCatalog",
    "DomainEvent",
    "EventContractError",
    "EventEnvelope",
    "EventMetadata",
    "EventRecord",
    "EventRegistry",
    "HoldReleaseReason",
    "InMemorySchemaRegistry",
    "KafkaRecord",
    "MalformedMessageError",
    "MessageIdentity",
    "MissingUpcasterError",
    "RegisteredSchemaIds",
    "SchemaRegistry",
    "SchemaRegistryUnavailableError",
    "TransferEvent",
    "TransferExpired",
    "TransferKind",
    "TransferPendingCreated",
    "TransferPendingPosted",
    "TransferPosted",
    "TransferPostedV1",
    "TransferVoided",
    "UnknownEventTypeError",
    "UnknownSchemaFingerprintError",
    "UnknownSchemaVersionError",
    "account_stream_id",
    "current_version",
    "decode_avro",
    "default_avro_catalog",
    "encode_avro",
    "envelope_from_kafka",
    "external_account_id",
    "identify_from_kafka",
    "model_for",
    "parse_stream_id",
    "payload_from_dict",
    "payload_from_json",
    "payload_to_json",
    "record_from_kafka",
    "register_schemas",
    "schema_fingerprint",
    "schema_for_fingerprint",
    "stream_category",
    "subject_for",
    "to_kafka_record",
    "topic_for",
    "transfer_stream_id",
]
