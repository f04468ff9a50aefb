"""What the monitoring files (infrastructure/monitoring, ADR 0026) name, and what the services really export.

``exported_metric_names`` derives the exported set from the code: it finds every module under the packages' ``src``
folders that constructs a prometheus_client metric, imports it, and reads the default registry the services serve
on ``/metrics`` (``generate_latest()``), turning each family into the sample names Prometheus stores: a counter
``x`` is ``x_total`` (and ``x_created``), a histogram ``x`` is ``x_bucket``, ``x_sum``, ``x_count`` (and
``x_created``); a gauge is its own name. Renaming a metric in the code changes this set.

``promql_metric_names`` is a small lexer, not a PromQL parser: it drops strings, label matchers, ranges and label
lists (``by (…)``, ``on (…)``…), then keeps the identifiers that are neither keywords nor function calls.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "infrastructure" / "monitoring"
ALERT_RULES = MONITORING / "alerts.yml"
RULE_TESTS = MONITORING / "alerts.test.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
SOURCE_ROOTS = (
    "events/src",
    "command-side/src",
    "query-side/src",
    "projections/src",
    "gateway/src",
    "infrastructure/runtime/src",
)
METRIC_CLASSES = frozenset({"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"})
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"})
"""Series Prometheus writes itself for every target (not exported by any service)."""
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def metric_modules() -> dict[str, list[str]]:
    """Module → the metric names it constructs with prometheus_client's classes (read from the source)."""
    found: dict[str, list[str]] = {}
    for source_root in SOURCE_ROOTS:
        base = ROOT / source_root
        for path in sorted(base.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            imported = {
                alias.asname or alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client"
                for alias in node.names
                if alias.name in METRIC_CLASSES
            }
            names = [
                node.args[0].value
                for node in ast.walk(tree)
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in imported
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ]
            if names:
                parts = path.relative_to(base).with_suffix("").parts
                module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                found[module] = names
    return found


def exported_metric_names() -> frozenset[str]:
    """Every sample name the services' ``/metrics`` can carry (their metrics and prometheus_client's defaults)."""
    from prometheus_client import REGISTRY

    for module in metric_modules():
        importlib.import_module(module)
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return frozenset(names)


def _strings_removed(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
    | {"inf", "nan", "atan2"}
)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    text = _strings_removed(expr)
    if "__name__" in text:
        raise ValueError(f"a selector by __name__ is not checked; name the metric: {expr}")
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries, Grafana's $__rate_interval included
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        name, called = match.group(1), match.group(2)
        if called or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def _exprs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from _exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _exprs(item)


def rule_expressions() -> dict[str, str]:
    """Alert name → its expression, from alerts.yml."""
    document = yaml.safe_load(ALERT_RULES.read_text(encoding="utf-8"))
    return {rule["alert"]: rule["expr"] for group in document["groups"] for rule in group["rules"]}


def dashboard_expressions() -> list[str]:
    return list(_exprs(json.loads(DASHBOARD.read_text(encoding="utf-8"))))


def rule_test_series() -> list[str]:
    """The input series of alerts.test.yml (``name{labels}``)."""
    document = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    return [series["series"] for test in document["tests"] for series in test["input_series"]]
