"""The relay's start-up registration: it waits out a registry that cannot answer, with growing pauses, and then
answers every id; it gives up only when asked to stop."""

from __future__ import annotations

from eventledger_events import InMemorySchemaRegistry, SchemaRegistryUnavailableError, register_schemas
from eventledger_runtime.schema_registry import register_until_done


class DownFor(InMemorySchemaRegistry):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def set_compatibility(self, subject: str, level: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise SchemaRegistryUnavailableError("connection refused")
        super().set_compatibility(subject, level)


def test_registration_waits_for_the_registry_then_answers_every_id() -> None:
    registry = DownFor(failures=5)
    pauses: list[float] = []
    ids = register_until_done(
        registry,
        ("eventledger.accounts.v2", "eventledger.transfers.v2"),
        stopping=lambda: False,
        wait=pauses.append,
        max_pause_seconds=1.0,
    )
    assert ids == register_schemas(registry)
    assert len(pauses) == 5
    assert pauses[-1] > pauses[0], "the pauses grow"
    assert max(pauses) <= 1.0


def test_registration_gives_up_only_when_asked_to_stop() -> None:
    registry = DownFor(failures=10**6)
    calls = {"n": 0}

    def stopping() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    assert register_until_done(registry, ("eventledger.accounts.v2",), stopping=stopping, wait=lambda _: None) is None
