"""Several relay processes on one event store and namespace (ADR 0016): start them, find the leader by its
``/status``, kill it, and read back who published what under which term."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.relay.relay import TERM_HEADER
from eventledger_events import ALL_TOPICS
from eventledger_infra.settings import Settings
from eventledger_runtime.eventlog import RELAY_CHECKPOINT
from tests.support.kafka_checker import Delivered
from tests.support.processes import ManagedProcess, free_port, scratch_database
from tests.support.projection_rig import delete_topics


@dataclass
class RelayInstance:
    process: ManagedProcess
    ops_port: int

    def status(self) -> dict[str, object] | None:
        """The relay's ``/status``, or None while it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ops_port}/status", timeout=1) as answer:
                found: dict[str, object] = json.loads(answer.read())
                return found
        except OSError:
            return None


class RelayCluster:
    """``size`` relay processes publishing the event store of ``database`` into ``namespace``."""

    def __init__(
        self,
        size: int,
        *,
        database: str,
        kafka_port: int,
        namespace: str,
        log_dir: Path,
        batch_size: int = 200,
        standby_poll_seconds: float = 0.2,
    ) -> None:
        self.instances: list[RelayInstance] = []
        for index in range(size):
            port = free_port()
            folder = log_dir / f"relay-{index}"
            folder.mkdir(parents=True, exist_ok=True)
            env = {
                "EVENTLEDGER_PG_DATABASE": database,
                "EVENTLEDGER_KAFKA_PORT": str(kafka_port),
                "EVENTLEDGER_NAMESPACE": namespace,
                "EVENTLEDGER_RELAY_OPS_PORT": str(port),
                "EVENTLEDGER_RELAY_BATCH_SIZE": str(batch_size),
                "EVENTLEDGER_RELAY_STANDBY_POLL_SECONDS": str(standby_poll_seconds),
            }
            self.instances.append(RelayInstance(ManagedProcess("eventledger_command.relay", env, folder), port))

    def start(self) -> None:
        for instance in self.instances:
            instance.process.start()

    def roles(self) -> list[str | None]:
        """Each live instance's role (``leader``/``standby``), None for one that is dead or not answering yet."""
        out: list[str | None] = []
        for instance in self.instances:
            status = instance.status() if instance.process.alive() else None
            out.append(str(status["role"]) if status else None)
        return out

    def leader(self) -> RelayInstance | None:
        leaders = [i for i, role in zip(self.instances, self.roles(), strict=True) if role == "leader"]
        assert len(leaders) <= 1, f"two relays say they lead: {self.roles()}"
        return leaders[0] if leaders else None

    def stop(self) -> None:
        for instance in self.instances:
            instance.process.kill()

    def log_tails(self) -> str:
        return "\n".join(f"--- relay {n}\n{instance.process.log_tail()}" for n, instance in enumerate(self.instances))


def positions_by_term(delivered: list[Delivered]) -> dict[int, list[int]]:
    """The positions each leader term published, in the order Kafka holds them per partition (concatenated)."""
    by_term: dict[int, list[int]] = {}
    for message in delivered:
        by_term.setdefault(int(message.headers[TERM_HEADER]), []).append(int(message.headers["position"]))
    return by_term


def check_one_publisher_at_a_time(delivered: list[Delivered], batch_size: int) -> dict[str, int]:
    """What a leader change may leave in Kafka, and nothing more:

    - in every partition the terms never go back: no message of an older leader lands after a newer leader's (two
      publishers never ran side by side);
    - a position published under two terms is only in two *consecutive* terms, and each change overlaps by at most
      one batch (the batch the old leader had in hand).
    """
    last_term: dict[tuple[str, int], int] = {}
    for message in delivered:
        term = int(message.headers[TERM_HEADER])
        place = (message.topic, message.partition)
        assert term >= last_term.get(place, 0), f"{place}: term {term} after term {last_term[place]}"
        last_term[place] = term
    terms = positions_by_term(delivered)
    ordered = sorted(terms)
    overlaps: list[int] = []
    for earlier_index, earlier in enumerate(ordered):
        for later in ordered[earlier_index + 1 :]:
            shared = set(terms[earlier]) & set(terms[later])
            if later != ordered[earlier_index + 1]:
                assert not shared, f"terms {earlier} and {later} both published {sorted(shared)[:5]}..."
            else:
                assert len(shared) <= batch_size, f"terms {earlier}->{later} overlap by {len(shared)} positions"
                overlaps.append(len(shared))
    return {"terms": len(ordered), "max_overlap": max(overlaps, default=0)}


@dataclass
class RelayRig:
    """Relay processes over an event store of their own (a scratch database) and topics of their own."""

    settings: Settings
    store: PostgresEventStore
    cluster: RelayCluster
    namespace: str

    @property
    def topics(self) -> list[str]:
        return [f"{self.namespace}.{t}" for t in ALL_TOPICS]

    def checkpoint(self) -> tuple[int, int]:
        """The relay checkpoint's position and term (0, 0 before the first save)."""
        with psycopg.connect(self.settings.postgres_dsn) as conn:
            row = conn.execute(
                "SELECT position, term FROM log_checkpoints WHERE name = %s", [RELAY_CHECKPOINT]
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)


@contextmanager
def relay_rig(size: int, *, name: str, log_dir: Path, batch_size: int) -> Iterator[RelayRig]:
    """``size`` relays (not started) on a scratch database, in the namespace ``<name>-<8 hex>``; stopped, and their
    topics deleted, afterwards."""
    base = Settings.from_env()
    with scratch_database(base) as database:
        settings = dataclasses.replace(base, pg_database=database)
        namespace = f"{name}-{uuid.uuid4().hex[:8]}"
        store = PostgresEventStore(settings.postgres_dsn, pool_size=4)
        cluster = RelayCluster(
            size,
            database=database,
            kafka_port=settings.kafka_port,
            namespace=namespace,
            log_dir=log_dir,
            batch_size=batch_size,
        )
        try:
            yield RelayRig(settings, store, cluster, namespace)
        finally:
            cluster.stop()
            store.close()
            delete_topics(settings.kafka_bootstrap, f"{namespace}.")
