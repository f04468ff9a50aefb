"""Two real processes of one projection in one consumer group, found by the admin view through the instance registry
(ADR 0020): no fixed port (each binds an ephemeral one), disjoint partitions that cover the topics, pause and resume
through the admin path reach both, a SIGKILLed one turns stale after the bound while the survivor takes all its
partitions, and a clean stop deregisters."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.http_service import local_get, serve
from tests.support.processes import wait_for
from tests.support.projection_rig import (
    ProjectorProcess,
    ScratchLedger,
    Workload,
    namespace_of,
    reflected,
)
from tests.support.servers import Endpoints

from eventledger_events import ALL_TOPICS
from eventledger_query.app import create_app
from eventledger_query.services import build
from eventledger_runtime.instances import STALE_AFTER_SECONDS
from eventledger_runtime.settings import QuerySettings

PARTITIONS = 3  # per topic, as ScratchLedger creates them
REBALANCE = 60.0


@pytest.fixture
def ledger(endpoints: Endpoints) -> Iterator[ScratchLedger]:
    with ScratchLedger.created("instances", pool_size=2) as made:
        yield made


@pytest.fixture
def admin(ledger: ScratchLedger) -> Iterator[httpx.Client]:
    """The query service over the scratch ledger, as the gateway's admin routes reach it."""
    readers = build(QuerySettings(namespace=namespace_of(ledger.namespace).value), ledger.settings)
    with serve(create_app(readers)) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def _postgres(admin: httpx.Client) -> dict[str, Any]:
    answer = admin.get("/v1/admin/projections/postgres")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _live(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in status["instances"] if i["state"] != "stale"]


def _partitions(instance: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p["topic"], p["partition"]) for p in instance["partitions"]}


def _metric(address: str, name: str) -> float:
    host, port = address.rsplit(":", 1)
    assert host == "127.0.0.1"
    _, body = local_get(int(port), "/metrics")
    for line in body.splitlines():
        if line.startswith(name + "{") and 'projection="postgres"' in line:
            return float(line.rsplit(" ", 1)[1])
    return float("nan")


def test_two_instances_are_found_share_the_partitions_pause_together_and_a_killed_one_drops_out(
    ledger: ScratchLedger, admin: httpx.Client, tmp_path: Path
) -> None:
    every_partition = {(ledger.namespace + topic, p) for topic in ALL_TOPICS for p in range(PARTITIONS)}
    # An ops port of 0: each instance binds an ephemeral port and registers it.
    first, second = (
        ledger.projector_process("postgres", tmp_path / tag, extra_env={"EVENTLEDGER_PROJECTION_OPS_PORT": "0"})
        for tag in ("first", "second")
    )
    processes: list[ProjectorProcess] = [first, second]
    for process in processes:
        process.log_path.parent.mkdir()
        process.start()
    first_pid, second_pid = (p.process.pid for p in processes if p.process is not None)

    def logs() -> str:
        return "\n".join(p.log_tail(15) for p in processes)

    try:
        workload = Workload(ledger.store, seed=20)
        with ledger.relay():
            workload.run(60)

            def shared() -> bool:
                live = _live(_postgres(admin))
                if len(live) != 2 or any(i["state"] != "running" for i in live):
                    return False
                mine, theirs = (_partitions(i) for i in live)
                return bool(mine) and bool(theirs) and not mine & theirs and mine | theirs == every_partition

            wait_for(shared, REBALANCE, f"two instances sharing every partition: {_postgres(admin)}\n{logs()}")
            status = _postgres(admin)
            pids = {i["pid"] for i in status["instances"]}
            assert pids == {first_pid, second_pid}
            addresses = [i["address"] for i in status["instances"]]
            assert len(set(addresses)) == 2, "each its own port"
            head = ledger.store.head_position()
            wait_for(lambda: reflected(ledger.dsn) >= head, 60, f"the catch-up:\n{logs()}")

            paused = admin.post("/v1/admin/projections/postgres/pause")
            assert paused.status_code == 200, paused.text
            assert paused.json()["state"] == "paused"
            assert [i["state"] for i in paused.json()["instances"]] == ["paused", "paused"]
            for address in addresses:
                wait_for(lambda a=address: _metric(a, "eventledger_projection_paused") == 1, 10, f"{address} paused")
            before = reflected(ledger.dsn)
            workload.run(20)
            wait_for(
                lambda: sum(i["lag_events"] for i in _live(_postgres(admin))) > 0,
                30,
                "events waiting in the paused instances' partitions",
            )
            assert reflected(ledger.dsn) == before, "neither instance applies while paused"
            resumed = admin.post("/v1/admin/projections/postgres/resume")
            assert resumed.status_code == 200, resumed.text
            assert resumed.json()["state"] == "running"
            head = ledger.store.head_position()
            wait_for(lambda: reflected(ledger.dsn) >= head, 60, f"the catch-up after the resume:\n{logs()}")

            victim = next(i for i in status["instances"] if i["pid"] == first_pid)
            first.kill()
            workload.run(20)

            def survivor_holds_all() -> bool:
                now = _postgres(admin)
                states = {i["instance_id"]: i["state"] for i in now["instances"]}
                live = _live(now)
                return (
                    states.get(victim["instance_id"]) == "stale"
                    and len(live) == 1
                    and live[0]["pid"] == second_pid
                    and _partitions(live[0]) == every_partition
                    and now["state"] == "running"
                )

            wait_for(survivor_holds_all, REBALANCE, f"the survivor alone: {_postgres(admin)}\n{logs()}")
            gone = next(i for i in _postgres(admin)["instances"] if i["instance_id"] == victim["instance_id"])
            assert gone["heartbeat_age_seconds"] > STALE_AFTER_SECONDS
            head = ledger.store.head_position()
            wait_for(lambda: reflected(ledger.dsn) >= head, 60, f"the survivor's catch-up:\n{logs()}")

        second.signal(signal.SIGTERM)
        assert second.process is not None
        assert second.process.wait(20) == 0, second.log_tail()
        remaining = _postgres(admin)
        assert [i["instance_id"] for i in remaining["instances"]] == [victim["instance_id"]], "a clean stop deregisters"
        assert remaining["state"] == "unreachable"
    finally:
        for process in processes:
            process.kill()
