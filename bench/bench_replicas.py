"""Issue 10 items 5 and 8: the whole system as `make up REPLICAS=N` runs it (N = 1, 2, 3), deposits through HAProxy
at a fixed concurrency, and at N = 1 the same deposits sent to the gateway instance directly (what the HAProxy hop
costs). Each round starts every configuration afresh, in turn, so that drift on the machine hits them alike.

On this 2-core machine more replicas share the same two cores with PostgreSQL, Kafka, Redis and Elasticsearch: the
figures say what replicas cost and what they buy on one machine, and feed the capacity model in docs/scaling.md.

During each measure the CPU time of every process (a server with all its children) is sampled from ``/proc``, and
the CPU milliseconds one deposit costs in each service are printed: the capacity model of docs/scaling.md is built
from them and checked against the rates.

Run with the servers up and nothing on the system's ports: ``.venv/bin/python -m bench.bench_replicas [rounds]``.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
from tests.support.system import ROLES, running_system

from bench._common import keep_alive_rate, post_request, report
from eventledger_infra import system
from eventledger_infra.cli import SERVICE_TYPES
from eventledger_infra.process import read_pid
from eventledger_infra.settings import Settings

SECONDS = 8.0
WARM_UP_SECONDS = 2.0
CONCURRENCY = 16
ROUNDS = 2
DIRECT = "REPLICAS=1 gateway direct"
CORES = os.cpu_count() or 1


TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and all its descendants (PostgreSQL forks a backend per connection)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / TICKS
        children = [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return own + sum(_cpu_seconds(child) for child in children)


def _cpu_by_service(running_state: Path) -> dict[str, float]:
    """CPU seconds so far per service (its instances summed) and per server."""
    totals: dict[str, float] = {}
    for spec in system.recorded_instances(dataclasses.replace(Settings.from_env(), state_dir=running_state)):
        pid = read_pid(running_state / "system" / f"{spec.name}.pid")
        if pid is not None:
            totals[spec.service] = totals.get(spec.service, 0.0) + _cpu_seconds(pid)
    servers = Settings.from_env()
    for name, server_type in SERVICE_TYPES.items():
        pid = server_type(servers).pid()
        if pid is not None:
            totals[name] = _cpu_seconds(pid)
    return totals


CPU_MS_PER_DEPOSIT: dict[int, list[dict[str, float]]] = {}


def _measure(replicas: int, results: dict[str, list[float]]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as state:
        # The gateway's rate limit is set out of reach.
        extra = {
            "EVENTLEDGER_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
            "EVENTLEDGER_GATEWAY_RATE_LIMIT_BURST": "1000000",
        }
        with running_system(Path(state), replicas=replicas, extra_env=extra) as running:
            token = running.token(*ROLES, subject="bench")
            with httpx.Client(base_url=running.gateway_url, headers={"Authorization": f"Bearer {token}"}) as client:
                accounts = [
                    client.post(
                        "/v1/accounts", json={"holder_name": f"Bench {uuid.uuid4().hex[:6]}", "currency": "EUR"}
                    ).json()["account_id"]
                    for _ in range(CONCURRENCY)
                ]
            requests = [post_request("/v1/deposits", {"account_id": a, "amount": 1}, token) for a in accounts]
            public = system.public_ports()["gateway"]
            keep_alive_rate(public, requests, 201, WARM_UP_SECONDS)
            name = f"REPLICAS={replicas} via HAProxy"
            before = _cpu_by_service(running.state_dir)
            rate = keep_alive_rate(public, requests, 201, SECONDS)
            after = _cpu_by_service(running.state_dir)
            deposits = rate * SECONDS
            CPU_MS_PER_DEPOSIT.setdefault(replicas, []).append(
                {service: 1000 * (after[service] - before.get(service, 0.0)) / deposits for service in after}
            )
            results.setdefault(name, []).append(rate)
            print(f"  {name:<34} {rate:12,.0f} /s", flush=True)
            if replicas == 1:
                direct = next(s.port for s in system.services(1) if s.name == "gateway")
                direct_rate = keep_alive_rate(direct, requests, 201, SECONDS)
                results.setdefault(DIRECT, []).append(direct_rate)
                print(f"  {DIRECT:<34} {direct_rate:12,.0f} /s", flush=True)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    results: dict[str, list[float]] = {}
    for round_number in range(rounds):
        print(f"round {round_number + 1}", flush=True)
        for replicas in (1, 2, 3):
            _measure(replicas, results)
    print("\nCPU ms per deposit (median of the rounds), by service, and the rate that CPU allows on this machine")
    for replicas, samples in sorted(CPU_MS_PER_DEPOSIT.items()):
        medians = {s: statistics.median(sample.get(s, 0.0) for sample in samples) for s in samples[0]}
        total = sum(medians.values())
        busiest = max(medians, key=lambda s: medians[s])
        shown = "  ".join(f"{s} {ms:.2f}" for s, ms in sorted(medians.items(), key=lambda item: -item[1]))
        print(f"  REPLICAS={replicas}: total {total:.2f} ms → {1000 * CORES / total:,.0f} /s on {CORES} cores")
        print(f"    {shown}")
        print(
            f"    busiest service: {busiest} {medians[busiest]:.2f} ms → one process of it alone caps at "
            f"{1000 / medians[busiest] * replicas:,.0f} /s with {replicas} instance(s)"
        )
    report(
        f"Deposits/s through the whole system, {CONCURRENCY} connections, {SECONDS:.0f} s per measure",
        results,
        [
            ("REPLICAS=1 via HAProxy", DIRECT, 0.9),
            ("REPLICAS=2 via HAProxy", "REPLICAS=1 via HAProxy", 1.0),
            ("REPLICAS=3 via HAProxy", "REPLICAS=1 via HAProxy", 1.0),
        ],
    )


if __name__ == "__main__":
    main()
