"""PRODUCT.md §6.8 (issue 11 item 5): the whole system under a mixed load at 70 % of its measured maximum for 10
minutes, sampled every 5 s, with a chart and a CSV in ``docs/perf/``.

Run with the servers up and nothing on the system's ports, holding the system lock for the run only:

    flock /tmp/eventledger-system.lock .venv/bin/python -m bench.soak --minutes 10

``--minutes 1 --warm-up-seconds 20`` is a short trial; ``--rate R`` skips the ramp and offers R requests/s.

What it does:

1. Starts the whole system (``tests.support.system.running_system``: every service as ``make up`` runs it, in a
   scratch database and namespace, the gateway's rate limit out of reach) and opens accounts through HAProxy.
2. **Ramp** (the measured maximum): closed loop, the mixed workload at increasing concurrency (``--ramp``, default
   4, 8, 16, 32 connections) for ``--ramp-seconds`` each; the throughput of a step counts the answers other than
   5xx after its first 3 s. The maximum is the best step.
3. **Soak**: open loop, requests launched at a constant pace of ``--fraction`` (0.7) of the maximum, whatever the
   answers take, for ``--minutes``. A request's latency runs from its *scheduled* start, so a slow system is not
   hidden by a client that waits for it (no coordinated omission). The first ``--warm-up-seconds`` are warm-up.
4. Every ``--sample-seconds`` (5) a sampler records the answers of the interval (throughput, p50, p99, by status
   class), each read model's lag (``GET /v1/admin/projections``: events and seconds), the resident size and CPU of
   every process of the system (pid files in ``<state>/system/``), the load generator's, and the machine's load.

The mix, per request: transfers 25 %, deposits 12 %, withdrawals 8 %, holds (pending transfers, 60 s timeout)
7.5 %, settles of the oldest hold (post or void, alternately at random) 7.5 %, account reads 25 % (with
``X-Min-Position`` of the last write this client made to that account: read-your-writes), statements 5 %, searches
5 %, live figures 5 %. 200 accounts, each funded once, so that no debit is refused.

The verdicts, over the samples after warm-up:

- **memory under 200 MB**: the largest resident size of each EventLedger Python process (every service and the
  supervisor; HAProxy is not Python) at any sample is under 200 MB.
- **memory flat ("within 10 %")**: each such process's resident size at every sample after warm-up is within ±10 %
  of its size at the first sample after warm-up. A process the supervisor restarted fails.
- **lag and p99 flat ("no upward trend")**: a least-squares line through the series against time; its rise over
  the window (slope x window length) must not exceed a quarter of the series' mean, or a noise floor where the mean
  is near zero: 0.25 s for lag in seconds, a quarter second of the offered rate for lag in events, 2 ms for p99.
  Each read model's lag in events and in seconds is judged, and the p99 of each interval.
- **p99 ≤ 10 x p50** (PRODUCT.md §6.8): over every answer after warm-up.
- **no 5xx**: no answer 500-599 and no broken connection in the whole soak, warm-up included.
- **kept the pace**: the answers per second after warm-up are at least 95 % of the offered rate (else the rate was
  not 70 % of what the system can do, and the other verdicts say little).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import csv
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.system import ROLES, RunningSystem, running_system

from eventledger_infra import system

RSS_LIMIT_MB = 200.0
RSS_BAND = 0.10
TREND_SHARE_OF_MEAN = 0.25
P99_FLOOR_MS = 2.0
LAG_SECONDS_FLOOR = 0.25
LAG_EVENTS_FLOOR_SECONDS_OF_RATE = 0.25
RAMP_SKIP_SECONDS = 3.0
ACCOUNTS = 200
OPENING_CONCURRENCY = 8
IDLE_SECONDS = 4.0
FUNDING = 10_000_000
HOLD_TIMEOUT_SECONDS = 60
MIX = {
    "transfer": 0.25,
    "deposit": 0.12,
    "withdrawal": 0.08,
    "hold": 0.075,
    "settle": 0.075,
    "read_account": 0.25,
    "statement": 0.05,
    "search": 0.05,
    "stats": 0.05,
}
WORDS = ("rent", "salary", "coffee", "books", "travel", "refund", "invoice", "gift")
NOT_PYTHON = {system.LOAD_BALANCER}


# ------------------------------------------------------------------ a lean keep-alive HTTP/1.1 client


class Connection:
    """One keep-alive HTTP/1.1 connection: one request at a time, the answer read whole (length or chunked)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.open = True
        self.idle_since = time.monotonic()

    @classmethod
    async def connect(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0][9:12])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = await self._chunked()
        else:
            body = await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, headers, body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await self.reader.readexactly(size + 2))
            if size == 0:
                return b"".join(parts)

    def close(self) -> None:
        self.open = False
        self.writer.close()


