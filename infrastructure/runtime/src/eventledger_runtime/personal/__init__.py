"""Data subjects' keys for personal fields in events (crypto-shredding): the port, in memory, in PostgreSQL.

The sealed-value format is the event contracts' (``eventledger_events.personal``); this package keeps the keys.
"""

from eventledger_runtime.personal.memory import InMemoryDataKeyStore
from eventledger_runtime.personal.opener import PersonalDataOpener
from eventledger_runtime.personal.port import (
    DataKeyStore,
    Erasure,
    KeyEncryptionKeys,
    KeyUnavailable,
    SubjectErased,
    UnknownDataKey,
    derive_kek,
    kek_id,
)
from eventledger_runtime.personal.postgres import PostgresDataKeyStore

__all__ = [
    "DataKeyStore",
    "Erasure",
    "InMemoryDataKeyStore",
    "KeyEncryptionKeys",
    "KeyUnavailable",
    "PersonalDataOpener",
    "PostgresDataKeyStore",
    "SubjectErased",
    "UnknownDataKey",
    "derive_kek",
    "kek_id",
]
