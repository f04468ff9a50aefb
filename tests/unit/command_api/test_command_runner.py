"""Where a command runs (ADR 0036): on the event loop over a store that never waits, on the runner's own threads
over one that blocks, and there with the request's context (the correlation id of its log lines, its span)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest
from starlette.requests import Request

from eventledger_command.api.idempotency import CommandRunner
from eventledger_command.application.commands import OpenAccount
from eventledger_command.bootstrap import Container
from eventledger_runtime.logs import CORRELATION_ID, correlated


def _request() -> Request:
    headers = [(b"x-actor", b"alice"), (b"content-type", b"application/json")]
    return Request({"type": "http", "method": "POST", "path": "/v1/accounts", "headers": headers, "query_string": b""})


def _watch(container: Container, monkeypatch: pytest.MonkeyPatch) -> list[tuple[threading.Thread, str | None]]:
    """Where and with which correlation id each command reached the bus."""
    seen: list[tuple[threading.Thread, str | None]] = []
    execute = container.bus.execute

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append((threading.current_thread(), CORRELATION_ID.get()))
        return execute(*args, **kwargs)

    monkeypatch.setattr(container.bus, "execute", watched)
    return seen


async def _open(runner: CommandRunner) -> int:
    with correlated("c0ffee00-0000-4000-8000-000000000001"):
        answer = await runner.answer(_request(), OpenAccount(uuid.uuid4(), "Alice", "EUR", 0), 201, None)
    return answer.status_code


@pytest.mark.parametrize("blocking", [True, False])
def test_a_command_runs_on_the_loop_or_on_a_thread_of_the_runner_with_the_requests_context(
    container: Container, monkeypatch: pytest.MonkeyPatch, blocking: bool
) -> None:
    seen = _watch(container, monkeypatch)
    runner = CommandRunner(container.bus, container.store, blocking=blocking, threads=2)
    try:
        assert asyncio.run(_open(runner)) == 201
    finally:
        runner.close()
    [(thread, correlation)] = seen
    assert correlation == "c0ffee00-0000-4000-8000-000000000001"
    assert (thread is threading.main_thread()) is not blocking
    assert thread.name.startswith("command") is blocking
