"""Fixtures for the event-contract tests: one valid sample payload of every registered event model."""

from __future__ import annotations

import pytest
from tests.support.event_samples import sample_payloads as all_samples

import eventledger_events as ev


@pytest.fixture
def sample_payloads() -> list[ev.DomainEvent]:
    """One valid payload of every registered model, legacy versions included."""
    return all_samples()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests taking ``sample_payload`` run once per registered model."""
    if "sample_payload" in metafunc.fixturenames:
        samples = all_samples()
        metafunc.parametrize("sample_payload", samples, ids=[sample.full_name() for sample in samples])
