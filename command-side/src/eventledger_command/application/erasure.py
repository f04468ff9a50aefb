"""Erasing an account holder's personal data (crypto-shredding, issue 12): destroy the account's data key, then
record who erased it, when and why (``account.personal_data_erased``).

Key first, event second, each step idempotent, so a crash between them is healed by sending the command again:
the key store answers the first erasure's record (its who, when and why), and the event is appended only when the
account's stream does not hold it yet. So a repeat answers the same record, and the stream holds one erasure event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from eventledger_command.application.personal import PersonalDataSealer
from eventledger_command.application.repository import LedgerRepository
from eventledger_command.domain import Decision, account_stream_id, require_account
from eventledger_command.eventstore.errors import ConcurrencyConflict
from eventledger_events import AccountPersonalDataErased, EventMetadata
from eventledger_events.personal import subject_of
from eventledger_runtime.personal import DataKeyStore

_ATTEMPTS = 5


@dataclass(frozen=True)
class ErasureRecord:
    """What an erasure answers: the first erasure's record, and the stream version holding its event."""

    account_id: uuid.UUID
    key_id: str
    erased_by: str
    erased_at: datetime
    reason: str
    version: int

    def as_reply(self) -> dict[str, object]:
        return {
            "account_id": str(self.account_id),
            "key_id": self.key_id,
            "erased_by": self.erased_by,
            "erased_at": self.erased_at.isoformat(),
            "reason": self.reason,
            "version": self.version,
        }


class HolderEraser:
    """Erases account holders with the keys of ``keys`` and the streams of ``repository``."""

    def __init__(
        self, repository: LedgerRepository, keys: DataKeyStore, sealer: PersonalDataSealer | None = None
    ) -> None:
        self._repository = repository
        self._keys = keys
        self._sealer = sealer

    def erase(self, account_id: uuid.UUID, *, reason: str, metadata: EventMetadata) -> ErasureRecord:
        """Destroy the account's data key and record the erasure; ``AccountNotFoundError`` for an unknown account."""
        stream = account_stream_id(account_id)
        require_account(self._repository.load_account(account_id).state, account_id)
        erasure = self._keys.erase(subject_of(account_id), erased_by=metadata.actor, reason=reason)
        if self._sealer is not None:
            self._sealer.forget(erasure.subject)
        # The remembered state was folded from what the key sealed: the erasure is read from the store from now on.
        self._repository.forget(stream)
        event = AccountPersonalDataErased(
            account_id=account_id,
            key_id=erasure.key_id,
            erased_by=erasure.erased_by,
            reason=erasure.reason,
            erased_at=erasure.erased_at,
        )
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._repository.exclusive([stream]):
                    loaded = self._repository.load_account(account_id)
                    account = require_account(loaded.state, account_id)
                    version = loaded.version
                    if not account.erased:
                        result = self._repository.save(
                            Decision.of({stream: [event]}), {stream: loaded.version}, metadata, states={stream: account}
                        )
                        version = result.stream_versions[stream]
            except ConcurrencyConflict:
                if attempt == _ATTEMPTS:
                    raise
                continue
            self._repository.forget(stream)
            return ErasureRecord(
                account_id, erasure.key_id, erasure.erased_by, erasure.erased_at, erasure.reason, version
            )
        raise AssertionError("unreachable: the loop returns or raises")
