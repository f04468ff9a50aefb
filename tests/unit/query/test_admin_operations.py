"""The admin view over the instance registry (ADR 0020): each projection's summary from its read model and its live
instances, every instance listed with its partitions and heartbeat age, pause and resume sent to every live
instance and answered once their heartbeats show it; no port is fixed anywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from eventledger_query.admin import PARTLY_PAUSED, UNREACHABLE, Operations
from eventledger_query.api import problems
from eventledger_query.api.admin_routes import router
from eventledger_runtime.eventlog import InMemoryEventLog
from eventledger_runtime.instances import (
    PAUSED,
    RUNNING,
    STALE,
    STALLED,
    Heartbeat,
    InMemoryInstanceRegistry,
    PartitionProgress,
    Registration,
)

ACCOUNTS, TRANSFERS = "eventledger.accounts.v1", "eventledger.transfers.v1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """An in-memory registry on a hand-moved clock, a log of 10 events, read models at chosen positions, and the
    instances' ops endpoints behind a mock transport that obeys (or not) and beats like a real instance."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.registry = InMemoryInstanceRegistry(stale_after=5, forgotten_after=600, clock=self.clock)
        self.log = InMemoryEventLog()
        for n in range(10):
            self.log.append(f"account-{n}", 1, "account.opened", "{}")
        self.reflected = {"postgres": 10, "redis": 7, "elasticsearch": 10}
        self.heartbeats: dict[str, tuple[Registration, Heartbeat]] = {}
        self.deaf: set[str] = set()
        self.posts: list[str] = []
        self.late = False
        """True: an instance beats its new state only while the admin waits (the heartbeat thread runs later)."""
        self.waits = 0
        self.operations = Operations(
            registry=self.registry,
            event_log=self.log,
            positions={name: self._position(name) for name in self.reflected},
            http=httpx.Client(transport=httpx.MockTransport(self._ops)),
            sleep=self._wait,
        )

    def _wait(self, _: float) -> None:
        self.waits += 1
        for beat in self.heartbeats.values():
            self.registry.beat(*beat)

    def _position(self, name: str) -> Callable[[], int]:
        def position() -> int:
            value = self.reflected[name]
            if value < 0:
                raise ConnectionError("store down")
            return value

        return position

    def start(self, instance_id: str, projection: str, port: int, *partitions: tuple[str, int], **said: object) -> None:
        registration = Registration(instance_id, projection, "10.0.0.7", port, 100 + port, datetime.now(UTC))
        progress = tuple(PartitionProgress(t, p, 4, 1) for t, p in partitions)
        heartbeat = Heartbeat(partitions=progress, lag_events=len(progress), **said)  # type: ignore[arg-type]
        self.heartbeats[f"10.0.0.7:{port}"] = (registration, heartbeat)
        self.registry.beat(registration, heartbeat)

    def _ops(self, request: httpx.Request) -> httpx.Response:
        address = f"{request.url.host}:{request.url.port}"
        self.posts.append(f"{address}{request.url.path}")
        if address in self.deaf:
            raise httpx.ConnectError("connection refused", request=request)
        registration, heartbeat = self.heartbeats[address]
        state = PAUSED if request.url.path == "/pause" else RUNNING
        self.heartbeats[address] = (registration, Heartbeat(state, heartbeat.position, partitions=heartbeat.partitions))
        if not self.late:
            self.registry.beat(*self.heartbeats[address])
        return httpx.Response(200, json={"done": request.url.path.lstrip("/")})

    def client(self) -> TestClient:
        app = FastAPI()
        app.include_router(router)
        app.state.operations = self.operations
        problems.install(app)
        return TestClient(app)


def test_a_projection_lists_its_instances_with_partitions_and_keeps_its_summary() -> None:
    rig = Rig()
    rig.start("postgres-a", "postgres", 40001, (ACCOUNTS, 0), (TRANSFERS, 0), position=10)
    rig.start("postgres-b", "postgres", 40002, (ACCOUNTS, 1), (TRANSFERS, 1), position=9)
    rig.clock.now += 1.5
    status = rig.operations.status("postgres")
    summary = ("projection", "head_position", "position", "lag_events", "lag_seconds", "state")
    assert {k: status[k] for k in summary} == {
        "projection": "postgres",
        "head_position": 10,
        "position": 10,
        "lag_events": 0,
        "lag_seconds": 0.0,
        "state": RUNNING,
    }
    first, second = status["instances"]
    assert first == {
        "instance_id": "postgres-a",
        "address": "10.0.0.7:40001",
        "pid": 40101,
        "started_at": first["started_at"],
        "state": RUNNING,
        "position": 10,
        "lag_events": 2,
        "lag_seconds": 0.0,
        "heartbeat_age_seconds": 1.5,
        "partitions": [
            {"topic": ACCOUNTS, "partition": 0, "offset": 4, "lag": 1},
            {"topic": TRANSFERS, "partition": 0, "offset": 4, "lag": 1},
        ],
    }
    assert (second["instance_id"], second["address"]) == ("postgres-b", "10.0.0.7:40002")


