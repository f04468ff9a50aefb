"""A circuit breaker per upstream address (ADR 0018): purgatory's state machine, one probe at a time while
half-open, and the state on ``/metrics``.

Contract of :meth:`UpstreamBreaker.attempt`, an async context manager around one exchange with the upstream:
- **closed**: the exchange runs. :class:`UpstreamFailed` leaving the block counts as a failure; ``threshold`` of
  them in a row open the circuit. Anything else leaving the block (a normal answer, the client hanging up) is no
  failure and ends the run of failures;
- **open**: entering raises :class:`CircuitOpen` at once, nothing is sent, with the seconds left of the cool-down;
- **half-open**, once the cool-down is over: the next exchange is the probe and every other one meanwhile raises
  :class:`CircuitOpen`; the probe's success closes the circuit, its failure opens it for another cool-down.

purgatory lets every request through while half-open; against an upstream that hangs that sends the whole burst
that waited out the cool-down into its timeout, so the probe gate here admits one.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from purgatory import AsyncCircuitBreakerFactory, ContextChanged, Event
from purgatory.domain.model import HALF_OPENED, OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker

from eventledger_gateway import metrics

STATE_CODES = {"closed": 0, "opened": 1, "half-opened": 2}
"""The value of ``eventledger_gateway_upstream_circuit_state``."""
STATE_NAMES = {"closed": "closed", "opened": "open", "half-opened": "half_open"}
"""The ``state`` label of the transitions counter."""


class UpstreamFailed(Exception):
    """The upstream did not answer, or answered as a broken proxy does (502, 503, 504 without a problem body)."""


class CircuitOpen(Exception):
    """The circuit is open (or its probe is under way): nothing was sent."""

    def __init__(self, name: str, retry_after_seconds: int) -> None:
        super().__init__(f"the circuit of {name} is open")
        self.retry_after_seconds = retry_after_seconds


class Breakers:
    """One :class:`UpstreamBreaker` per upstream address, sharing one purgatory factory (in memory: each gateway
    process decides alone; its own failures are what it has seen)."""

    def __init__(self, *, threshold: int, cooldown_seconds: float) -> None:
        self._factory = AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=cooldown_seconds)
        self._factory.add_listener(_count_transition)
        self._cooldown = cooldown_seconds

    def breaker(self, name: str) -> UpstreamBreaker:
        return UpstreamBreaker(name, self._factory, self._cooldown)


class UpstreamBreaker:
    def __init__(self, name: str, factory: AsyncCircuitBreakerFactory, cooldown_seconds: float) -> None:
        self.name = name
        self._factory = factory
        self._cooldown = cooldown_seconds
        self._breaker: AsyncCircuitBreaker | None = None
        self._probing = False
        metrics.CIRCUIT_STATE.labels(name).set_function(lambda: STATE_CODES[self.state])

    @property
    def state(self) -> str:
        """``closed``, ``opened`` or ``half-opened`` (purgatory's names)."""
        return self._breaker.context.state if self._breaker is not None else "closed"

    @asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        breaker = await self._get()
        if self._probing:
            raise CircuitOpen(self.name, 1)
        try:
            await breaker.__aenter__()
        except OpenedState as opened:
            raise CircuitOpen(self.name, self._seconds_left(opened)) from None
        probe = breaker.context.state == HALF_OPENED
        if probe:
            self._probing = True
        try:
            yield
        except UpstreamFailed as failed:
            await breaker.__aexit__(UpstreamFailed, failed, None)
            raise
        except BaseException:
            raise  # neither success nor failure (the client hung up): the count, and a half-open state, stay
        else:
            await breaker.__aexit__(None, None, None)
        finally:
            if probe:
                self._probing = False

    async def _get(self) -> AsyncCircuitBreaker:
        if self._breaker is None:
            self._breaker = await self._factory.get_breaker(self.name)
        return self._breaker

    def _seconds_left(self, opened: OpenedState) -> int:
        return max(1, math.ceil(opened.opened_at + self._cooldown - time.time()))


def _count_transition(name: str, kind: str, event: Event) -> None:
    if kind == "state_changed" and isinstance(event, ContextChanged):
        metrics.CIRCUIT_TRANSITIONS.labels(name, STATE_NAMES[event.state]).inc()
