"""The stall rule and the watchdog that acts on it (issue 17: no silent stall)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from eventledger_runtime.ops_http import serve_ops
from eventledger_runtime.settings import WatchdogSettings
from eventledger_runtime.watchdog import EXIT_STALLED, Sample, StallDetector, Watchdog


def test_a_worker_behind_and_not_moving_is_stalled_after_the_configured_time() -> None:
    detector = StallDetector(stall_seconds=30)
    assert detector.observe(0, Sample(head=100, position=40)).state == "running"
    assert detector.observe(29, Sample(head=120, position=40)).state == "running"
    verdict = detector.observe(30, Sample(head=130, position=40))
    assert verdict.stalled
    assert "90 behind (position 40, head 130)" in verdict.reason


def test_moving_resets_the_clock() -> None:
    detector = StallDetector(stall_seconds=30)
    detector.observe(0, Sample(head=100, position=40))
    detector.observe(25, Sample(head=100, position=41))
    assert detector.observe(50, Sample(head=100, position=41)).state == "running"
    assert detector.observe(55, Sample(head=100, position=41)).stalled


def test_a_long_replay_whose_own_partitions_move_is_catching_up_not_stalled() -> None:
    """A projector replaying from zero: its reflected position (a minimum over every partition) holds still while
    one partition waits, but the offsets of its own partitions move and they are behind their high watermarks."""
    detector = StallDetector(stall_seconds=30)
    for second in range(0, 100, 5):
        sample = Sample(head=60_000, position=0, applied=second * 100, backlog=True)
        assert detector.observe(second, sample).state == "running"
    assert detector.observe(130, Sample(head=60_000, position=0, applied=9_500, backlog=True)).stalled


def test_work_done_without_a_backlog_does_not_excuse_a_frozen_position() -> None:
    """Issue 17's class: new events applied as they come (no backlog of its own), the reflected position frozen."""
    detector = StallDetector(stall_seconds=30)
    for second in range(0, 30, 5):
        detector.observe(second, Sample(head=100 + second, position=40, applied=second, backlog=False))
    assert detector.observe(30, Sample(head=130, position=40, applied=30, backlog=False)).stalled


@pytest.mark.parametrize(
    "sample",
    [Sample(head=100, position=100), Sample(head=90, position=100), Sample(head=100, position=40, paused=True)],
    ids=["caught-up", "ahead-of-a-stale-head", "paused"],
)
def test_caught_up_or_paused_is_never_stalled(sample: Sample) -> None:
    detector = StallDetector(stall_seconds=1)
    for now in range(10):
        verdict = detector.observe(now, sample)
    assert not verdict.stalled
    assert verdict.state == ("paused" if sample.paused else "running")


def test_a_sample_that_cannot_be_taken_is_no_evidence_and_restarts_the_clock() -> None:
    """A store that is down is what /readyz reports; the stall clock starts again when it answers."""
    detector = StallDetector(stall_seconds=30)
    detector.observe(0, Sample(head=100, position=40))
    assert detector.observe(20, None).state == "unknown"
    assert detector.observe(40, Sample(head=100, position=40)).state == "running"
    assert detector.observe(69, Sample(head=100, position=40)).state == "running"
    assert detector.observe(70, Sample(head=100, position=40)).stalled


def test_a_resumed_worker_gets_a_full_period_before_it_is_judged() -> None:
    detector = StallDetector(stall_seconds=30)
    detector.observe(0, Sample(head=100, position=40, paused=True))
    detector.observe(100, Sample(head=100, position=40, paused=True))
    assert detector.observe(101, Sample(head=100, position=40)).state == "running"
    assert detector.observe(131, Sample(head=100, position=40)).stalled


def test_a_standby_far_behind_is_never_stalled_and_a_new_leader_gets_a_full_period() -> None:
    """A relay standing by does not move its position: that is the leader's work, watched by the leader's watchdog."""
    detector = StallDetector(stall_seconds=30)
    for now in range(0, 200, 10):
        assert detector.observe(now, Sample(head=10_000, position=40, standby=True)).state == "standby"
    assert detector.observe(200, Sample(head=10_000, position=40)).state == "running"
    assert detector.observe(229, Sample(head=10_000, position=40)).state == "running"
    assert detector.observe(230, Sample(head=10_000, position=40)).stalled


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_stalled_worker_says_so_then_stops_itself_and_exits_for_a_restart() -> None:
    stopped = threading.Event()
    exits: list[int] = []
    position = {"value": 5}
    watchdog = Watchdog(
        "unit-worker",
        lambda: Sample(head=10, position=position["value"]),
        stopped.set,
        WatchdogSettings(stall_seconds=0.3, exit_grace_seconds=0.3, interval_seconds=0.05),
        exit=exits.append,
    )
    server = serve_ops(
        "127.0.0.1", 0, ready=lambda: True, status=watchdog.status, stalled=lambda: watchdog.stall_reason
    )
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert _get(url + "/readyz")[0] == 200
        watchdog.start()
        assert stopped.wait(10), "the watchdog never asked the worker to stop"
        status, body = _get(url + "/readyz")
        assert status == 503
        assert body["status"] == "stalled"
        assert "5 behind (position 5, head 10)" in str(body["reason"])
        assert _get(url + "/status")[1]["state"] == "stalled"
        metrics = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
        assert 'eventledger_worker_stalled{worker="unit-worker"} 1.0' in metrics
        assert 'eventledger_worker_stalls_total{worker="unit-worker"} 1.0' in metrics
    finally:
        server.shutdown()
    # The worker did not finish in time here (nothing closed the watchdog): the process exits hard.
    deadline = time.monotonic() + 10
    while not exits and time.monotonic() < deadline:
        time.sleep(0.05)
    assert exits == [EXIT_STALLED]


def test_a_worker_that_stops_in_time_is_not_killed() -> None:
    exits: list[int] = []
    watchdog = Watchdog(
        "unit-clean",
        lambda: Sample(head=10, position=5),
        lambda: watchdog.close(),  # noqa: PLW0108 - the worker's loop ends and its main closes the watchdog
        WatchdogSettings(stall_seconds=0.2, exit_grace_seconds=0.1, interval_seconds=0.05),
        exit=exits.append,
    )
    watchdog.start()
    deadline = time.monotonic() + 10
    while watchdog.stall_reason is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(6)  # past the hard-exit deadline
    assert watchdog.stall_reason is not None
    assert exits == []