def test_the_summary_lag_comes_from_the_read_model_and_the_head() -> None:
    rig = Rig()
    rig.start("redis-a", "redis", 40011, position=7)
    status = rig.operations.status("redis")
    assert (status["position"], status["lag_events"], status["state"]) == (7, 3, RUNNING)
    assert status["lag_seconds"] >= 0


def test_without_a_live_instance_a_projection_is_unreachable_and_a_dead_one_is_listed_stale() -> None:
    rig = Rig()
    assert rig.operations.status("elasticsearch")["state"] == UNREACHABLE
    assert rig.operations.status("elasticsearch")["instances"] == []
    rig.start("postgres-dead", "postgres", 40001, (ACCOUNTS, 0), position=10)
    rig.clock.now += 5.5
    rig.start("postgres-alive", "postgres", 40002, (ACCOUNTS, 0), (ACCOUNTS, 1), position=10)
    status = rig.operations.status("postgres")
    assert status["state"] == RUNNING, "a stale instance does not count"
    assert [(i["instance_id"], i["state"]) for i in status["instances"]] == [
        ("postgres-dead", STALE),
        ("postgres-alive", RUNNING),
    ]
    rig.clock.now += 5.5
    status = rig.operations.status("postgres")
    assert status["state"] == UNREACHABLE
    assert status["position"] == 10, "the read model still answers its position"


def test_when_the_store_does_not_answer_the_position_is_the_highest_a_live_instance_reported() -> None:
    rig = Rig()
    rig.reflected["elasticsearch"] = -1
    assert rig.operations.status("elasticsearch")["position"] is None
    rig.start("es-a", "elasticsearch", 40021, position=6)
    rig.start("es-b", "elasticsearch", 40022, position=8)
    status = rig.operations.status("elasticsearch")
    assert (status["position"], status["lag_events"]) == (8, 2)


def test_the_state_is_stalled_with_its_reason_if_any_instance_is_and_partly_paused_when_some_are() -> None:
    rig = Rig()
    rig.start("postgres-a", "postgres", 40001)
    rig.start("postgres-b", "postgres", 40002, state=PAUSED)
    assert rig.operations.status("postgres")["state"] == PARTLY_PAUSED
    rig.start("postgres-c", "postgres", 40003, state=STALLED, reason="not moving for 30 s")
    status = rig.operations.status("postgres")
    assert (status["state"], status["reason"]) == (STALLED, "not moving for 30 s")
    assert status["instances"][2]["reason"] == "not moving for 30 s"


def test_pause_and_resume_reach_every_live_instance_and_answer_the_new_state() -> None:
    rig = Rig()
    rig.start("postgres-a", "postgres", 40001)
    rig.start("postgres-b", "postgres", 40002)
    rig.start("postgres-old", "postgres", 40003)
    rig.clock.now += 6
    rig.start("postgres-a", "postgres", 40001)
    rig.start("postgres-b", "postgres", 40002)
    rig.start("redis-a", "redis", 40011)
    with rig.client() as client:
        paused = client.post("/v1/admin/projections/postgres/pause")
        assert paused.status_code == 200, paused.text
        assert paused.json()["state"] == PAUSED
        assert sorted(rig.posts) == ["10.0.0.7:40001/pause", "10.0.0.7:40002/pause"], "the stale one is not asked"
        assert [i["state"] for i in paused.json()["instances"]] == [STALE, PAUSED, PAUSED]
        assert client.get("/v1/admin/projections/redis").json()["state"] == RUNNING, "other projections untouched"
        resumed = client.post("/v1/admin/projections/postgres/resume")
        assert (resumed.status_code, resumed.json()["state"]) == (200, RUNNING)
        listed = client.get("/v1/admin/projections").json()["items"]
        assert [item["projection"] for item in listed] == ["elasticsearch", "postgres", "redis"]
        assert client.get("/v1/admin/projections/nonesuch").status_code == 404


def test_an_instance_that_does_not_answer_makes_the_action_a_503_naming_it() -> None:
    rig = Rig()
    rig.start("postgres-a", "postgres", 40001)
    rig.start("postgres-b", "postgres", 40002)
    rig.deaf.add("10.0.0.7:40002")
    with rig.client() as client:
        answer = client.post("/v1/admin/projections/postgres/pause")
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert "instances postgres-b did not answer (pause reached: postgres-a)" in answer.json()["detail"]
        assert client.get("/v1/admin/projections/postgres").json()["state"] == PARTLY_PAUSED
        nobody = client.post("/v1/admin/projections/elasticsearch/pause")
        assert nobody.status_code == 503
        assert "no live elasticsearch projector" in nobody.json()["detail"]


def test_pause_answers_only_once_every_instance_reached_beat_its_new_state() -> None:
    rig = Rig()
    rig.start("postgres-a", "postgres", 40001)
    rig.start("postgres-b", "postgres", 40002)
    rig.late = True
    with rig.client() as client:
        paused = client.post("/v1/admin/projections/postgres/pause")
    assert paused.json()["state"] == PAUSED
    assert rig.waits >= 1, "the answer waited for the heartbeats"
