"""Real-server plumbing for the stream job's tests: the faust worker as a child process (killable), the figures
it must reach computed from the event store, and readers of its Redis keys and of the derived topic."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import redis
from confluent_kafka import KafkaException

from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_command.eventstore.records import RecordedEvent
from eventledger_events import TransferPendingPosted, TransferPosted
from tests.support.kafka_groups import reader
from tests.support.processes import ManagedProcess

Windows = dict[tuple[str, int, str], tuple[int, int]]
"""``(window, start, currency) -> (transfers, volume)``."""


class StreamWorker(ManagedProcess):
    """``python -m eventledger_projections run windows`` as a child process."""

    def __init__(self, env: dict[str, str], log_dir: Path, ops_port: int) -> None:
        super().__init__("eventledger_projections", env, log_dir)
        self.log_path = log_dir / "stream-worker.log"
        self.ops_port = ops_port

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed when it exits
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "run", "windows"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def metric(self, name: str) -> float:
        """The sum of a Prometheus counter's samples on the worker's /metrics (0 when absent)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ops_port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def worker_env(namespace: str, data_dir: Path, ops_port: int, database: str) -> dict[str, str]:
    """The stream job's variables; ``namespace`` is the topic prefix of its namespace (which also names its app id
    and Redis key base)."""
    return {
        "EVENTLEDGER_PG_DATABASE": database,
        "EVENTLEDGER_NAMESPACE": namespace.removesuffix("."),
        "EVENTLEDGER_STATE_DIR": str(data_dir),  # faust's folder is its streaming/
        "EVENTLEDGER_STREAMING_OPS_PORT": str(ops_port),
        "EVENTLEDGER_KAFKA_SESSION_TIMEOUT_SECONDS": "6",
    }


def expected_windows(events: list[RecordedEvent]) -> Windows:
    """Every posting, counted by hand in its minute and in the five hopping windows that contain it."""
    found: Windows = {}
    for event in events:
        envelope = to_envelope(event)
        payload = envelope.payload
        if not isinstance(payload, TransferPosted | TransferPendingPosted):
            continue
        assert envelope.recorded_at is not None
        minute = int(envelope.recorded_at.timestamp()) // 60 * 60
        cells = [("tumbling-1m", minute)] + [("hopping-5m-1m", minute - 60 * k) for k in range(5)]
        for window, start in cells:
            n, v = found.get((window, start, payload.currency), (0, 0))
            found[(window, start, payload.currency)] = (n + 1, v + payload.amount)
    return found


def redis_windows(client: redis.Redis, base: str) -> Windows:
    found: Windows = {}
    for key in client.scan_iter(match=f"{base}:stream:w:*", count=1000):
        row: dict[str, str] = client.hgetall(key)  # type: ignore[assignment]
        found[(row["window"], int(row["start"]), row["currency"])] = (int(row["transfers"]), int(row["volume"]))
    return found


class DerivedTopicReader:
    """Reads the derived topic from its beginning and keeps, per key, the message of the highest revision."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = reader(bootstrap, [topic], f"derived-reader-{uuid.uuid4()}")
        self.latest: dict[str, dict[str, object]] = {}
        self.messages = 0

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            self.messages += 1
            value = json.loads(message.value() or b"{}")
            key = bytes(message.key() or b"").decode()
            if key not in self.latest or int(value["revision"]) > int(self.latest[key]["revision"]):  # type: ignore[call-overload]
                self.latest[key] = value

    def windows(self) -> Windows:
        from datetime import datetime

        return {
            (str(v["window"]), int(datetime.fromisoformat(str(v["window_start"])).timestamp()), str(v["currency"])): (
                int(v["transfers"]),  # type: ignore[call-overload]
                int(v["volume"]),  # type: ignore[call-overload]
            )
            for v in self.latest.values()
        }

    def close(self) -> None:
        self._consumer.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, explain: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: {explain()}")


def difference(expected: Windows, actual: Windows) -> str:
    wrong = sorted(
        (k, expected.get(k), actual.get(k)) for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k)
    )
    return f"{len(wrong)} windows differ, first: {wrong[:3]}" if wrong else "no difference"


def delete_namespace_topics(bootstrap: str, namespace: str) -> None:
    """Every topic of the namespace: the ledger's, the derived topic and any internal topic faust created for the
    test's app."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(namespace)]
    if topics:
        for future in admin.delete_topics(topics).values():
            try:
                future.result(timeout=30)
            except Exception as error:
                print(f"could not delete a topic: {error}")
