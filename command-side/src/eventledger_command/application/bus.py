"""Runs commands: under the locks of the streams they write, the handler decides and the repository appends;
conflicts of commutative commands (only with writers that hold no lock, or a rolled-back idempotent twin) are
retried."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Histogram

from eventledger_command.application.commands import Command
from eventledger_command.application.handlers import HANDLERS, Context, Reply
from eventledger_command.application.repository import LedgerRepository
from eventledger_command.domain import ValueDatePolicy
from eventledger_command.eventstore.errors import ConcurrencyConflict
from eventledger_command.eventstore.records import AppendResult, IdempotencyClaim, StoredResponse
from eventledger_events import EventMetadata

COMMANDS = Counter("eventledger_commands_total", "Commands handled", ["command", "outcome"])
RETRIES = Counter("eventledger_command_conflict_retries_total", "Retries after a concurrency conflict", ["command"])
LATENCY = Histogram("eventledger_command_seconds", "Time to decide and append a command", ["command"])


@dataclass(frozen=True)
class Executed:
    reply: Reply
    append: AppendResult


class CommandBus:
    """Executes a command once: lock its streams, decide on fresh state, append atomically, answer.

    Contract: a command whose registration allows it is decided again and retried up to ``max_attempts`` times
    after a :class:`ConcurrencyConflict`; afterwards (or for other commands at once) the conflict propagates.
    Domain refusals and :class:`~eventledger_command.eventstore.errors.IdempotencyKeyTaken` propagate unchanged.
    ``render`` turns the reply into the stored answer of an idempotent command, inside the append's transaction.
    """

    def __init__(
        self,
        repository: LedgerRepository,
        clock: Callable[[], datetime],
        *,
        max_attempts: int = 10,
        value_dates: ValueDatePolicy | None = None,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._max_attempts = max_attempts
        self._value_dates = value_dates or ValueDatePolicy()

    def execute(
        self,
        command: Command,
        metadata: EventMetadata,
        *,
        idempotency: IdempotencyClaim | None = None,
        render: Callable[[Reply], StoredResponse] | None = None,
    ) -> Executed:
        registration = HANDLERS[type(command)]
        name = type(command).__name__
        attempts = self._max_attempts if registration.retry_on_conflict else 1
        with LATENCY.labels(name).time():
            streams = registration.streams(command, self._repository)
            for attempt in range(1, attempts + 1):
                try:
                    with self._repository.exclusive(streams):
                        outcome = registration.handler(
                            command, Context(self._repository, self._clock(), self._value_dates)
                        )
                        respond = (lambda r, o=outcome: render(o.reply(r))) if render else None
                        result = self._repository.save(
                            outcome.decision,
                            outcome.versions,
                            metadata,
                            idempotency=idempotency,
                            respond=respond,
                            states=outcome.states,
                        )
                except ConcurrencyConflict:
                    if attempt == attempts:
                        COMMANDS.labels(name, "conflict").inc()
                        raise
                    RETRIES.labels(name).inc()
                    time.sleep(random.uniform(0.001, 0.005) * attempt)
                    continue
                COMMANDS.labels(name, "ok").inc()
                return Executed(outcome.reply(result), result)
        raise AssertionError("unreachable: the loop returns or raises")
