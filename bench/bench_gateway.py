"""PRODUCT.md §6 item 5: command throughput through the gateway against a trivial endpoint on the same stack
(FastAPI + uvicorn, one process each, uvloop and httptools as the services run) at the same concurrency. Targets:
≥ 0.25 through the gateway, ≥ 0.5 for the command service reached directly (issue 11 item 1).

The gateway runs as in production (``python -m eventledger_gateway serve``): JWT verification, the Redis token
bucket on the real Redis (with a limit no client reaches), ids, metrics, and a pooled connection to the command
service (``python -m eventledger_command`` on the in-memory store, or on PostgreSQL in a scratch database with
``postgres`` as the second argument). Each connection deposits into an account of its own. The trivial endpoint
answers a small JSON document to the same request (same body, same headers). The command service reached directly
is measured too, and so are deposits with a token the gateway issued itself (ADR 0024: an EdDSA signature and a
revocation-list lookup in Redis per request, against the development HS256 token of the main contender).

The load comes from a lean keep-alive HTTP/1.1 client on asyncio (one per connection), so that the client costs
little next to the servers it measures. Each server's CPU time per request (from ``/proc``) is printed too, so that
a miss shows where the time goes. Run with the servers up: ``.venv/bin/python -m bench.bench_gateway [connections]
[memory|postgres]``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
from fastapi import FastAPI
from tests.support.processes import free_port

from bench._common import alternate, child_server, cpu_seconds, keep_alive_rate, post_request, report, scratch_database
from eventledger_gateway.tokens import mint_token
from eventledger_infra.settings import Settings
from eventledger_runtime.settings import GatewaySettings

SECONDS = 3.0
ROUNDS = 5
TRIVIAL = "trivial endpoint"
GATEWAY = "deposit through the gateway"
DIRECT = "deposit, command service direct"
ISSUED = "deposit through the gateway, issued token"
# Connections held open by the load generator; `python -m bench.bench_gateway 64` runs at another concurrency.
DEFAULT_CONCURRENCY = 16
STORES = ("memory", "postgres")

trivial_app = FastAPI()


@trivial_app.post("/trivial")
async def trivial() -> dict[str, bool]:
    """Does nothing: the baseline of what one FastAPI + uvicorn process answers."""
    return {"ok": True}


def _open_accounts(gateway: str, token: str, count: int) -> list[str]:
    with httpx.Client(base_url=gateway, headers={"Authorization": f"Bearer {token}"}) as client:
        return [
            client.post("/v1/accounts", json={"holder_name": f"bench {i}", "currency": "EUR"}).json()["account_id"]
            for i in range(count)
        ]


def _issued_token(gateway: str, env: dict[str, str]) -> str:
    """A client registered with the CLI (same database and namespace as the gateway), its token from /oauth/token."""
    created = subprocess.run(
        [sys.executable, "-m", "eventledger_gateway", "clients", "create", "--name", "bench", "--role", "writer"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    client = json.loads(created.stdout)
    answer = httpx.post(
        f"{gateway}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def main() -> None:
    concurrency = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CONCURRENCY
    store = sys.argv[2] if len(sys.argv) > 2 else "memory"
    if store not in STORES:
        raise SystemExit(f"usage: python -m bench.bench_gateway [connections] [{'|'.join(STORES)}]")
    ports = {name: free_port() for name in ("command", "gateway", "trivial")}
    namespace = f"bench-gateway-{uuid.uuid4().hex[:8]}"  # its own rate-limit keys
    env = {
        "EVENTLEDGER_COMMAND_STORE": store,
        "EVENTLEDGER_COMMAND_PORT": str(ports["command"]),
        "EVENTLEDGER_GATEWAY_PORT": str(ports["gateway"]),
        "EVENTLEDGER_GATEWAY_COMMAND_URL": f"http://127.0.0.1:{ports['command']}",
        "EVENTLEDGER_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
        "EVENTLEDGER_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "EVENTLEDGER_NAMESPACE": namespace,
    }
    settings = GatewaySettings()  # the gateway process reads the same variables, hence the same secret
    token = mint_token(settings, ["writer"], subject="bench", ttl_seconds=3600)
    with tempfile.TemporaryDirectory() as logs, ExitStack() as stack:
        if store == "postgres":
            env["EVENTLEDGER_PG_DATABASE"] = stack.enter_context(scratch_database(Settings.from_env()))
        log_dir = Path(logs)
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        command = f"http://127.0.0.1:{ports['command']}"
        trivial_server = ["uvicorn", "bench.bench_gateway:trivial_app", "--port", str(ports["trivial"])]
        trivial_server += ["--log-level", "warning", "--no-access-log"]
        processes = {
            "command": stack.enter_context(
                child_server(["eventledger_command"], env, log_dir / "command.log", f"{command}/healthz")
            ),
            "gateway": stack.enter_context(
                child_server(["eventledger_gateway", "serve"], env, log_dir / "gateway.log", f"{gateway}/healthz")
            ),
            "trivial": stack.enter_context(
                child_server(trivial_server, env, log_dir / "trivial.log", f"http://127.0.0.1:{ports['trivial']}/docs")
            ),
        }
        accounts = _open_accounts(gateway, token, concurrency)
        deposits = [post_request("/v1/deposits", {"account_id": a, "amount": 1}, token) for a in accounts]
        issued_token = _issued_token(gateway, env)
        issued = [post_request("/v1/deposits", {"account_id": a, "amount": 1}, issued_token) for a in accounts]
        trivial = [post_request("/trivial", {"account_id": a, "amount": 1}, token) for a in accounts]
        cpu: dict[str, dict[str, list[float]]] = {}

        def rate(name: str, port: int, requests: list[bytes], expected: int) -> float:
            before = {server: cpu_seconds(process.pid) for server, process in processes.items()}
            began = time.perf_counter()
            answered = keep_alive_rate(port, requests, expected, SECONDS)
            count = answered * (time.perf_counter() - began)
            for server, process in processes.items():
                used = cpu_seconds(process.pid) - before[server]
                if used * 1000 / count > 0.05:  # the servers this run went through
                    cpu.setdefault(name, {}).setdefault(server, []).append(used * 1000 / count)
            return answered

        print(
            f"gateway benchmark: {SECONDS:.0f} s per run, {ROUNDS} alternated rounds, {concurrency} connections, "
            f"{os.cpu_count()} CPUs, command service on the {store} store"
        )
        rate("warm-up", ports["gateway"], deposits, 201)
        results = alternate(
            ROUNDS,
            {
                TRIVIAL: lambda: rate(TRIVIAL, ports["trivial"], trivial, 200),
                GATEWAY: lambda: rate(GATEWAY, ports["gateway"], deposits, 201),
                DIRECT: lambda: rate(DIRECT, ports["command"], deposits, 201),
                ISSUED: lambda: rate(ISSUED, ports["gateway"], issued, 201),
            },
        )
        report(
            f"commands through the gateway (deposits, command service on the {store} store)",
            results,
            [
                (GATEWAY, TRIVIAL, 0.25),
                (DIRECT, TRIVIAL, 0.5),
                (GATEWAY, DIRECT, None),
                (ISSUED, GATEWAY, None),
                (ISSUED, TRIVIAL, 0.25),
            ],
        )
        print("  CPU per request (ms, median of the rounds):")
        for name in results:
            used = ", ".join(f"{server} {statistics.median(ms):.3f}" for server, ms in cpu.get(name, {}).items())
            print(f"    {name:<40} {used}")


if __name__ == "__main__":
    main()
