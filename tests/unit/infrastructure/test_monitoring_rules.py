"""The alert rules (infrastructure/monitoring/alerts.yml, ADR 0026) proven with the real promtool: the file is valid,
its unit tests pass, every rule has a case where it fires and one where it must not, and those cases bite: a rule
that never fires, or always fires, fails them.

promtool comes from Debian's ``prometheus`` package, installed by the provisioning tool when missing (as root, like
CI); where it cannot be installed the tests fail saying so, never skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.support.monitoring import ALERT_RULES, RULE_TESTS, rule_expressions

from eventledger_infra import monitoring
from eventledger_infra.process import ProvisioningError


@pytest.fixture(scope="module")
def promtool() -> str:
    try:
        return monitoring.ensure_installed().promtool
    except ProvisioningError as exc:
        pytest.fail(f"promtool is needed for the alert rules' tests: {exc}", pytrace=False)


def _promtool(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, cwd=cwd, check=False, timeout=120)


def test_the_rules_are_valid(promtool: str) -> None:
    result = _promtool(promtool, "check", "rules", ALERT_RULES.name, cwd=ALERT_RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in result.stdout


def test_the_rules_pass_their_unit_tests(promtool: str) -> None:
    result = _promtool(promtool, "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_has_a_firing_and_a_quiet_case() -> None:
    cases = [case for test in _tests()["tests"] for case in test["alert_rule_test"]]
    missing = {
        alert: [kind for kind, wanted in (("firing", True), ("quiet", False)) if not _has_case(cases, alert, wanted)]
        for alert in rule_expressions()
    }
    assert {alert: kinds for alert, kinds in missing.items() if kinds} == {}
    assert {case["alertname"] for case in cases} <= set(rule_expressions())


def _has_case(cases: list[dict[str, object]], alert: str, firing: bool) -> bool:
    return any(case["alertname"] == alert and bool(case.get("exp_alerts")) == firing for case in cases)


def _tests() -> dict[str, list[dict[str, list[dict[str, object]]]]]:
    loaded: dict[str, list[dict[str, list[dict[str, object]]]]] = yaml.safe_load(RULE_TESTS.read_text())
    return loaded


@pytest.mark.parametrize("alert", sorted(rule_expressions()))
@pytest.mark.parametrize(("mutation", "expr"), [("never fires", "vector(0) > 1"), ("always fires", "vector(1)")])
def test_a_broken_rule_fails_its_tests(promtool: str, tmp_path: Path, alert: str, mutation: str, expr: str) -> None:
    """The same tests against a copy of the rules where this one alert's expression is replaced."""
    rules = yaml.safe_load(ALERT_RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule["expr"] = expr
    (tmp_path / ALERT_RULES.name).write_text(yaml.safe_dump(rules, sort_keys=False))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    result = _promtool(promtool, "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"{alert} {mutation}, and its tests still pass:\n{output}"
    assert f"alertname: {alert}," in output  # its own case failed, not another rule's
