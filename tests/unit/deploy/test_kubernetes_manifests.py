"""The Kubernetes manifests (deploy/kubernetes/, ADR 0031), rendered the way an operator renders them and checked:

- every object of each overlay validates against the Kubernetes 1.30 schemas (kubernetes-validate, strict);
- every Deployment has liveness and readiness probes, resource requests and limits, a PodDisruptionBudget; the
  gateway, command and query services have HorizontalPodAutoscalers; every pod is hardened;
- the services, their commands and ports are the supervisor's (``eventledger_infra.system.services``), and every
  variable the manifests set is one of the settings model's, so neither can drift; each container's environment, as
  rendered, loads the settings (production's with production secrets);
- the network policies let only the load balancer reach the gateway;
- checkov finds nothing but what ``deploy/kubernetes/checkov-allowlist.yaml`` explains.

The tools come from the provisioning tool (kubectl's kustomize or one built from its Go module; checkov in a
virtualenv of its own): where they cannot be had the tests fail saying so, never skip.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from eventledger_infra import kubernetes, system
from eventledger_infra.process import ProvisioningError
from eventledger_infra.settings import Settings as InfraSettings
from eventledger_runtime import settings as model

KUBERNETES_VERSION = "1.30"
IMAGE = "localhost/eventledger:0.1.0"
SECRETS_MOUNT = "/run/secrets/eventledger"
AUTOSCALED = {"gateway", "command", "query"}
ALLOWLIST = kubernetes.MANIFESTS / "checkov-allowlist.yaml"
Doc = dict[str, Any]
Rendered = dict[str, list[Doc]]


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    cache = InfraSettings.from_env().cache_dir
    try:
        texts = {overlay: kubernetes.render(overlay, cache) for overlay in kubernetes.OVERLAYS}
    except ProvisioningError as exc:
        pytest.fail(f"the manifests cannot be rendered: {exc}", pytrace=False)
    return {overlay: [doc for doc in yaml.safe_load_all(text) if doc] for overlay, text in texts.items()}


def _objects(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def _pod(workload: Doc) -> Doc:
    return dict(workload["spec"]["template"]["spec"])


def _containers(pod: Doc) -> list[Doc]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions with In) selects pods with ``labels``."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression  # the only operator the manifests use
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _pod_labels(workload: Doc) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schemas(rendered: Rendered, overlay: str) -> None:
    docs = rendered[overlay]
    assert len(docs) > 30
    failures = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert failures == []


def test_a_schema_violation_is_caught() -> None:
    """The validation above can fail: a misspelt field under strict validation, a wrong type."""
    deployment: Doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [{"name": "x", "imagee": "y"}]}}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment["spec"]["template"]["spec"]["containers"][0] = {"name": "x", "image": "y"}
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_every_deployment_has_probes_resources_and_a_disruption_budget(rendered: Rendered, overlay: str) -> None:
    docs = rendered[overlay]
    budgets = _objects(docs, "PodDisruptionBudget").values()
    for name, deployment in _objects(docs, "Deployment").items():
        for container in _containers(_pod(deployment)):
            assert {"livenessProbe", "readinessProbe"} <= container.keys(), (name, container["name"])
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= container["resources"][kind].keys(), (name, kind)
        covering = [b for b in budgets if _selects(b["spec"]["selector"], _pod_labels(deployment))]
        assert len(covering) == 1, name
        assert covering[0]["spec"] == {"maxUnavailable": 1, "selector": covering[0]["spec"]["selector"]}, name
    for job in _objects(docs, "Job").values():
        for container in _containers(_pod(job)):
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys()


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_the_gateway_command_and_query_services_autoscale(rendered: Rendered, overlay: str) -> None:
    docs = rendered[overlay]
    autoscalers = _objects(docs, "HorizontalPodAutoscaler")
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in autoscalers.values()}
    assert targets == AUTOSCALED
    deployments = _objects(docs, "Deployment")
    for name in AUTOSCALED:
        assert "replicas" not in deployments[name]["spec"], f"{name}: the autoscaler owns its replica count"
    for hpa in autoscalers.values():
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_the_relay_runs_a_leader_and_a_standby_at_most(rendered: Rendered, overlay: str) -> None:
    """ADR 0016/0031: any number of relays is safe (advisory lock and term fence); no autoscaler, since only the
    leader publishes; a rolling update starts the new pod before the old stops, so a standby is always there."""
    relay = _objects(rendered[overlay], "Deployment")["relay"]
    assert relay["spec"]["replicas"] == {"development": 1, "production": 2}[overlay]
    assert relay["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_every_pod_is_hardened(rendered: Rendered, overlay: str) -> None:
    docs = rendered[overlay]
    workloads = [*_objects(docs, "Deployment").values(), *_objects(docs, "Job").values()]
    assert len(workloads) == 10
    for workload in workloads:
        pod = _pod(workload)
        name = workload["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] >= 10000, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in _containers(pod):
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "privileged": False,
                "capabilities": {"drop": ["ALL"]},
            }, (name, container["name"])
            expected = "haproxy:2.6" if name == "load-balancer" else IMAGE
            assert container["image"] == expected, (name, container["name"])
    namespaces = _objects(docs, "Namespace")
    assert len(namespaces) == 1
    (namespace,) = namespaces.values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {doc["metadata"].get("namespace") for doc in docs if doc["kind"] != "Namespace"} == {
        namespace["metadata"]["name"]
    }


def _env(container: Doc, config: Doc) -> dict[str, str]:
    """The container's EVENTLEDGER_* environment as Kubernetes builds it: the ConfigMap, then its own entries."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == config["metadata"]["name"]
        env.update(config["data"])
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            assert entry["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}, entry
            env[entry["name"]] = "10.1.2.3"
    return env


def _settings_config(docs: list[Doc]) -> Doc:
    (config,) = [c for name, c in _objects(docs, "ConfigMap").items() if name.startswith("eventledger-settings")]
    return config


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_the_services_are_the_supervisors(rendered: Rendered, overlay: str) -> None:
    """Each service the supervisor runs is a Deployment with the same command, listening on the port of the same
    variable; the gateway's upstream variables are set; nothing else runs but HAProxy."""
    docs = rendered[overlay]
    deployments = _objects(docs, "Deployment")
    config = _settings_config(docs)
    specs = system.services(1)
    assert set(deployments) == {spec.service for spec in specs} | {"load-balancer"}
    for spec in specs:
        (container,) = _pod(deployments[spec.service])["containers"]
        assert container["command"] == ["python", "-m", *spec.argv[2:]], spec.service
        env = _env(container, config)
        (port_variable,) = [name for name in spec.env if name.endswith("PORT")]
        base_port = spec.port - (system.INSTANCE_PORT_STEP if spec.service in system.LOAD_BALANCED else 0)
        assert env[port_variable] == str(base_port), spec.service
        (port,) = container["ports"]
        assert port["containerPort"] == base_port, spec.service
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == port["name"], (spec.service, probe)
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert set(spec.env) <= set(env), (spec.service, set(spec.env) - set(env))
    services = _objects(docs, "Service")
    assert (
        config["data"]["EVENTLEDGER_GATEWAY_COMMAND_URL"]
        == f"http://command:{services['command']['spec']['ports'][0]['port']}"
    )
    assert (
        config["data"]["EVENTLEDGER_GATEWAY_QUERY_URL"]
        == f"http://query:{services['query']['spec']['ports'][0]['port']}"
    )


def _variables() -> set[str]:
    """Every variable the settings model reads, with ``_FILE`` for its secrets."""
    names = set()
    for section in model.SECTIONS:
        for field_name, field in section.model_fields.items():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if extra.get("fixed"):
                continue
            variable = section.variable(field_name)
            names.add(variable)
            if "SecretStr" in repr(field.annotation):
                names.add(variable + "_FILE")
    return names


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_every_variable_set_is_one_of_the_settings(rendered: Rendered, overlay: str) -> None:
    docs = rendered[overlay]
    config = _settings_config(docs)
    known = _variables()
    assert {"EVENTLEDGER_PG_PASSWORD_FILE", "EVENTLEDGER_GATEWAY_PORT"} <= known
    set_here = set(config["data"])
    for workload in [*_objects(docs, "Deployment").values(), *_objects(docs, "Job").values()]:
        for container in _containers(_pod(workload)):
            set_here |= {e["name"] for e in container.get("env", []) if e["name"].startswith("EVENTLEDGER_")}
    set_here -= {"EVENTLEDGER_PUBLIC_TLS"}  # HAProxy's own switch (its configuration's `.if`), not a setting
    assert set_here - known == set()
    assert set_here & set(model.REMOVED_VARIABLES) == set()


def _secret_files(docs: list[Doc], overlay: str, directory: Path) -> None:
    """The secret files a pod would see: development's from its rendered Secret; production's, which the operator
    creates, made up here at the lengths production requires."""
    directory.mkdir()
    if overlay == "development":
        (secret,) = _objects(docs, "Secret").values()
        for key, value in secret["data"].items():
            (directory / key).write_bytes(base64.b64decode(value))
    else:
        assert _objects(docs, "Secret") == {}, "production's secrets are never kept in the repository"
        (directory / "pg-password").write_text(secrets.token_urlsafe(24))
        (directory / "key-encryption-key").write_text(secrets.token_urlsafe(48))
        (directory / "personal-data-kek").write_text(secrets.token_urlsafe(48))
        (directory / "tree-head-key").write_text(secrets.token_hex(32))


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("EVENTLEDGER_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_each_containers_environment_loads_the_settings(
    rendered: Rendered, overlay: str, clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What each EventLedger container would start with, as rendered: the settings load, in production with the
    production environment (every default secret refused, only the gateway's own tokens)."""
    docs = rendered[overlay]
    config = _settings_config(docs)
    mounted = tmp_path / "secrets"
    _secret_files(docs, overlay, mounted)
    workloads = [*_objects(docs, "Deployment").values(), *_objects(docs, "Job").values()]
    checked = 0
    for workload in workloads:
        pod = _pod(workload)
        secret_volumes = {v["name"] for v in pod["volumes"] if "secret" in v}
        for container in _containers(pod):
            if container["image"] != IMAGE:
                continue
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts[SECRETS_MOUNT] in secret_volumes
            env = _env(container, config)
            for name in list(os.environ):
                if name.startswith("EVENTLEDGER_"):
                    clean_environment.delenv(name)
            for name, value in env.items():
                clean_environment.setenv(name, value.replace(SECRETS_MOUNT, str(mounted)))
            try:
                loaded = model.load_settings()
            except model.SettingsError as exc:
                pytest.fail(f"{workload['metadata']['name']}/{container['name']}: {exc}", pytrace=False)
            assert loaded.deployment.environment == overlay
            assert loaded.postgres.host == "eventledger-servers"
            checked += 1
    assert checked == 11  # eight services, three migration steps


def test_production_refuses_a_missing_secret(
    rendered: Rendered, clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The check above can fail: without the key-encryption key's file, production refuses to start."""
    docs = rendered["production"]
    mounted = tmp_path / "secrets"
    _secret_files(docs, "production", mounted)
    for name, value in _settings_config(docs)["data"].items():
        if name != "EVENTLEDGER_GATEWAY_KEY_ENCRYPTION_KEY_FILE":
            clean_environment.setenv(name, value.replace(SECRETS_MOUNT, str(mounted)))
    with pytest.raises(model.SettingsError, match="EVENTLEDGER_GATEWAY_KEY_ENCRYPTION_KEY"):
        model.load_settings()


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_every_referenced_config_and_secret_exists_or_is_the_operators(rendered: Rendered, overlay: str) -> None:
    docs = rendered[overlay]
    present = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    operators = {("Secret", "eventledger-secrets"), ("Secret", "eventledger-gateway-tls")}
    for workload in [*_objects(docs, "Deployment").values(), *_objects(docs, "Job").values()]:
        for volume in _pod(workload)["volumes"]:
            if "secret" in volume:
                wanted = ("Secret", volume["secret"]["secretName"])
                assert wanted in present or (overlay == "production" and wanted in operators), wanted
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in present
    text = yaml.safe_dump_all(docs)
    assert ".invalid" not in text  # the base's stand-ins for the servers' name and address are replaced
    assert "192.0.2." not in text
    readme = (kubernetes.MANIFESTS / "README.md").read_text()
    for _, name in operators:
        assert name in readme


def _peers_allowed_in(docs: list[Doc], labels: dict[str, str], port: int) -> list[Doc]:
    """Every `from` peer of every policy that selects pods with ``labels`` and admits ``port``."""
    peers: list[Doc] = []
    for policy in _objects(docs, "NetworkPolicy").values():
        spec = policy["spec"]
        if "Ingress" not in spec["policyTypes"] or not _selects(spec["podSelector"], labels):
            continue
        for rule in spec.get("ingress", []):
            if any(p["port"] == port for p in rule.get("ports", [])):
                peers.extend(rule.get("from", [{"anyone": True}]))
    return peers


@pytest.mark.parametrize("overlay", kubernetes.OVERLAYS)
def test_only_the_load_balancer_reaches_the_gateway(rendered: Rendered, overlay: str) -> None:
    docs = rendered[overlay]
    policies = _objects(docs, "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    deployments = _objects(docs, "Deployment")
    gateway, balancer = _pod_labels(deployments["gateway"]), _pod_labels(deployments["load-balancer"])
    only_the_balancer = {"app.kubernetes.io/name": "eventledger", "app.kubernetes.io/component": "load-balancer"}
    assert _peers_allowed_in(docs, gateway, 18080) == [{"podSelector": {"matchLabels": only_the_balancer}}]
    assert _selects(_peers_allowed_in(docs, gateway, 18080)[0]["podSelector"], balancer)
    assert _peers_allowed_in(docs, balancer, 18080) == [{"anyone": True}]  # clients
    for side, port in (("command", 18081), ("query", 18082)):
        pods = [p for p in _peers_allowed_in(docs, _pod_labels(deployments[side]), port) if "podSelector" in p]
        assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in pods] == ["gateway"]
    servers = policies["servers"]["spec"]
    for name, deployment in deployments.items():
        assert _selects(servers["podSelector"], _pod_labels(deployment)) == (name != "load-balancer"), name


def test_the_load_balancer_is_configured_like_the_supervisors(rendered: Rendered, tmp_path: Path) -> None:
    """Every line ``eventledger_infra.loadbalancer.render`` writes for the gateway is in the cluster's haproxy.cfg,
    in the same order, but the addresses (bind, server); its error pages are the same bytes; it has a server slot
    for every gateway pod the autoscaler may run; and HAProxy accepts it, with TLS and without."""
    from eventledger_infra import loadbalancer

    directory = kubernetes.MANIFESTS / "base" / "load-balancer"
    config = (directory / "haproxy.cfg").read_text()
    pages = {
        kind: {status: Path(f"/usr/local/etc/haproxy/{status}-{kind}.http") for status in texts}
        for kind, texts in loadbalancer.ERROR_PAGES.items()
    }
    backend = loadbalancer.Backend("gateway", 18080, (), public=True)
    reference = loadbalancer.render("*", [backend], loadbalancer.OPS_PORT_OFFSET + 18080, pages).splitlines()
    wanted = [line for line in reference if line.strip() and not line.startswith("#") and "bind " not in line]
    lines = iter(config.splitlines())
    missing = [line for line in wanted if not any(line == candidate for candidate in lines)]
    assert missing == []
    for status, text in loadbalancer.ERROR_PAGES["problem"].items():
        assert (directory / f"{status}-problem.http").read_bytes() == text.encode()
    (template,) = [line.split() for line in config.splitlines() if line.strip().startswith("server-template")]
    slots = int(template[2])
    for docs in rendered.values():
        assert _objects(docs, "HorizontalPodAutoscaler")["gateway"]["spec"]["maxReplicas"] <= slots

    haproxy = loadbalancer.ensure_installed()
    local = tmp_path / "haproxy"
    local.mkdir()
    for page in directory.glob("*.http"):
        (local / page.name).write_bytes(page.read_bytes())
    (local / "haproxy.cfg").write_text(
        config.replace("/usr/local/etc/haproxy/", f"{local}/").replace("/etc/haproxy-tls/", f"{local}/")
    )
    certificate = tmp_path / "tls"
    _dev_certificate(certificate)
    (local / "gateway.pem").write_bytes((certificate / "server.pem").read_bytes())
    (local / "gateway.pem.key").write_bytes((certificate / "server-key.pem").read_bytes())
    base_env = {"PATH": os.environ["PATH"], "POD_NAMESPACE": "eventledger", "CLUSTER_DOMAIN": "cluster.local"}
    for extra in ({}, {"EVENTLEDGER_PUBLIC_TLS": "1"}):
        result = subprocess.run(
            [haproxy, "-c", "-f", str(local / "haproxy.cfg")],
            env={**base_env, **extra},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, (extra, result.stdout + result.stderr)
    broken = local / "broken.cfg"
    broken.write_text((local / "haproxy.cfg").read_text().replace("balance leastconn", "balance fastest"))
    refused = subprocess.run([haproxy, "-c", "-f", str(broken)], env=base_env, capture_output=True, check=False)
    assert refused.returncode != 0  # the check can fail


def _dev_certificate(directory: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "eventledger_gateway", "dev-certificate", "--dir", str(directory)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _allowlist() -> set[tuple[str, str]]:
    allowed = set()
    for entry in yaml.safe_load(ALLOWLIST.read_text()):
        assert len(entry["reason"].split()) >= 12, f"{entry['check']}: give a reason"
        for overlay in entry["overlays"]:
            assert overlay in kubernetes.OVERLAYS
            allowed.add((entry["check"], overlay))
    return allowed


def test_checkov_finds_nothing_that_is_not_explained(rendered: Rendered, tmp_path: Path) -> None:
    """checkov's Kubernetes checks (and its secrets scan) on each rendered overlay: every failed check is in the
    allow-list with a reason, and every entry of the allow-list still fails (none stays after its cause is gone)."""
    try:
        binary = kubernetes.checkov(InfraSettings.from_env().cache_dir)
    except ProvisioningError as exc:
        pytest.fail(f"checkov is needed to scan the manifests: {exc}", pytrace=False)
    scanned = tmp_path / "rendered"
    scanned.mkdir()
    for overlay, docs in rendered.items():
        (scanned / f"{overlay}.yaml").write_text(yaml.safe_dump_all(docs))
    result = subprocess.run(
        [
            str(binary),
            "-d",
            str(scanned),
            "--framework",
            "kubernetes",
            "secrets",
            "--skip-download",
            "--output",
            "json",
            "--compact",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert {report["check_type"] for report in reports} == {"kubernetes", "secrets"}, result.stderr[-2000:]
    kubernetes_report = next(r for r in reports if r["check_type"] == "kubernetes")
    assert kubernetes_report["summary"]["passed"] > 1000  # it did run its checks
    assert kubernetes_report["summary"]["parsing_errors"] == 0
    failed = {
        (check["check_id"], Path(check["file_path"]).stem)
        for report in reports
        for check in report["results"]["failed_checks"]
    }
    allowed = _allowlist()
    assert failed - allowed == set(), "failed checks the allow-list does not explain"
    assert allowed - failed == set(), "allow-list entries that no longer fail: remove them"
