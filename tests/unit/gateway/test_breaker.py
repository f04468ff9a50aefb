"""The circuit breaker of one upstream: it opens after failures in a row, refuses at once while open, lets exactly
one probe through after the cool-down, and closes or opens again on the probe's outcome; its state is on /metrics."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY

from eventledger_gateway.breaker import Breakers, CircuitOpen, UpstreamBreaker, UpstreamFailed

COOLDOWN = 0.2


def _breaker(threshold: int = 3) -> UpstreamBreaker:
    # A name of its own per test: the metrics are process-wide.
    return Breakers(threshold=threshold, cooldown_seconds=COOLDOWN).breaker(f"test-{uuid.uuid4().hex[:8]}")


async def _fail(breaker: UpstreamBreaker) -> None:
    with pytest.raises(UpstreamFailed):
        async with breaker.attempt():
            raise UpstreamFailed("down")


async def _succeed(breaker: UpstreamBreaker) -> None:
    async with breaker.attempt():
        pass


def _gauge(breaker: UpstreamBreaker) -> float | None:
    return REGISTRY.get_sample_value("eventledger_gateway_upstream_circuit_state", {"upstream": breaker.name})


def _entered(breaker: UpstreamBreaker, state: str) -> float:
    labels = {"upstream": breaker.name, "state": state}
    return REGISTRY.get_sample_value("eventledger_gateway_upstream_circuit_transitions_total", labels) or 0.0


async def test_failures_in_a_row_open_the_circuit_which_then_refuses_at_once_with_the_cooldown_left() -> None:
    breaker = _breaker(threshold=3)
    for _ in range(2):
        await _fail(breaker)
    assert (breaker.state, _gauge(breaker)) == ("closed", 0)
    await _fail(breaker)
    assert (breaker.state, _gauge(breaker), _entered(breaker, "open")) == ("opened", 1, 1)
    sent = False
    with pytest.raises(CircuitOpen) as refused:
        async with breaker.attempt():
            sent = True
    assert not sent
    assert refused.value.retry_after_seconds == 1  # ceil of what is left of 0.2 s


async def test_a_success_ends_the_run_of_failures() -> None:
    breaker = _breaker(threshold=3)
    for _ in range(5):
        await _fail(breaker)
        await _fail(breaker)
        await _succeed(breaker)
    assert breaker.state == "closed"


async def test_an_exception_that_is_no_upstream_failure_neither_counts_nor_ends_the_run() -> None:
    breaker = _breaker(threshold=2)
    await _fail(breaker)
    with pytest.raises(asyncio.CancelledError):
        async with breaker.attempt():
            raise asyncio.CancelledError  # the client hung up
    assert breaker.state == "closed"
    await _fail(breaker)
    assert breaker.state == "opened"


async def test_after_the_cooldown_one_probe_goes_through_and_its_success_closes_the_circuit() -> None:
    breaker = _breaker(threshold=1)
    await _fail(breaker)
    await asyncio.sleep(COOLDOWN * 1.2)
    probe_sent = asyncio.Event()
    release = asyncio.Event()

    async def probe() -> None:
        async with breaker.attempt():
            probe_sent.set()
            await release.wait()

    probing = asyncio.create_task(probe())
    await probe_sent.wait()
    assert (breaker.state, _gauge(breaker)) == ("half-opened", 2)
    for _ in range(5):  # everyone else meanwhile is refused, not sent into a possibly dead upstream
        with pytest.raises(CircuitOpen):
            async with breaker.attempt():
                raise AssertionError("a second request went through while half-open")
    release.set()
    await probing
    assert (breaker.state, _gauge(breaker)) == ("closed", 0)
    assert (_entered(breaker, "open"), _entered(breaker, "half_open"), _entered(breaker, "closed")) == (1, 1, 1)
    await _succeed(breaker)


async def test_a_failed_probe_opens_the_circuit_for_another_cooldown() -> None:
    breaker = _breaker(threshold=1)
    await _fail(breaker)
    await asyncio.sleep(COOLDOWN * 1.2)
    await _fail(breaker)  # the probe
    assert breaker.state == "opened"
    assert _entered(breaker, "open") == 2
    with pytest.raises(CircuitOpen):
        async with breaker.attempt():
            pass


async def test_a_probe_the_client_abandoned_leaves_the_next_request_to_probe() -> None:
    breaker = _breaker(threshold=1)
    await _fail(breaker)
    await asyncio.sleep(COOLDOWN * 1.2)
    with pytest.raises(asyncio.CancelledError):
        async with breaker.attempt():
            raise asyncio.CancelledError
    assert breaker.state == "half-opened"
    await _succeed(breaker)
    assert breaker.state == "closed"
