"""Expires pending transfers whose timeout has passed, automatically (PRODUCT.md §2)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from prometheus_client import Counter

from eventledger_command.application.bus import CommandBus
from eventledger_command.application.commands import ExpireTransfer
from eventledger_command.domain import DomainError
from eventledger_command.eventstore.errors import ConcurrencyConflict
from eventledger_command.eventstore.port import DEFAULT_DEADLINE_LEASE, EventStore
from eventledger_events import EventMetadata

log = logging.getLogger(__name__)

EXPIRED = Counter("eventledger_transfers_expired_total", "Pending transfers expired by the expiry worker")

ACTOR = "system:expiry"


class ExpiryWorker:
    """Claims due deadlines and expires their transfers.

    Runs in every command-service replica, and each due deadline is handled once across them: a pass *claims* its
    deadlines (``claim_due_deadlines``: ``FOR UPDATE SKIP LOCKED`` and a lease), so concurrent workers split the due
    transfers instead of racing for them. A worker that dies after claiming leaves its deadlines to the others when
    the lease ends. The claim is an optimisation of work, not the guarantee: an expiry is still an ordinary command
    with optimistic concurrency, so even two workers expiring one transfer would end with one ``transfer.expired``.
    """

    def __init__(
        self,
        store: EventStore,
        bus: CommandBus,
        clock: Callable[[], datetime],
        *,
        lease: timedelta = DEFAULT_DEADLINE_LEASE,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._lease = lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, limit: int = 100) -> int:
        expired = 0
        for transfer_id, _due in self._store.claim_due_deadlines(self._clock(), limit, self._lease):
            metadata = EventMetadata(actor=ACTOR, correlation_id=uuid.uuid4())
            try:
                self._bus.execute(ExpireTransfer(transfer_id), metadata)
            except (DomainError, ConcurrencyConflict) as exc:
                log.info("transfer %s not expired now: %s", transfer_id, exc)
                continue
            expired += 1
            EXPIRED.inc()
        return expired

    def start(self, interval_seconds: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.run_once()
                except Exception:
                    log.exception("expiry pass failed; trying again in %.1f s", interval_seconds)

        self._thread = threading.Thread(target=loop, name="expiry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
