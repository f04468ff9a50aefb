"""The real Prometheus (Debian's package), configured as ``make up PROMETHEUS=1`` configures it (ADR 0026), scrapes a
worker's real operations endpoint, sees an instance that does not answer as down, and evaluates the project's alert
rules against what it scraped: ServiceDown goes pending for the silent instance, RelayNoLeader for a relay that
stands by. Needs none of the shared servers or ports: every port is a free one."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.monitoring import rule_expressions
from tests.support.processes import free_port

from eventledger_infra import monitoring
from eventledger_infra.process import ProvisioningError
from eventledger_runtime.ops_http import serve_ops

BOUND_SECONDS = 120.0
"""How long to wait for a state before failing; a bound against a hang, never a measurement."""


@pytest.fixture
def binaries() -> monitoring.Binaries:
    try:
        return monitoring.ensure_installed()
    except ProvisioningError as exc:
        pytest.fail(f"Prometheus is needed for this test: {exc}", pytrace=False)


@pytest.fixture
def relay_ops_port() -> Iterator[int]:
    """A relay's operations endpoint as the relay serves it, with the relay's metrics registered (it stands by).

    The metrics live in this process's default registry, which every earlier test in the same pytest process shares:
    a relay an earlier test ran in a thread led alone and left ``eventledger_relay_leader`` at 1. A standby says 0."""
    from eventledger_command.relay.relay import LEADER

    LEADER.set(0)
    server = serve_ops("127.0.0.1", free_port(), ready=lambda: True)
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _get(port: int, path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}{query}", timeout=5) as answer:
        return json.loads(answer.read())


def _until(what: str, probe: Callable[[], Any]) -> Any:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` and the last thing seen."""
    deadline = time.monotonic() + BOUND_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    pytest.fail(f"{what}: not seen within {BOUND_SECONDS:.0f} s; last: {last!r}", pytrace=False)


def test_prometheus_scrapes_the_targets_and_evaluates_the_rules(
    tmp_path: Path, binaries: monitoring.Binaries, relay_ops_port: int
) -> None:
    silent = free_port()  # nothing listens there
    config = tmp_path / "prometheus.yml"
    config.write_text(
        monitoring.render(
            [monitoring.Target("relay", "relay", relay_ops_port), monitoring.Target("relay", "relay-2", silent)],
            [monitoring.ALERT_RULES],
        )
    )
    monitoring.check_config(binaries.promtool, config)
    port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as log:
        prometheus = subprocess.Popen(
            monitoring.argv(binaries.prometheus, config, tmp_path / "data", port), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _until("Prometheus ready", lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=5))

        def health() -> dict[str, str]:
            targets = _get(port, "/api/v1/targets")["data"]["activeTargets"]
            seen = {t["labels"]["replica"]: t["health"] for t in targets}
            return seen if len(seen) == 2 and "unknown" not in seen.values() else {}

        assert _until("both targets scraped", health) == {"relay": "up", "relay-2": "down"}

        result = _get(port, "/api/v1/query", query="eventledger_relay_leader")["data"]["result"]
        assert [(r["metric"]["job"], r["metric"]["replica"], r["value"][1]) for r in result] == [
            ("relay", "relay", "0")
        ]

        def alerts() -> dict[str, set[str]]:
            found: dict[str, set[str]] = {}
            for alert in _get(port, "/api/v1/alerts")["data"]["alerts"]:
                found.setdefault(alert["labels"]["alertname"], set()).add(alert["labels"].get("replica", ""))
            return found if {"ServiceDown", "RelayNoLeader"} <= found.keys() else {}

        active = _until("ServiceDown and RelayNoLeader active", alerts)
        assert active["ServiceDown"] == {"relay-2"}  # the relay that answers is not down
        rules = [r for g in _get(port, "/api/v1/rules")["data"]["groups"] for r in g["rules"]]
        assert {r["name"] for r in rules} == set(rule_expressions())
        assert {r["name"]: r["health"] for r in rules if r["health"] != "ok"} == {}  # every one evaluates
    finally:
        prometheus.terminate()
        prometheus.wait(30)
