"""Relay failover (issue 10, ADR 0016): SIGKILL the leading relay under a continuous append load and time until a
relay publishes again, in alternated rounds against the baseline of one relay restarted at once (what a supervisor
does when there is no standby).

"Publishes again" is read from the checkpoint row: a new term whose position moved past where the killed leader
left it, i.e. the broker acknowledged a batch of the new leader. Both contenders are timed the same way.

Run with the servers up: ``.venv/bin/python -m bench.bench_relay_failover``.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from tests.support.processes import wait_for
from tests.support.projection_rig import delete_topics
from tests.support.relay_cluster import RelayCluster, RelayInstance
from tests.support.relay_load import Load

from bench._common import scratch_database
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_infra.settings import Settings
from eventledger_runtime.eventlog import RELAY_CHECKPOINT
from eventledger_runtime.settings import RelaySettings

ROUNDS = 10
POLL_SECONDS = RelaySettings().standby_poll_seconds  # the default a deployment runs with
STANDBY = f"hot standby takes over (poll {POLL_SECONDS} s)"
RESTART = "one relay restarted at once"


def checkpoint(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT position, term FROM log_checkpoints WHERE name = %s", [RELAY_CHECKPOINT]).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def until_published_again(dsn: str, term: int, position: int, since: float) -> float:
    while True:
        now_position, now_term = checkpoint(dsn)
        if now_term > term and now_position > position:
            return time.monotonic() - since
        if time.monotonic() - since > 60:
            raise TimeoutError("no relay published within 60 s")
        time.sleep(0.005)


def standby_ready(instance: RelayInstance) -> bool:
    status = instance.status()
    return status is not None and status.get("role") == "standby"


def leader_of(cluster: RelayCluster) -> RelayInstance:
    wait_for(lambda: cluster.leader() is not None, 60, "a leader")
    leader = cluster.leader()
    assert leader is not None
    return leader


def takeover(cluster: RelayCluster, dsn: str) -> float:
    """Both relays run; kill the leader; time the standby; start the killed one again as the next standby."""
    leader = leader_of(cluster)
    for instance in cluster.instances:
        if instance is not leader:
            wait_for(lambda i=instance: standby_ready(i), 60, "the standby")
    settle()
    position, term = checkpoint(dsn)
    leader.process.kill()
    elapsed = until_published_again(dsn, term, position, time.monotonic())
    leader.process.start()
    return elapsed


def restart(cluster: RelayCluster, dsn: str) -> float:
    """No standby: kill the only relay and start it again at once, as a supervisor would."""
    leader = leader_of(cluster)
    for instance in cluster.instances:
        if instance is not leader:
            instance.process.kill()
    settle()
    position, term = checkpoint(dsn)
    leader.process.kill()
    killed = time.monotonic()
    leader.process.start()
    elapsed = until_published_again(dsn, term, position, killed)
    for instance in cluster.instances:
        if instance is not leader:
            instance.process.start()
    return elapsed


def settle() -> None:
    """A random pause before the kill: a fixed one would lock the kill to the standby's poll phase (the first version
    slept 0.5 s, the poll interval, and every takeover took the same 350 ms)."""
    time.sleep(random.uniform(0.5, 1.5))


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    base = Settings.from_env()
    namespace = f"bench-failover-{uuid.uuid4().hex[:6]}"
    results: dict[str, list[float]] = {STANDBY: [], RESTART: []}
    try:
        with scratch_database(base) as database, tempfile.TemporaryDirectory() as logs:
            dsn = dataclasses.replace(base, pg_database=database).postgres_dsn
            store = PostgresEventStore(dsn, pool_size=4)
            cluster = RelayCluster(
                2,
                database=database,
                kafka_port=base.kafka_port,
                namespace=namespace,
                log_dir=Path(logs),
                standby_poll_seconds=POLL_SECONDS,
            )
            cluster.start()
            try:
                with Load(store, max_seconds=3600) as load:
                    print(f"relay failover: {ROUNDS} alternated rounds under a continuous append load")
                    for round_number in range(ROUNDS):
                        for name, run in ((STANDBY, takeover), (RESTART, restart)):
                            seconds = run(cluster, dsn)
                            results[name].append(seconds)
                            print(f"  round {round_number + 1}: {name:<36} {seconds * 1000:8.0f} ms", flush=True)
                assert not load.errors, load.errors
                print(f"  appended under load: {load.appended} events")
            finally:
                cluster.stop()
                store.close()
    finally:
        delete_topics(base.kafka_bootstrap, f"{namespace}.")
    print("\nrelay failover: SIGKILL of the leader → a relay publishes again")
    for name, samples in results.items():
        print(f"  {name:<36} median {statistics.median(samples) * 1000:6.0f} ms   p95 {p95(samples) * 1000:6.0f} ms")
    ratio = statistics.median(results[STANDBY]) / statistics.median(results[RESTART])
    print(f"  ratio standby / restart (medians) = {ratio:.2f}")


if __name__ == "__main__":
    main()