class Pool:
    """At most ``size`` connections to one port, reused; a request waits for a free one."""

    def __init__(self, port: int, size: int, token: str) -> None:
        self.port = port
        self.token = token
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(size)

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        payload = b"" if body is None else json.dumps(body).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n{extra}\r\n"
        ).encode() + payload
        async with self.slots:
            connection = self._reusable()
            if connection is not None:
                try:
                    return self._done(connection, await connection.exchange(request))
                except asyncio.IncompleteReadError as error:
                    connection.close()
                    if error.partial:
                        raise
                    # The server closed the idle connection as the request went out: what every HTTP client does
                    # is send it again on a new connection (safe: a command carries its Idempotency-Key).
                except ConnectionError:
                    connection.close()
            connection = await Connection.connect(self.port)
            try:
                return self._done(connection, await connection.exchange(request))
            except BaseException:
                connection.close()
                raise

    def _reusable(self) -> Connection | None:
        """The most recently used idle connection; those idle longer than the server's keep-alive may have are
        closed (HAProxy closes a client's idle connection after 10 s)."""
        while self.idle:
            connection = self.idle.pop()
            if time.monotonic() - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.close()
        return None

    def _done(
        self, connection: Connection, answer: tuple[int, dict[bytes, bytes], bytes]
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        if connection.open:
            connection.idle_since = time.monotonic()
            self.idle.append(connection)
        return answer

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


# ------------------------------------------------------------------ the workload


@dataclass
class Answer:
    kind: str
    status: int  # 0: the connection broke
    latency: float
    done_at: float


@dataclass
class Recorder:
    """The answers of the current sampling interval (the sampler takes them), the whole run's counts by phase, kind
    and status, the answers counted for a ramp step, and every latency of the soak after warm-up."""

    interval: list[Answer] = field(default_factory=list)
    statuses: collections.Counter[tuple[str, str, int]] = field(default_factory=collections.Counter)
    phase: str = "setup"
    errors: list[str] = field(default_factory=list)
    count_from: float | None = None
    counted: int = 0
    soak_latencies: list[float] = field(default_factory=list)

    def add(self, answer: Answer) -> None:
        self.interval.append(answer)
        self.statuses[(self.phase, answer.kind, answer.status)] += 1
        if self.count_from is not None and answer.done_at >= self.count_from and 0 < answer.status < 500:
            self.counted += 1
        if self.phase == "soak":
            self.soak_latencies.append(answer.latency)

    def take(self) -> list[Answer]:
        taken, self.interval = self.interval, []
        return taken


class Workload:
    """The mixed requests of a client that remembers what it wrote: accounts, its last position on each, its holds."""

    def __init__(self, pool: Pool, recorder: Recorder, accounts: list[str], seed: int = 5) -> None:
        self.pool = pool
        self.recorder = recorder
        self.accounts = accounts
        self.written: dict[str, int] = {}
        self.holds: collections.deque[str] = collections.deque()
        self.rng = random.Random(seed)
        self.kinds = list(MIX)
        self.weights = list(MIX.values())

    async def one(self, scheduled: float) -> None:
        """One request of the mix; its latency counts from ``scheduled`` (the loop's clock)."""
        kind = self.rng.choices(self.kinds, self.weights)[0]
        if kind == "settle" and not self.holds:
            kind = "hold"
        status = 0
        try:
            status = await self._send(kind)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            if len(self.recorder.errors) < 20:
                self.recorder.errors.append(f"{kind}: {error!r}")
        done = asyncio.get_running_loop().time()
        self.recorder.add(Answer(kind, status, done - scheduled, done))

    async def _send(self, kind: str) -> int:  # noqa: PLR0911 - one return per kind of request
        rng, accounts = self.rng, self.accounts
        a, b = rng.sample(accounts, 2)
        text = f"soak {rng.choice(WORDS)} {rng.choice(WORDS)}"
        if kind == "transfer":
            body = {"from_account_id": a, "to_account_id": b, "amount": rng.randint(1, 100), "description": text}
            return await self._command("/v1/transfers", body, (a, b))
        if kind == "deposit":
            return await self._command("/v1/deposits", {"account_id": a, "amount": rng.randint(1, 100)}, (a,))
        if kind == "withdrawal":
            return await self._command("/v1/withdrawals", {"account_id": a, "amount": rng.randint(1, 50)}, (a,))
        if kind == "hold":
            body = {
                "from_account_id": a,
                "to_account_id": b,
                "amount": rng.randint(1, 100),
                "description": text,
                "pending": True,
                "timeout_seconds": HOLD_TIMEOUT_SECONDS,
            }
            status, _, answer = await self.pool.request("POST", "/v1/transfers", body, _key())
            if status == 201:
                self.holds.append(json.loads(answer)["transfer_id"])
            return status
        if kind == "settle":
            action = rng.choice(("post", "void"))
            status, _, _ = await self.pool.request(
                "POST", f"/v1/transfers/{self.holds.popleft()}/{action}", None, _key()
            )
            return status
        if kind == "read_account":
            headers = {"X-Min-Position": str(self.written[a])} if a in self.written else {}
            return (await self.pool.request("GET", f"/v1/accounts/{a}", None, headers))[0]
        if kind == "statement":
            return (await self.pool.request("GET", f"/v1/accounts/{a}/entries?limit=20"))[0]
        if kind == "search":
            return (await self.pool.request("GET", f"/v1/search/transfers?q={rng.choice(WORDS)}&limit=10"))[0]
        return (await self.pool.request("GET", "/v1/stats/overview"))[0]

    async def _command(self, path: str, body: dict[str, Any], touched: tuple[str, ...]) -> int:
        status, _, answer = await self.pool.request("POST", path, body, _key())
        if status in (200, 201):
            position = int(json.loads(answer)["position"])
            for account in touched:
                self.written[account] = max(position, self.written.get(account, 0))
        return status


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def open_accounts(pool: Pool, count: int) -> list[str]:
    async def one(n: int) -> str:
        status, _, body = await pool.request("POST", "/v1/accounts", {"holder_name": f"Soak {n}", "currency": "EUR"})
        assert status == 201, body
        account = str(json.loads(body)["account_id"])
        status, _, body = await pool.request("POST", "/v1/deposits", {"account_id": account, "amount": FUNDING})
        assert status == 201, body
        return account

    accounts: list[str] = []
    for first in range(0, count, OPENING_CONCURRENCY):
        accounts += await asyncio.gather(*(one(n) for n in range(first, min(count, first + OPENING_CONCURRENCY))))
    return accounts


async def closed_loop(workload: Workload, concurrency: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def client() -> None:
        while loop.time() < end:
            await workload.one(loop.time())

    await asyncio.gather(*(client() for _ in range(concurrency)))


async def open_loop(workload: Workload, rate: float, seconds: float, on_tick: Callable[[float], None]) -> int:
    """Launch requests at a constant ``rate`` for ``seconds``; answer how many were launched late by more than 50 ms
    (the load generator itself fell behind). ``on_tick`` gets the seconds elapsed at each launch."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    in_flight: set[asyncio.Task[None]] = set()
    late = 0
    n = 0
    while (due := start + n / rate) < start + seconds:
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            late += 1
        on_tick(due - start)
        task = asyncio.create_task(workload.one(due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        n += 1
    if in_flight:
        await asyncio.gather(*in_flight)
    return late


# ------------------------------------------------------------------ sampling


def _proc_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for task in tasks for c in (task / "children").read_text().split()]
    except OSError:
        return []


@dataclass
class Processes:
    """The system's processes by name, from the supervisor's pid files (read again at each sample: a restarted
    instance has a new pid), their children, and the load generator itself."""

    directory: Path
    pids: dict[str, int] = field(default_factory=dict)
    restarts: collections.Counter[str] = field(default_factory=collections.Counter)
    cpu_before: dict[str, tuple[float, float]] = field(default_factory=dict)

    def current(self) -> dict[str, int]:
        found = {}
        for pid_file in sorted(self.directory.glob("*.pid")):
            with contextlib.suppress(OSError, ValueError):
                found[pid_file.stem] = int(pid_file.read_text().split()[0])
        for name, pid in list(found.items()):
            for child in _children(pid):
                if child not in found.values():  # the supervisor's children are the instances themselves
                    found[f"{name}/child-{child}"] = child
        found["load-generator"] = os.getpid()
        for name, pid in found.items():
            if name in self.pids and self.pids[name] != pid:
                self.restarts[name] += 1
        self.pids.update(found)
        return found

    def sample(self, now: float) -> dict[str, float | None]:
        row: dict[str, float | None] = {}
        for name, pid in self.current().items():
            row[f"rss_mb:{name}"] = _proc_rss_mb(pid)
            cpu = _proc_cpu_seconds(pid)
            if cpu is not None and name in self.cpu_before:
                cpu0, t0 = self.cpu_before[name]
                row[f"cpu_pct:{name}"] = 100 * (cpu - cpu0) / max(1e-9, now - t0)
            if cpu is not None:
                self.cpu_before[name] = (cpu, now)
        return row


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def projection_lags(admin: Pool) -> dict[str, float | None]:
    """Each read model's lag from the admin view; asked up to 3 times, 0.5 s apart, when it answers 503."""
    for _ in range(3):
        try:
            status, _, body = await asyncio.wait_for(admin.request("GET", "/v1/admin/projections"), 4)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            print(f"  admin view unreachable: {error!r}", flush=True)
            admin.close()
            return {}
        if status != 503:
            break
        await asyncio.sleep(0.5)
    if status != 200:
        print(f"  admin view answered {status}: {body[:200]!r}", flush=True)
        return {}
    items = json.loads(body)
    items = items.get("items", items) if isinstance(items, dict) else items
    row: dict[str, float | None] = {}
    for item in items:
        row[f"lag_events:{item['projection']}"] = item.get("lag_events")
        row[f"lag_seconds:{item['projection']}"] = item.get("lag_seconds")
    return row


async def sampler(
    recorder: Recorder,
    processes: Processes,
    admin: Pool,
    every: float,
    offered: Callable[[], float | None],
    rows: list[dict[str, Any]],
    stop: asyncio.Event,
) -> None:
    loop = asyncio.get_running_loop()
    began = last = loop.time()
    processes.sample(last)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every - (loop.time() - last))
        now = loop.time()
        answers = recorder.take()
        latencies = [a.latency * 1000 for a in answers]
        row: dict[str, Any] = {
            "t_s": round(now - began, 1),
            "phase": recorder.phase,
            "offered_per_s": offered(),
            "done_per_s": round(len(answers) / (now - last), 1),
            "good_per_s": round(sum(0 < a.status < 500 for a in answers) / (now - last), 1),
            "p50_ms": _percentile(latencies, 0.50),
            "p99_ms": _percentile(latencies, 0.99),
            "n_2xx": sum(200 <= a.status < 300 for a in answers),
            "n_4xx": sum(400 <= a.status < 500 for a in answers),
            "n_5xx": sum(500 <= a.status < 600 for a in answers),
            "n_broken": sum(a.status == 0 for a in answers),
            "load1": os.getloadavg()[0],
        }
        row.update(await projection_lags(admin))
        row.update(processes.sample(now))
        rows.append(row)
        last = now
        lags = " ".join(
            f"{k.split(':')[1]}={v}" for k, v in row.items() if k.startswith("lag_seconds:") and v is not None
        )
        print(
            f"  {row['t_s']:7.1f}s {row['phase']:<9} {row['done_per_s']:7.1f}/s p50 {row['p50_ms'] or 0:6.1f} ms "
            f"p99 {row['p99_ms'] or 0:7.1f} ms 5xx {row['n_5xx']} broken {row['n_broken']} lag_s {lags} "
            f"load {row['load1']}",
            flush=True,
        )


# ------------------------------------------------------------------ the run


@dataclass
class Run:
    args: argparse.Namespace
    rows: list[dict[str, Any]] = field(default_factory=list)
    ramp: list[tuple[int, float]] = field(default_factory=list)
    maximum: float | None = None
    rate: float | None = None
    late_launches: int = 0
    recorder: Recorder = field(default_factory=Recorder)
    restarts: collections.Counter[str] = field(default_factory=collections.Counter)
    generator_cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


async def drive(running: RunningSystem, run: Run) -> None:
    args, recorder = run.args, run.recorder
    port = system.public_ports()["gateway"]
    token = running.token(*ROLES, subject="soak")
    pool = Pool(port, max([*args.ramp, args.connections]), token)
    admin = Pool(port, 1, token)
    accounts = await open_accounts(pool, ACCOUNTS)
    workload = Workload(pool, recorder, accounts)
    processes = Processes(running.state_dir / "system")
    stop = asyncio.Event()
    offered: list[float | None] = [None]
    sampling = asyncio.create_task(
        sampler(recorder, processes, admin, args.sample_seconds, lambda: offered[0], run.rows, stop)
    )
    loop = asyncio.get_running_loop()
    began = time.monotonic()
    try:
        if args.rate is None:
            for concurrency in args.ramp:
                recorder.phase = f"ramp-{concurrency}"
                recorder.count_from, recorder.counted = loop.time() + RAMP_SKIP_SECONDS, 0
                await closed_loop(workload, concurrency, args.ramp_seconds)
                rate = recorder.counted / (loop.time() - recorder.count_from)
                recorder.count_from = None
                run.ramp.append((concurrency, rate))
                print(f"ramp: {concurrency:3d} connections {rate:8.1f} answers/s", flush=True)
            run.maximum = max(rate for _, rate in run.ramp)
            run.rate = args.fraction * run.maximum
            recorder.phase = "settle"
            await asyncio.sleep(args.settle_seconds)
        else:
            run.rate = args.rate
        print(f"soak: {run.rate:.1f} requests/s for {args.minutes} min", flush=True)
        offered[0] = round(run.rate, 1)
        recorder.phase = "warm-up"

        def tick(elapsed: float) -> None:
            if elapsed >= args.warm_up_seconds and recorder.phase == "warm-up":
                recorder.phase = "soak"

        run.late_launches = await open_loop(workload, run.rate, args.minutes * 60, tick)
        recorder.phase = "drain"
        offered[0] = None
        await asyncio.sleep(args.sample_seconds)
    finally:
        stop.set()
        await sampling
        run.restarts = processes.restarts
        usage = resource.getrusage(resource.RUSAGE_SELF)
        run.generator_cpu_seconds = usage.ru_utime + usage.ru_stime
        run.wall_seconds = time.monotonic() - began
        pool.close()
        admin.close()


# ------------------------------------------------------------------ verdicts, CSV and chart


@dataclass(frozen=True)
class Verdict:
    criterion: str
    passed: bool
    detail: str


def trend(points: list[tuple[float, float]], floor: float) -> tuple[bool, str]:
    """Flat unless the least-squares line rises over the window by more than a quarter of the mean (or ``floor``)."""
    if len(points) < 3:
        return False, f"only {len(points)} samples"
    xs, ys = [x for x, _ in points], [y for _, y in points]
    slope, _ = statistics.linear_regression(xs, ys)
    span = xs[-1] - xs[0]
    rise, mean = slope * span, statistics.fmean(ys)
    allowed = max(TREND_SHARE_OF_MEAN * mean, floor)
    share = f" ({rise / mean:+.0%} of the mean)" if mean > 0 else ""
    return rise <= allowed, (
        f"mean {mean:.3g}, max {max(ys):.3g}, fitted rise {rise:+.3g} over {span:.0f} s{share}, allowed {allowed:.3g}"
    )


def _python_processes(rows: list[dict[str, Any]]) -> list[str]:
    names = dict.fromkeys(key.split(":", 1)[1] for row in rows for key in row if key.startswith("rss_mb:"))
    return [n for n in names if n.split("/")[0] not in NOT_PYTHON and n != "load-generator"]


def judge(run: Run) -> list[Verdict]:
    soak = [row for row in run.rows if row["phase"] == "soak"]
    rate = run.rate or 0.0
    verdicts = []
    if not soak:
        return [Verdict("a soak after warm-up", False, "no sample after warm-up")]
    for name in _python_processes(run.rows):
        key = f"rss_mb:{name}"
        sizes = [row[key] for row in run.rows if row.get(key) is not None]
        after = [row[key] for row in soak if row.get(key) is not None]
        peak = max(sizes)
        verdicts.append(Verdict(f"{name}: RSS < {RSS_LIMIT_MB:.0f} MB", peak < RSS_LIMIT_MB, f"max {peak:.1f} MB"))
        if not after:
            verdicts.append(Verdict(f"{name}: RSS within 10 %", False, "not sampled after warm-up"))
            continue
        base = after[0]
        worst = max(after, key=lambda size: abs(size - base))
        drift = (worst - base) / base
        restarted = run.restarts.get(name, 0)
        verdicts.append(
            Verdict(
                f"{name}: RSS within {RSS_BAND:.0%} of its size after warm-up",
                abs(drift) <= RSS_BAND and not restarted,
                f"{base:.1f} MB after warm-up, {after[-1]:.1f} MB at the end, furthest {worst:.1f} MB ({drift:+.1%})"
                + (f"; restarted {restarted}x" if restarted else ""),
            )
        )
    projections = dict.fromkeys(k.split(":", 1)[1] for row in soak for k in row if k.startswith("lag_events:"))
    floors = {"lag_seconds": LAG_SECONDS_FLOOR, "lag_events": LAG_EVENTS_FLOOR_SECONDS_OF_RATE * rate}
    for projection in projections:
        for measure, floor in floors.items():
            key = f"{measure}:{projection}"
            points = [(row["t_s"], float(row[key])) for row in soak if row.get(key) is not None]
            passed, detail = trend(points, floor)
            verdicts.append(Verdict(f"{projection}: {measure} flat", passed, detail))
    if not projections:
        verdicts.append(Verdict("read models' lag flat", False, "the admin view answered no lag"))
    p99s = [(row["t_s"], row["p99_ms"]) for row in soak if row["p99_ms"] is not None]
    passed, detail = trend(p99s, P99_FLOOR_MS)
    verdicts.append(Verdict("p99 (ms) flat", passed, detail))
    latencies = run.recorder.soak_latencies
    p50, p99 = _percentile(latencies, 0.5) or 0.0, _percentile(latencies, 0.99) or 0.0
    verdicts.append(
        Verdict(
            "p99 ≤ 10 x p50 (PRODUCT.md §6.8)",
            p99 <= 10 * p50,
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms over {len(latencies):,} answers: "
            f"{p99 / max(p50, 1e-9):.1f}x",
        )
    )
    soaked = {"warm-up", "soak", "drain"}
    failed = {
        status: sum(n for (phase, _, s), n in run.recorder.statuses.items() if phase in soaked and s == status)
        for status in sorted({s for (phase, _, s) in run.recorder.statuses if phase in soaked and (s == 0 or s >= 500)})
    }
    total = sum(n for (phase, _, _), n in run.recorder.statuses.items() if phase in soaked)
    verdicts.append(
        Verdict(
            "zero 5xx (and no broken connection)",
            not failed,
            f"{total:,} answers; " + (", ".join(f"{n} x {s or 'broken'}" for s, n in failed.items()) or "none failed"),
        )
    )
    done = statistics.fmean(row["done_per_s"] for row in soak)
    verdicts.append(
        Verdict(
            "kept the pace (≥ 95 % of the offered rate)",
            done >= 0.95 * rate,
            f"{done:.1f} answers/s for {rate:.1f} offered; {run.late_launches} launches > 50 ms late",
        )
    )
    return verdicts


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in row.items()})


