"""The Prometheus configuration ``make up PROMETHEUS=1`` generates (ADR 0026): every process the supervisor runs is a
target on the port where it serves ``/metrics``, and the real ``promtool check config`` accepts the file with the
alert rules it loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eventledger_infra import monitoring, system
from eventledger_infra.process import ProvisioningError
from eventledger_infra.settings import Settings


@pytest.fixture(scope="module")
def binaries() -> monitoring.Binaries:
    try:
        return monitoring.ensure_installed()
    except ProvisioningError as exc:
        pytest.fail(f"Prometheus is needed for this test: {exc}", pytrace=False)


def _specs(settings: Settings, replicas: int) -> list[system.ServiceSpec]:
    return [
        *system.services(replicas),
        system.load_balancer_spec(settings, "/usr/sbin/haproxy"),
        system.prometheus_spec(settings, "/usr/bin/prometheus"),
    ]


def _document(config: str) -> dict[str, object]:
    lines = config.splitlines()
    assert lines[0].startswith("# Generated")
    loaded: dict[str, object] = json.loads("\n".join(lines[1:]))
    return loaded


@pytest.mark.parametrize("replicas", [1, 3])
def test_every_supervised_process_is_scraped_where_it_serves_metrics(tmp_path: Path, replicas: int) -> None:
    settings = Settings(state_dir=tmp_path)
    specs = _specs(settings, replicas)
    document = _document(monitoring.render(system.scrape_targets(specs), [monitoring.ALERT_RULES]))
    scraped = {
        (job["job_name"], target, group["labels"]["replica"])
        for job in document["scrape_configs"]  # type: ignore[attr-defined]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    expected = {
        (spec.service, f"127.0.0.1:{spec.port}", spec.name) for spec in specs if spec.service != system.LOAD_BALANCER
    } | {(system.LOAD_BALANCER, f"127.0.0.1:{system.load_balancer_ops_port()}", system.LOAD_BALANCER)}
    assert scraped == expected
    assert len(scraped) == len(system.services(replicas)) + 2  # HAProxy and Prometheus itself
    services = {spec.service for spec in system.services(replicas)}
    assert {"command", "query", "gateway", "relay", "stream-windows"} <= services
    assert {job["job_name"] for job in document["scrape_configs"]} == services | {  # type: ignore[attr-defined]
        system.LOAD_BALANCER,
        system.PROMETHEUS,
    }
    assert document["rule_files"] == [str(monitoring.ALERT_RULES)]


def test_promtool_accepts_the_generated_configuration(tmp_path: Path, binaries: monitoring.Binaries) -> None:
    settings = Settings(state_dir=tmp_path)
    (tmp_path / "system").mkdir()
    config = system.write_prometheus_config(settings, _specs(settings, 2), binaries.promtool)
    assert config == tmp_path / "system" / "prometheus.yml"


def test_promtool_refuses_a_broken_configuration(tmp_path: Path, binaries: monitoring.Binaries) -> None:
    """The check that guards `make up` is real: a rule file that does not exist is refused, naming the file."""
    config = tmp_path / "prometheus.yml"
    config.write_text(monitoring.render([monitoring.Target("x", "x", 1)], [tmp_path / "missing.yml"]))
    with pytest.raises(ProvisioningError, match=r"missing\.yml"):
        monitoring.check_config(binaries.promtool, config)


def test_prometheus_is_ready_on_its_own_path_and_the_https_gateway_is_scraped_over_https(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    spec = system.prometheus_spec(settings, "/usr/bin/prometheus")
    assert spec.ready_url == f"http://127.0.0.1:{system.prometheus_port()}/-/ready"
    assert f"--web.listen-address=127.0.0.1:{system.prometheus_port()}" in spec.argv
    document = _document(monitoring.render([monitoring.Target("gateway", "gateway", 1, "https")], []))
    jobs: list[dict[str, object]] = document["scrape_configs"]  # type: ignore[assignment]
    (job,) = jobs
    assert job["scheme"] == "https"
    assert job["tls_config"] == {"insecure_skip_verify": True}
