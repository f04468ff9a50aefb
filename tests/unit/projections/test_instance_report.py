"""What a projector instance says of itself in the instance registry: its assigned partitions with their offsets and
lag, the position its read model reflects, its state; and that pause and resume show at once (ADR 0020)."""

from __future__ import annotations

import threading

from tests.support.projection_fakes import InMemoryBalances, Ledger

from eventledger_events import ALL_TOPICS
from eventledger_projections.bootstrap import Projector, instance_actions, instance_report
from eventledger_projections.runtime.memory import InMemoryBroker, InMemoryDeadLetters, InMemoryEventLog
from eventledger_projections.runtime.runner import ProjectionRunner, RunnerConfig
from eventledger_runtime.instances import (
    PAUSED,
    RUNNING,
    STALLED,
    Heartbeat,
    HeartbeatLoop,
    InMemoryInstanceRegistry,
    Registration,
    registration_for,
)

FAST = RunnerConfig(batch_size=40, max_attempts=3, backoff_initial=0.0005, backoff_max=0.001, progress_interval=0)


def _projector() -> tuple[Projector, Ledger, InMemoryEventLog]:
    broker = InMemoryBroker(partitions=3)
    for topic in ALL_TOPICS:
        broker.create_topic(topic)
    ledger = Ledger(broker)
    projection = InMemoryBalances()
    event_log = InMemoryEventLog(broker, "group")
    runner = ProjectionRunner(projection, event_log, InMemoryDeadLetters(broker), lambda: ledger.position, FAST)
    return Projector("balances", projection, runner, lambda: ledger.position), ledger, event_log


def _drain(runner: ProjectionRunner) -> None:
    for _ in range(1000):
        if runner.run_once() == 0:
            return
    raise AssertionError("the runner never drained the log")


def test_the_report_names_every_assigned_partition_with_its_offset_and_lag_and_the_reflected_position() -> None:
    projector, ledger, _ = _projector()
    accounts = [ledger.open() for _ in range(6)]
    _drain(projector.runner)
    report = instance_report(projector, lambda: None)()
    assert report.state == RUNNING
    assert report.position == ledger.position > 0
    assert (report.lag_events, report.lag_seconds) == (0, 0)
    assert [(p.topic, p.partition) for p in report.partitions] == [(t, p) for t in sorted(ALL_TOPICS) for p in range(3)]
    assert sum(p.offset or 0 for p in report.partitions) == len(accounts)
    assert all(p.lag == 0 for p in report.partitions)

    projector.runner.pause()
    for account in accounts:
        ledger.credit(account, 5, 5)
    projector.runner.run_once()
    projector.runner.refresh_progress()
    paused = instance_report(projector, lambda: None)()
    assert paused.state == PAUSED
    assert paused.lag_events == len(accounts) == sum(p.lag or 0 for p in paused.partitions)
    assert paused.position < ledger.position


def test_a_stalled_instance_says_so_with_its_reason() -> None:
    projector, _, _ = _projector()
    projector.runner.pause()
    report = instance_report(projector, lambda: "behind its head and not moving for 30 s")()
    assert (report.state, report.reason) == (STALLED, "behind its head and not moving for 30 s")


def test_revoked_partitions_leave_the_report_at_once() -> None:
    projector, ledger, event_log = _projector()
    ledger.open()
    _drain(projector.runner)
    assert projector.runner.assigned
    event_log.rebalance()
    assert instance_report(projector, lambda: None)().partitions == ()
    _drain(projector.runner)
    assert len(instance_report(projector, lambda: None)().partitions) == 3 * len(ALL_TOPICS)


def test_pause_and_resume_beat_at_once_and_a_clean_stop_deregisters() -> None:
    projector, _, _ = _projector()
    beaten = threading.Event()

    class Watched(InMemoryInstanceRegistry):
        def beat(self, registration: Registration, heartbeat: Heartbeat) -> None:
            super().beat(registration, heartbeat)
            beaten.set()

    registry = Watched()
    heartbeat = HeartbeatLoop(registry, instance_report(projector, lambda: None), interval=3600)
    actions = instance_actions(projector, heartbeat)
    heartbeat.start(registration_for("balances", "127.0.0.1", 40001))
    try:
        assert beaten.wait(5), "the first beat registers the instance"
        (record,) = registry.instances("balances")
        assert (record.registration.address, record.heartbeat.state) == ("127.0.0.1:40001", RUNNING)
        beaten.clear()
        actions["pause"]()
        assert beaten.wait(5), "a pause beats at once, not after the interval"
        assert registry.instances("balances")[0].heartbeat.state == PAUSED
        beaten.clear()
        actions["resume"]()
        assert beaten.wait(5)
        assert registry.instances("balances")[0].heartbeat.state == RUNNING
    finally:
        heartbeat.close()
    assert registry.instances() == []


def test_an_instance_registers_the_port_it_bound_and_a_name_for_a_wildcard_host() -> None:
    registration = registration_for("postgres", "127.0.0.1", 51234)
    assert (registration.host, registration.port, registration.projection) == ("127.0.0.1", 51234, "postgres")
    assert registration.instance_id.startswith("postgres-")
    assert registration_for("postgres", "127.0.0.1", 51234).instance_id != registration.instance_id
    assert registration_for("postgres", "0.0.0.0", 51234).host not in ("0.0.0.0", "")
    try:
        registration_for("postgres", "127.0.0.1", 0)
    except ValueError:
        pass
    else:
        raise AssertionError("port 0 is what was asked for, not what was bound")