PHASE_COLOURS = {"ramp": "#dddddd", "settle": "#eeeeee", "warm-up": "#fff3c4", "drain": "#eeeeee"}


def draw(run: Run, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = run.rows
    t = [row["t_s"] / 60 for row in rows]
    figure, axes = plt.subplots(5, 1, figsize=(11, 15), sharex=True)
    throughput, latency, lag_s, lag_n, memory = axes

    def series(key: str) -> list[float]:
        return [float("nan") if row.get(key) is None else float(row[key]) for row in rows]

    throughput.plot(t, series("good_per_s"), label="answers/s other than 5xx")
    throughput.plot(t, series("offered_per_s"), "--", label="offered/s")
    seconds = [b["t_s"] - a["t_s"] for a, b in zip([{"t_s": 0.0}, *rows], rows, strict=False)]
    failed = [(row["n_5xx"] + row["n_broken"]) / max(dt, 1e-9) for row, dt in zip(rows, seconds, strict=True)]
    throughput.plot(t, failed, color="red", linewidth=1, label="5xx and broken/s")
    throughput.set_ylabel("requests/s")
    latency.plot(t, series("p50_ms"), label="p50")
    latency.plot(t, series("p99_ms"), label="p99")
    latency.set_yscale("log")
    latency.set_ylabel("latency, ms (log)")
    for key in dict.fromkeys(k for row in rows for k in row if k.startswith("lag_")):
        measure, projection = key.split(":", 1)
        (lag_s if measure == "lag_seconds" else lag_n).plot(t, series(key), label=projection)
    lag_s.set_ylabel("read-model lag, s")
    lag_n.set_ylabel("read-model lag, events")
    for key in dict.fromkeys(k for row in rows for k in row if k.startswith("rss_mb:")):
        name = key.split(":", 1)[1]
        style = ":" if name.split("/")[0] in NOT_PYTHON or name == "load-generator" else "-"
        memory.plot(t, series(key), style, label=name)
    memory.axhline(RSS_LIMIT_MB, color="red", linewidth=1, label=f"{RSS_LIMIT_MB:.0f} MB")
    memory.set_ylim(0, RSS_LIMIT_MB * 1.1)
    memory.set_ylabel("resident size, MB")
    memory.set_xlabel("minutes")
    for axis in axes:
        start = 0.0
        for n, row in enumerate(rows):
            phase = row["phase"].split("-")[0] if row["phase"].startswith("ramp") else row["phase"]
            last = n + 1 == len(rows) or (rows[n + 1]["phase"] != row["phase"])
            if last:
                colour = PHASE_COLOURS.get(phase)
                if colour:
                    axis.axvspan(start, t[n], color=colour, zorder=0)
                start = t[n]
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="upper left", ncol=3)
    throughput.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def summarise(run: Run, verdicts: list[Verdict], load: str) -> None:
    print("\nramp (closed loop, answers/s after each step's first 3 s):")
    for concurrency, rate in run.ramp:
        print(f"  {concurrency:3d} connections {rate:8.1f}")
    if run.maximum is not None:
        print(f"  maximum {run.maximum:.1f}/s; soak at {run.args.fraction:.0%}: {run.rate:.1f}/s")
    print("\nanswers other than 2xx, by phase and kind:")
    for (phase, kind, status), n in sorted(run.recorder.statuses.items()):
        if not 200 <= status < 300:
            print(f"  {phase:<9} {kind:<13} {status or 'broken'}: {n}")
    for error in run.recorder.errors:
        print(f"  {error}")
    share = run.generator_cpu_seconds / max(run.wall_seconds, 1e-9)
    print(
        f"\nload generator CPU: {run.generator_cpu_seconds:.0f} s over {run.wall_seconds:.0f} s ({share:.0%} of a core)"
    )
    print(f"machine: {load}")
    print("\nverdicts (after warm-up):")
    for verdict in verdicts:
        print(f"  {'pass' if verdict.passed else 'FAIL'}  {verdict.criterion}: {verdict.detail}")
    print(f"\noverall: {'PASS' if all(v.passed for v in verdicts) else 'FAIL'}")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak (default 10)")
    parser.add_argument("--warm-up-seconds", type=float, default=60.0, help="first part of the soak not judged")
    parser.add_argument("--rate", type=float, help="requests/s to offer; skips the ramp")
    parser.add_argument("--fraction", type=float, default=0.7, help="share of the measured maximum (default 0.7)")
    parser.add_argument(
        "--ramp", type=lambda s: [int(n) for n in s.split(",")], default=[4, 8, 16, 32], help="connections per step"
    )
    parser.add_argument("--ramp-seconds", type=float, default=20.0, help="length of each ramp step")
    parser.add_argument("--settle-seconds", type=float, default=15.0, help="pause between the ramp and the soak")
    parser.add_argument("--connections", type=int, default=64, help="connections the soak may open at most")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--replicas", type=int, default=1, help="instances of each service (make up REPLICAS=N)")
    parser.add_argument("--out", type=Path, default=Path("docs/perf"), help="folder of the CSV and the chart")
    parser.add_argument("--name", default=f"soak-{datetime.now(UTC):%Y-%m-%d}", help="file name without suffix")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    run = Run(args)
    state = Path(tempfile.mkdtemp(prefix="soak-"))
    print(f"state and logs of the system: {state}/system", flush=True)
    extra = {
        "EVENTLEDGER_GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
        "EVENTLEDGER_GATEWAY_RATE_LIMIT_BURST": "1000000",
    }
    began = datetime.now(UTC)
    loads = [os.getloadavg()]
    try:
        with running_system(state, replicas=args.replicas, extra_env=extra) as running:
            asyncio.run(drive(running, run))
            loads.append(os.getloadavg())
    finally:
        if run.rows:
            args.out.mkdir(parents=True, exist_ok=True)
            verdicts = judge(run)
            load1 = [row["load1"] for row in run.rows if row["phase"] == "soak"] or [0.0]
            load = (
                f"2 cores; load average (1 min) during the soak {min(load1):.1f}-{max(load1):.1f}, "
                f"median {statistics.median(load1):.1f}; before the start {loads[0][0]:.1f}"
            )
            write_csv(run.rows, args.out / f"{args.name}.csv")
            rate = f"{run.rate:.0f}/s" if run.rate else "?"
            maximum = f" = {args.fraction:.0%} of a measured {run.maximum:.0f}/s" if run.maximum else ""
            title = (
                f"EventLedger soak {began:%Y-%m-%d %H:%M} UTC: mixed load through the gateway at {rate}{maximum}, "
                f"{args.minutes:g} min; {'PASS' if all(v.passed for v in verdicts) else 'FAIL'}\n{load}"
            )
            draw(run, args.out / f"{args.name}.png", title)
            summarise(run, verdicts, load)
            print(f"\nwrote {args.out / args.name}.csv and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
