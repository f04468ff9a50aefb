"""Issue 4: clients depositing into one hot account against the same clients spread over 32 accounts.

The command service runs as in production (``python -m eventledger_command``, one process) on the PostgreSQL event
store in a scratch database. For 1, 8 and 32 keep-alive connections, each round runs, in turn, every connection
depositing into **one** account, and the same connections depositing round-robin over **32** accounts (the baseline:
the same work without contention). Each reports throughput, the answers that were not 201 (errors) and the latency
p50/p99 over all its rounds. Target (issue 4): zero errors, and one account at least half the rate of 32 accounts.

Run with the servers up: ``.venv/bin/python -m bench.bench_hot_account``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import httpx
from tests.support.processes import free_port

from bench._common import alternate, child_server, http_exchange, report, scratch_database
from eventledger_infra.settings import Settings

SECONDS = 3.0
ROUNDS = 5
CLIENTS = (1, 8, 32)
ACCOUNTS = 32


@dataclasses.dataclass
class Tally:
    """What one contender saw over all its rounds."""

    latencies: list[float] = dataclasses.field(default_factory=list)
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)


def _deposit(account: str) -> bytes:
    content = json.dumps({"account_id": account, "amount": 1}).encode()
    head = "POST /v1/deposits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(content)}\r\n\r\n").encode() + content


async def _connection(port: int, requests: list[bytes], deadline: float, tally: Tally) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    try:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            status = await http_exchange(reader, writer, requests[done % len(requests)])
            tally.latencies.append(time.perf_counter() - began)
            tally.statuses[status] += 1
            done += 1
    finally:
        writer.close()
    return done


def _run(port: int, per_connection: list[list[bytes]], tally: Tally) -> float:
    async def load() -> int:
        deadline = time.perf_counter() + SECONDS
        counts = await asyncio.gather(*(_connection(port, r, deadline, tally) for r in per_connection))
        return sum(counts)

    began = time.perf_counter()
    count = asyncio.run(load())
    return count / (time.perf_counter() - began)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    base = Settings.from_env()
    port = free_port()
    with tempfile.TemporaryDirectory() as logs, ExitStack() as stack:
        database = stack.enter_context(scratch_database(base))
        env = {"EVENTLEDGER_COMMAND_PORT": str(port), "EVENTLEDGER_PG_DATABASE": database}
        url = f"http://127.0.0.1:{port}"
        stack.enter_context(child_server(["eventledger_command"], env, Path(logs) / "command.log", f"{url}/healthz"))
        with httpx.Client(base_url=url) as client:
            accounts = [
                client.post("/v1/accounts", json={"holder_name": f"bench {i}", "currency": "EUR"}).json()["account_id"]
                for i in range(ACCOUNTS + 1)
            ]
        hot, spread = _deposit(accounts[0]), [_deposit(a) for a in accounts[1:]]
        print(
            f"hot-account benchmark: {SECONDS:.0f} s per run, {ROUNDS} alternated rounds, clients {CLIENTS}, "
            f"{os.cpu_count()} CPUs, command service on PostgreSQL (database {database})"
        )
        _run(port, [spread] * 8, Tally())  # warm-up
        tallies: dict[str, Tally] = {}
        results: dict[str, list[float]] = {}
        ratios: list[tuple[str, str, float] | tuple[str, str, float, str]] = []
        for clients in CLIENTS:
            one, many = f"{clients} clients, one account", f"{clients} clients, {ACCOUNTS} accounts"
            # Connection k deposits round-robin into accounts k, k + clients, ... : all 32 are used at any count.
            spread_work = [spread[k::clients] for k in range(clients)]
            tallies[one], tallies[many] = Tally(), Tally()
            hot_tally, spread_tally = tallies[one], tallies[many]

            def hot_run(c: int = clients, t: Tally = hot_tally) -> float:
                return _run(port, [[hot]] * c, t)

            def spread_run(w: list[list[bytes]] = spread_work, t: Tally = spread_tally) -> float:
                return _run(port, w, t)

            results |= alternate(ROUNDS, {one: hot_run, many: spread_run})
            ratios.append((one, many, 0.5))
    report("deposits into one hot account vs the same clients over 32 accounts", results, ratios)
    print("\n  contender                               requests   errors   p50 ms   p99 ms   median /s")
    for name, tally in tallies.items():
        errors = sum(n for status, n in tally.statuses.items() if status != 201)
        print(
            f"  {name:<38} {sum(tally.statuses.values()):9,} {errors:8,} {_percentile(tally.latencies, 0.5) * 1e3:8.1f}"
            f" {_percentile(tally.latencies, 0.99) * 1e3:8.1f} {statistics.median(results[name]):11,.0f}"
        )
        if errors:
            print(f"    answers other than 201: {dict(tally.statuses)}")


if __name__ == "__main__":
    main()
