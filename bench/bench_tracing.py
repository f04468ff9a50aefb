"""What tracing costs on the hot path (ADR 0032): deposits through the gateway with tracing off, against the same
through a gateway and command service exporting every span over OTLP/HTTP to a receiver (a process of its own,
``tests.support.otlp``). Each pair runs as in production (``python -m eventledger_gateway serve``,
``python -m eventledger_command`` on the in-memory store); the rounds alternate. No target: the figure is reported.

Run with the servers up (the gateway's rate limiter uses Redis): ``.venv/bin/python -m bench.bench_tracing``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
from tests.support.processes import free_port

from bench._common import child_server, compare, keep_alive_rate, post_request
from bench.bench_gateway import DEFAULT_CONCURRENCY, ROUNDS, SECONDS, _open_accounts
from eventledger_gateway.tokens import mint_token
from eventledger_runtime.settings import GatewaySettings

OFF = "deposit through the gateway, tracing off"
ON = "deposit through the gateway, tracing on"


def _pair(stack: ExitStack, name: str, env: dict[str, str], log_dir: Path) -> tuple[int, str]:
    """A command service and a gateway in front of it; answers the gateway's port and URL."""
    command_port, gateway_port = free_port(), free_port()
    env = {
        **env,
        "EVENTLEDGER_COMMAND_STORE": "memory",
        "EVENTLEDGER_COMMAND_PORT": str(command_port),
        "EVENTLEDGER_GATEWAY_PORT": str(gateway_port),
        "EVENTLEDGER_GATEWAY_COMMAND_URL": f"http://127.0.0.1:{command_port}",
    }
    command, gateway = f"http://127.0.0.1:{command_port}", f"http://127.0.0.1:{gateway_port}"
    stack.enter_context(
        child_server(["eventledger_command"], env, log_dir / f"{name}-command.log", f"{command}/healthz")
    )
    stack.enter_context(
        child_server(["eventledger_gateway", "serve"], env, log_dir / f"{name}-gateway.log", f"{gateway}/healthz")
    )
    return gateway_port, gateway


def main() -> None:
    concurrency = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CONCURRENCY
    env = {
        "EVENTLEDGER_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
        "EVENTLEDGER_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "EVENTLEDGER_NAMESPACE": f"bench-tracing-{uuid.uuid4().hex[:8]}",
    }
    token = mint_token(GatewaySettings(), ["writer"], subject="bench", ttl_seconds=3600)
    receiver_port = free_port()
    receiver = f"http://127.0.0.1:{receiver_port}"
    with tempfile.TemporaryDirectory() as logs, ExitStack() as stack:
        log_dir = Path(logs)
        stack.enter_context(
            child_server(["tests.support.otlp", str(receiver_port)], {}, log_dir / "receiver.log", f"{receiver}/")
        )
        off_port, off = _pair(stack, "off", env, log_dir)
        on_port, on = _pair(stack, "on", {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver}, log_dir)
        requests = {
            port: [post_request("/v1/deposits", {"account_id": a, "amount": 1}, token) for a in accounts]
            for port, accounts in (
                (off_port, _open_accounts(off, token, concurrency)),
                (on_port, _open_accounts(on, token, concurrency)),
            )
        }

        def rate(port: int) -> float:
            return keep_alive_rate(port, requests[port], 201, SECONDS)

        print(
            f"tracing benchmark: {SECONDS:.0f} s per run, {ROUNDS} alternated rounds, {concurrency} connections, "
            f"{os.cpu_count()} CPUs"
        )
        rate(off_port), rate(on_port)  # warm-up
        compare(
            "deposits through the gateway (command service on the in-memory store)",
            ROUNDS,
            {OFF: lambda: rate(off_port), ON: lambda: rate(on_port)},
            [(ON, OFF, 0.0)],
        )
        print(f"spans received: {httpx.get(f'{receiver}/').text}")


if __name__ == "__main__":
    main()
