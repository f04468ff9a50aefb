"""Messages no worker can apply, as hypothesis strategies: random bytes, truncated Avro, an unknown schema
fingerprint, a missing or malformed header, an oversized value, and a well-formed event of an unknown type. Each is
built from a real event of the topic it is produced into, so only the one defect it names is wrong with it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import strategies as st

import eventledger_events as ev
from eventledger_events.kafka_message import ENVELOPE_HEADERS
from eventledger_events.topics import HEADER_EVENT_TYPE
from tests.support.ledger import recorded

Headers = list[tuple[str, bytes]]
OVERSIZED = 600 * 1024  # more than any event, well under the broker's 1 MiB, so the dead-letter copy fits too


@dataclass(frozen=True)
class PoisonMessage:
    kind: str
    key: bytes
    value: bytes
    headers: Headers


def valid_record(topic_suffix: str, position: int = 1) -> ev.KafkaRecord:
    """A real event of the topic (``ACCOUNTS_TOPIC`` or ``TRANSFERS_TOPIC``): an opening, or a posted deposit."""
    if topic_suffix == ev.ACCOUNTS_TOPIC:
        account = uuid.uuid4()
        payload: ev.DomainEvent = ev.AccountOpened(account_id=account, holder_name="Poison Check", currency="EUR")
        return ev.to_kafka_record(recorded(payload, ev.account_stream_id(account), 1, position))
    transfer = uuid.uuid4()
    posted = ev.TransferPosted(
        transfer_id=transfer,
        kind=ev.TransferKind.DEPOSIT,
        from_account_id=ev.external_account_id("EUR"),
        to_account_id=uuid.uuid4(),
        amount=5,
        currency="EUR",
    )
    return ev.to_kafka_record(recorded(posted, ev.transfer_stream_id(transfer), 1, position))


def _headers(record: ev.KafkaRecord) -> Headers:
    return [(name, bytes(value)) for name, value in record.headers]


@st.composite
def poison_messages(draw: st.DrawFn, topic_suffix: str) -> PoisonMessage:
    record = valid_record(topic_suffix, position=draw(st.integers(1, 2**40)))
    headers = _headers(record)
    kind = draw(
        st.sampled_from(
            [
                "random bytes",
                "truncated avro",
                "unknown fingerprint",
                "missing header",
                "malformed header",
                "oversized",
                "unknown event type",
            ]
        )
    )
    value = record.value
    if kind == "random bytes":
        value = draw(st.binary(max_size=2048))
        headers = draw(st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=4))
    elif kind == "truncated avro":
        value = value[: draw(st.integers(0, len(value) - 1))]
    elif kind == "unknown fingerprint":  # single-object encoding: C3 01, then the schema's 8-byte fingerprint
        value = value[:2] + draw(st.binary(min_size=8, max_size=8).filter(lambda f: f != value[2:10])) + value[10:]
    elif kind == "missing header":
        missing = draw(st.sampled_from(ENVELOPE_HEADERS))
        headers = [(n, v) for n, v in headers if n != missing]
    elif kind == "malformed header":  # a leading 0xFF is never UTF-8, so the value is malformed whatever follows
        malformed = draw(st.sampled_from(ENVELOPE_HEADERS))
        junk = b"\xff" + draw(st.binary(max_size=40))
        headers = [(n, junk if n == malformed else v) for n, v in headers]
    elif kind == "oversized":
        value = value + bytes(OVERSIZED)
    else:
        unknown = draw(st.from_regex(r"\A(account|transfer)\.zz[a-z]{1,10}\Z"))  # no event type starts with zz
        headers = [(n, unknown.encode() if n == HEADER_EVENT_TYPE else v) for n, v in headers]
    return PoisonMessage(kind, record.key, value, headers)
