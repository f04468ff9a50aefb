"""Shared plumbing for benchmarks: alternated rounds, medians, ratios (:func:`compare` does it all), a scratch
database."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from tests.support.processes import scratch_database

__all__ = [
    "alternate",
    "child_server",
    "compare",
    "cpu_seconds",
    "http_exchange",
    "keep_alive_rate",
    "post_request",
    "report",
    "scratch_database",
    "timed_rate",
]


def timed_rate(work: Callable[[], int]) -> float:
    """Run ``work`` (which returns how many operations it did) and answer operations per second."""
    began = time.perf_counter()
    count = work()
    return count / (time.perf_counter() - began)


def alternate(rounds: int, contenders: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each contender once per round, in turn, so that drift on the machine hits them alike."""
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for round_number in range(rounds):
        for name, run in contenders.items():
            rate = run()
            results[name].append(rate)
            print(f"  round {round_number + 1}: {name:<34} {rate:12,.0f} /s", flush=True)
    return results


Ratio = tuple[str, str, float | None] | tuple[str, str, float, str]
"""(numerator, denominator, target[, "≥" or "≤"]); a target of None prints the ratio without a verdict."""


def report(title: str, results: dict[str, list[float]], ratios: Sequence[Ratio]) -> None:
    """Print medians and the ratios PRODUCT.md §6 asks for (see :data:`Ratio`)."""
    print(f"\n{title}")
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    for name, median in medians.items():
        print(f"  median {name:<34} {median:12,.0f} /s")
    for numerator, denominator, target, *direction in ratios:
        ratio = medians[numerator] / medians[denominator]
        if target is None:
            print(f"  ratio {numerator} / {denominator} = {ratio:.2f}")
            continue
        at_most = direction == ["≤"]
        verdict = "meets" if (ratio <= target if at_most else ratio >= target) else "MISSES"
        print(
            f"  ratio {numerator} / {denominator} = {ratio:.2f} ({verdict} target {'≤' if at_most else '≥'} {target})"
        )


def compare(title: str, rounds: int, contenders: dict[str, Callable[[], float]], ratios: Sequence[Ratio]) -> None:
    """The contenders run in alternated rounds (:func:`alternate`), then their medians and ratios (:func:`report`)."""
    report(title, alternate(rounds, contenders), ratios)


@contextmanager
def child_server(args: list[str], env: dict[str, str], log: Path, health_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m <args>`` as a child process, until it leaves the block; ready once ``health_url`` answers."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *args], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not _answers(health_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far, from ``/proc`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def http_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one prepared HTTP/1.1 request on a keep-alive connection; answer the status (the body is read)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _keep_alive_connection(port: int, request: bytes, expected: int, deadline: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    try:
        while time.perf_counter() < deadline:
            status = await http_exchange(reader, writer, request)
            if status != expected:
                raise RuntimeError(f"expected {expected}, got {status}")
            done += 1
    finally:
        writer.close()
    return done


def keep_alive_rate(port: int, requests: list[bytes], expected: int, seconds: float) -> float:
    """One keep-alive connection per prepared request, each sending it again as soon as it is answered (closed loop)
    for ``seconds``; answers requests per second. Any status but ``expected`` stops the run."""

    async def load() -> int:
        deadline = time.perf_counter() + seconds
        counts = await asyncio.gather(*(_keep_alive_connection(port, r, expected, deadline) for r in requests))
        return sum(counts)

    began = time.perf_counter()
    done = asyncio.run(load())
    return done / (time.perf_counter() - began)


def post_request(path: str, body: dict[str, object], token: str) -> bytes:
    """A prepared HTTP/1.1 POST of a JSON body with a bearer token."""
    content = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
    )
    return head.encode() + content
