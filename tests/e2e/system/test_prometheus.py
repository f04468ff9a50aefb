"""``make up PROMETHEUS=1`` on the running system (ADR 0026): Prometheus scrapes every process the supervisor runs,
each one answers its scrape, the services' metrics are in Prometheus, and every alert rule evaluates."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from tests.support.monitoring import rule_expressions
from tests.support.processes import wait_for
from tests.support.system import RunningSystem

from eventledger_infra import system


def _api(path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    url = f"http://127.0.0.1:{system.prometheus_port()}/api/v1/{path}{query}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())["data"]


def _targets() -> dict[tuple[str, str], str]:
    return {(t["labels"]["job"], t["labels"]["replica"]): t["health"] for t in _api("targets")["activeTargets"]}


def test_prometheus_scrapes_every_process_and_each_is_up(ledger: RunningSystem) -> None:
    assert f"Prometheus      http://127.0.0.1:{system.prometheus_port()}/targets" in ledger.output
    processes = {(spec.service, spec.name) for spec in system.recorded_instances(ledger.settings)}
    assert {(system.PROMETHEUS, system.PROMETHEUS), (system.LOAD_BALANCER, system.LOAD_BALANCER)} <= processes
    assert len(processes) == len(system.services()) + 2
    # A bound against a hang, not a measurement: scrapes run every 5 s.
    wait_for(lambda: set(_targets().values()) == {"up"}, 120, f"every target up: {_targets()}")
    assert set(_targets()) == processes


def test_the_services_metrics_reach_prometheus_and_every_rule_evaluates(ledger: RunningSystem) -> None:
    def value(query: str) -> list[tuple[dict[str, str], str]]:
        return [(r["metric"], r["value"][1]) for r in _api("query", query=query)["result"]]

    # make up seeded demo data through the gateway: its requests and the commands were counted and scraped
    wait_for(lambda: value("sum(eventledger_commands_total)"), 120, "the command counter scraped")
    wait_for(lambda: value("sum(eventledger_gateway_requests_total)"), 120, "the gateway counter scraped")
    wait_for(lambda: value("sum(eventledger_relay_leader)") == [({}, "1")], 120, "exactly one relay leading")
    projections = {m["projection"] for m, _ in value("max by (projection) (eventledger_projection_lag_seconds)")}
    assert projections == {"postgres", "redis", "elasticsearch"}

    def rules() -> list[dict[str, Any]]:
        return [rule for group in _api("rules")["groups"] for rule in group["rules"]]

    wait_for(lambda: all(rule["health"] != "unknown" for rule in rules()), 120, "every rule evaluated once")
    evaluated = rules()
    assert {rule["name"] for rule in evaluated} == set(rule_expressions())
    assert {rule["name"]: rule["lastError"] for rule in evaluated if rule["health"] != "ok"} == {}
