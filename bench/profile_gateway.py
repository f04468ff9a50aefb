"""Where the CPU of a command goes: py-spy samples the gateway and the command service while 16 connections deposit
through the gateway (the set-up of :mod:`bench.bench_gateway`), then prints each process's functions by their share
of the samples that held the GIL (inclusive, then self). The figures of docs/performance.md (2026-12-06) and ADR
0036 come from it.

Run with the servers up, under the system lock: ``.venv/bin/python -m bench.profile_gateway [memory|postgres]``.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from tests.support.processes import free_port

from bench._common import child_server, keep_alive_rate, post_request, scratch_database
from bench.bench_gateway import STORES, _open_accounts
from eventledger_gateway.tokens import mint_token
from eventledger_infra.settings import Settings
from eventledger_runtime.settings import GatewaySettings

CONNECTIONS = 16
SECONDS = 8
RATE_HZ = 200
SHOWN = 40
PY_SPY = Path(sys.executable).parent / "py-spy"


def main() -> None:
    store = sys.argv[1] if len(sys.argv) > 1 else "memory"
    if store not in STORES:
        raise SystemExit(f"usage: python -m bench.profile_gateway [{'|'.join(STORES)}]")
    ports = {name: free_port() for name in ("command", "gateway")}
    env = {
        "EVENTLEDGER_COMMAND_STORE": store,
        "EVENTLEDGER_COMMAND_PORT": str(ports["command"]),
        "EVENTLEDGER_GATEWAY_PORT": str(ports["gateway"]),
        "EVENTLEDGER_GATEWAY_COMMAND_URL": f"http://127.0.0.1:{ports['command']}",
        "EVENTLEDGER_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
        "EVENTLEDGER_GATEWAY_RATE_LIMIT_BURST": "1000000",
        "EVENTLEDGER_NAMESPACE": f"profile-gateway-{uuid.uuid4().hex[:8]}",
    }
    token = mint_token(GatewaySettings(), ["writer"], subject="bench", ttl_seconds=3600)
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        if store == "postgres":
            env["EVENTLEDGER_PG_DATABASE"] = stack.enter_context(scratch_database(Settings.from_env()))
        folder = Path(scratch)
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        command = f"http://127.0.0.1:{ports['command']}"
        processes = {
            "command": stack.enter_context(
                child_server(["eventledger_command"], env, folder / "command.log", f"{command}/healthz")
            ),
            "gateway": stack.enter_context(
                child_server(["eventledger_gateway", "serve"], env, folder / "gateway.log", f"{gateway}/healthz")
            ),
        }
        accounts = _open_accounts(gateway, token, CONNECTIONS)
        deposits = [post_request("/v1/deposits", {"account_id": a, "amount": 1}, token) for a in accounts]
        keep_alive_rate(ports["gateway"], deposits, 201, 1.0)  # warm-up
        spies = [
            subprocess.Popen(
                [*_py_spy(SECONDS, RATE_HZ), "-p", str(process.pid), "-o", str(folder / f"{name}.txt")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, process in processes.items()
        ]
        time.sleep(0.5)
        rate = keep_alive_rate(ports["gateway"], deposits, 201, SECONDS)
        for spy in spies:
            spy.wait()
        print(f"{rate:,.0f} deposits/s through the gateway, {CONNECTIONS} connections, {store} store")
        for name in processes:
            _summary(name, folder / f"{name}.txt")


def _py_spy(seconds: int, rate_hz: int) -> list[str]:
    """py-spy sampling only the thread that holds the GIL, writing collapsed stacks."""
    return [str(PY_SPY), "record", "-d", str(seconds), "-r", str(rate_hz), "--gil", "-f", "raw"]


def _summary(name: str, samples: Path) -> None:
    """Inclusive and self shares of each function in py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"\n{name}: {total} samples holding the GIL")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"  {title}:")
        for frame, samples_in in counter.most_common(SHOWN):
            print(f"    {100 * samples_in / max(total, 1):5.1f} %  {frame[:140]}")


if __name__ == "__main__":
    main()
