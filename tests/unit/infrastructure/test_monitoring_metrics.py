"""The alert rules and the Grafana dashboard (infrastructure/monitoring, ADR 0026) name only metrics the services
export, as the code defines them today: renaming a metric, or naming a histogram without ``_bucket`` or a counter
without ``_total``, fails here. The exported set is read from prometheus_client's registry after importing every
module that constructs a metric (tests/support/monitoring.py)."""

from __future__ import annotations

import re

import pytest
from tests.support.monitoring import (
    PROMETHEUS_OWN,
    dashboard_expressions,
    exported_metric_names,
    metric_modules,
    promql_metric_names,
    rule_expressions,
    rule_test_series,
)

from eventledger_gateway.routetable import ROUTES


@pytest.fixture(scope="module")
def exported() -> frozenset[str]:
    return exported_metric_names()


def _unknown(exprs: list[str], exported: frozenset[str]) -> dict[str, set[str]]:
    return {expr: unknown for expr in exprs if (unknown := promql_metric_names(expr) - exported - PROMETHEUS_OWN)}


def test_the_rules_name_only_exported_metrics(exported: frozenset[str]) -> None:
    assert _unknown(list(rule_expressions().values()), exported) == {}


def test_the_dashboard_names_only_exported_metrics(exported: frozenset[str]) -> None:
    exprs = dashboard_expressions()
    assert len(exprs) >= 10
    assert _unknown(exprs, exported) == {}


def test_the_rule_tests_feed_only_exported_series(exported: frozenset[str]) -> None:
    """Unit tests over made-up series would prove nothing about the running system."""
    names = {series.split("{", 1)[0] for series in rule_test_series()}
    assert names - exported - PROMETHEUS_OWN == set()


def test_the_dashboard_shows_throughput_latency_lag_relay_and_dead_letters() -> None:
    named = set().union(*(promql_metric_names(expr) for expr in dashboard_expressions()))
    assert {
        "eventledger_gateway_requests_total",  # throughput and errors
        "eventledger_commands_total",
        "eventledger_gateway_request_duration_seconds_bucket",  # p99
        "eventledger_command_seconds_bucket",
        "eventledger_projection_lag_events",
        "eventledger_projection_lag_seconds",
        "eventledger_relay_lag_events",
        "eventledger_relay_lag_seconds",
        "eventledger_projection_dead_letters_total",
        "up",
    } <= named


def test_latency_leaves_out_exactly_the_gateways_streaming_routes() -> None:
    streaming = {route.path for route in ROUTES if route.streaming}
    exprs = [*rule_expressions().values(), *dashboard_expressions()]
    excluded = [set(m.split("|")) for e in exprs for m in re.findall(r'route!~"([^"]*)"', e)]
    assert excluded
    assert all(found == streaming for found in excluded)


def test_the_exported_set_comes_from_the_code_with_prometheus_suffixes(exported: frozenset[str]) -> None:
    modules = metric_modules()
    assert {
        "eventledger_gateway.metrics",
        "eventledger_command.application.bus",
        "eventledger_command.relay.relay",
        "eventledger_command.notary.notary",
        "eventledger_projections.runtime.metrics",
        "eventledger_projections.streaming.metrics",
        "eventledger_runtime.watchdog",
    } <= set(modules)
    # every name the code passes to a metric class is there, with the suffixes Prometheus stores
    for name in (name for names in modules.values() for name in names):
        assert {name, f"{name}_total", f"{name}_bucket"} & exported, name
    assert "eventledger_commands_total" in exported
    assert "eventledger_commands" not in exported  # a counter is stored with _total
    assert "eventledger_relay_published_events_total" in exported
    assert {f"eventledger_command_seconds{s}" for s in ("_bucket", "_sum", "_count")} <= exported
    assert "eventledger_command_seconds" not in exported  # a histogram only as its series
    assert "eventledger_relay_lag_events" in exported
    assert "eventledger_relay_lag_events_total" not in exported  # a gauge has no suffix
    assert "process_cpu_seconds_total" in exported  # prometheus_client's own, served by every process


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up == 0", {"up"}),
        (
            'sum by (projection) (increase(eventledger_projection_dead_letters_total{projection=~"a|b"}[10m])) > 0',
            {"eventledger_projection_dead_letters_total"},
        ),
        (
            "max(a_metric and on (instance) (b_metric == 1)) > 1e3",
            {"a_metric", "b_metric"},
        ),
        (
            'histogram_quantile(0.99, sum without (route) (rate(x_bucket{route!~"/v1/x"}[$__rate_interval])))',
            {"x_bucket"},
        ),
        ("a / ignoring (kind) group_left (job) b offset 5m", {"a", "b"}),
        ('label_replace(c, "dst", "$1", "src", "(by)")', {"c"}),
        ("rate(d[5m:30s]) unless bool e", {"d", "e"}),
    ],
)
def test_the_lexer_finds_the_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_a_renamed_or_unsuffixed_metric_is_reported(exported: frozenset[str]) -> None:
    assert _unknown(
        [
            "rate(eventledger_gateway_request_total[5m])",
            "histogram_quantile(0.99, rate(eventledger_gateway_request_duration_seconds[5m]))",
            "rate(eventledger_commands[5m])",
        ],
        exported,
    ) == {
        "rate(eventledger_gateway_request_total[5m])": {"eventledger_gateway_request_total"},
        "histogram_quantile(0.99, rate(eventledger_gateway_request_duration_seconds[5m]))": {
            "eventledger_gateway_request_duration_seconds"
        },
        "rate(eventledger_commands[5m])": {"eventledger_commands"},
    }


def test_a_selector_by_name_is_refused() -> None:
    with pytest.raises(ValueError, match="__name__"):
        promql_metric_names('{__name__="eventledger_commands_total"}')
