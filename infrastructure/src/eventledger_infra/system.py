"""The whole EventLedger system as local processes under one supervisor that restarts a crashed one.

``system up --replicas N`` starts the supervisor in the background (its own session, pid file), which runs N
instances of each service with the running interpreter (the project's virtualenv) and HAProxy in front of the
command services, the query services and the gateways (ADR 0019), restarts any process that exits with a growing
back-off, and stops them all on SIGTERM, HAProxy first. Each instance has a pid file
(``.state/system/<instance>.pid``, for fault tests that SIGKILL one) and a log file beside it; ``instances.json``
records what runs, for ``system status``.

TLS (ADR 0023): when ``EVENTLEDGER_GATEWAY_TLS_CERT_FILE`` and ``..._KEY_FILE`` are set (``make up TLS=1`` sets them
to a development certificate), HAProxy serves that certificate on the public gateway port, HTTPS only; the gateway
instances behind it do not get the variables and answer plain HTTP on loopback, like every other hop between the
services on one host.

Prometheus (ADR 0026): ``system up --prometheus`` (``make up PROMETHEUS=1``) adds one Prometheus to the supervised
processes, scraping every instance's ``/metrics``, HAProxy's and its own, and evaluating
``infrastructure/monitoring/alerts.yml``; it is started last and stopped first.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from eventledger_infra import loadbalancer, monitoring
from eventledger_infra.process import ProvisioningError, read_pid, stop_pid, tail, write_pid
from eventledger_infra.settings import Settings

MAX_REPLICAS = 5
INSTANCE_PORT_STEP = 1000
"""Instance ``k`` (from 1) of a service listens on its base port plus ``k`` steps when HAProxy holds the base port
(command, query, gateway), else plus ``k - 1`` steps (the workers' operations ports: the first keeps its base)."""
LOAD_BALANCED = ("command", "query", "gateway")
LOAD_BALANCER = "load-balancer"
PROMETHEUS = "prometheus"
TLS_VARIABLES = ("EVENTLEDGER_GATEWAY_TLS_CERT_FILE", "EVENTLEDGER_GATEWAY_TLS_KEY_FILE")
"""The gateway's certificate and key (its own settings' variables): HAProxy takes them; instances behind it do not."""


@dataclass(frozen=True)
class ServiceSpec:
    """One process the supervisor runs: how to start it, where it answers ``/readyz``, which service it is an
    instance of (the first instance bears the service's name, the others ``<service>-<k>``)."""

    name: str
    service: str
    argv: tuple[str, ...]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    unset_env: tuple[str, ...] = ()
    scheme: str = "http"
    ready_path: str = "/readyz"
    port_variable: str = ""
    """The variable that sets the instance's port (its ``env`` holds it): a container sets it to move the port."""

    @property
    def ready_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{self.ready_path}"


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"EVENTLEDGER_{name}", default))


def _python(module: str, *args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", module, *args)


def check_replicas(replicas: int) -> int:
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ProvisioningError(f"REPLICAS must be between 1 and {MAX_REPLICAS}, not {replicas}")
    return replicas


def _instances(
    service: str,
    replicas: int,
    argv: tuple[str, ...],
    base_port: int,
    port_variable: str,
    env: dict[str, str],
    unset_env: tuple[str, ...] = (),
) -> list[ServiceSpec]:
    offset = 1 if service in LOAD_BALANCED else 0
    specs = []
    for k in range(1, replicas + 1):
        port = base_port + INSTANCE_PORT_STEP * (k - 1 + offset)
        name = service if k == 1 else f"{service}-{k}"
        specs.append(
            ServiceSpec(
                name, service, argv, port, {**env, port_variable: str(port)}, unset_env, port_variable=port_variable
            )
        )
    return specs


def public_tls_files() -> tuple[Path, Path] | None:
    """The certificate and key HAProxy serves on the public gateway port, or None (plain HTTP); refuses half a pair
    and a missing file, naming the variable."""
    cert, key = (os.environ.get(variable, "") for variable in TLS_VARIABLES)
    if not cert and not key:
        return None
    if not cert or not key:
        raise ProvisioningError(f"{TLS_VARIABLES[0]} and {TLS_VARIABLES[1]} go together: set both or neither")
    for variable, path in zip(TLS_VARIABLES, (cert, key), strict=True):
        if not Path(path).is_file():
            raise ProvisioningError(f"{variable}: no such file {path!r}")
    return Path(cert), Path(key)


def public_scheme() -> str:
    return "https" if public_tls_files() else "http"


def public_ports() -> dict[str, int]:
    """The ports HAProxy holds: the gateway's (clients), the command and query services' (the gateway's upstreams).
    The same variables and defaults as the services' own settings (a unit test compares them)."""
    return {
        "gateway": _port("GATEWAY_PORT", 18080),
        "command": _port("COMMAND_PORT", 18081),
        "query": _port("QUERY_PORT", 18082),
    }


def load_balancer_ops_port() -> int:
    return public_ports()["gateway"] + loadbalancer.OPS_PORT_OFFSET


def prometheus_port() -> int:
    return _port("PROMETHEUS_PORT", 18089)


def services(replicas: int = 1) -> list[ServiceSpec]:
    """Every process, in start order (dependencies first), with ``replicas`` instances of each service: the command
    and query services and the gateway behind HAProxy, relays (one leads, the others stand by: ADR 0016),
    projectors sharing their consumer group's partitions, stream-job workers sharing theirs."""
    check_replicas(replicas)
    public = public_ports()
    upstreams = {
        "EVENTLEDGER_GATEWAY_COMMAND_URL": f"http://127.0.0.1:{public['command']}",
        "EVENTLEDGER_GATEWAY_QUERY_URL": f"http://127.0.0.1:{public['query']}",
        # The issuer of the tokens the gateways issue is the address clients reach them at (ADR 0024): HAProxy's.
        "EVENTLEDGER_GATEWAY_OAUTH_ISSUER": os.environ.get(
            "EVENTLEDGER_GATEWAY_OAUTH_ISSUER", f"{public_scheme()}://127.0.0.1:{public['gateway']}"
        ),
    }
    specs = [
        *_instances(
            "command", replicas, _python("eventledger_command"), public["command"], "EVENTLEDGER_COMMAND_PORT", {}
        ),
        *_instances(
            "relay",
            replicas,
            _python("eventledger_command.relay"),
            _port("RELAY_OPS_PORT", 18091),
            "EVENTLEDGER_RELAY_OPS_PORT",
            {},
        ),
    ]
    for projection, ops_port in PROJECTOR_OPS_PORTS.items():
        specs += _instances(
            f"projector-{projection}",
            replicas,
            _python("eventledger_projections", "run", projection),
            ops_port,
            "EVENTLEDGER_PROJECTION_OPS_PORT",
            {},
        )
    specs += _instances(
        "stream-windows",
        replicas,
        _python("eventledger_projections", "run", "windows"),
        _port("STREAMING_OPS_PORT", 18111),
        "EVENTLEDGER_STREAMING_OPS_PORT",
        {},
    )
    specs += _instances("query", replicas, _python("eventledger_query"), public["query"], "EVENTLEDGER_QUERY_PORT", {})
    specs += _instances(
        "gateway",
        replicas,
        _python("eventledger_gateway", "serve"),
        public["gateway"],
        "EVENTLEDGER_GATEWAY_PORT",
        upstreams,
        unset_env=TLS_VARIABLES,  # HAProxy serves the certificate; the hop to an instance is loopback
    )
    return specs


def service_commands() -> dict[str, ServiceSpec]:
    """Each service's first instance, by service name: what the image runs for ``<image> <service>`` (its
    entry point, :mod:`eventledger_infra.container`), and what docker-compose.yml and the deployment manifests
    name. ``argv[0]`` is the running interpreter: in the image, the image's own."""
    return {spec.service: spec for spec in services(1)}


PROJECTOR_OPS_PORTS = {"postgres": 18101, "redis": 18102, "elasticsearch": 18103}
"""The first projector instance's operations port per projection (eventledger_projections.bootstrap.PROJECTIONS)."""


def load_balancer_spec(settings: Settings, haproxy: str) -> ServiceSpec:
    """HAProxy in the foreground (``-db``) in master-worker mode (``-W``: SIGUSR1 stops it softly), ready when a
    gateway answers ``/readyz`` through it."""
    config = system_dir(settings) / "haproxy.cfg"
    return ServiceSpec(
        LOAD_BALANCER,
        LOAD_BALANCER,
        (haproxy, "-W", "-db", "-f", str(config)),
        public_ports()["gateway"],
        scheme=public_scheme(),
    )


def load_balancer_backends(specs: list[ServiceSpec]) -> list[loadbalancer.Backend]:
    """HAProxy's view of the instances: one backend per load-balanced service, its instances by name and port."""
    return [
        loadbalancer.Backend(
            service,
            public_ports()[service],
            tuple((s.name, s.port) for s in specs if s.service == service),
            public=service == "gateway",
        )
        for service in LOAD_BALANCED
    ]


def write_load_balancer_config(settings: Settings, specs: list[ServiceSpec], haproxy: str) -> Path:
    directory = system_dir(settings)
    backends = load_balancer_backends(specs)
    pages = loadbalancer.write_error_pages(directory / "haproxy-errors")
    tls = _haproxy_pem(directory / "haproxy-gateway.pem")
    config = directory / "haproxy.cfg"
    config.write_text(loadbalancer.render("127.0.0.1", backends, load_balancer_ops_port(), pages, tls))
    loadbalancer.check(haproxy, config)
    return config


def _haproxy_pem(path: Path) -> loadbalancer.PublicTls | None:
    """HAProxy reads the chain and the key from one file: written owner-only, or removed when TLS is off."""
    files = public_tls_files()
    path.unlink(missing_ok=True)
    if files is None:
        return None
    cert, key = files
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(cert.read_bytes().rstrip(b"\n") + b"\n" + key.read_bytes())
    return loadbalancer.PublicTls(path)


def prometheus_spec(settings: Settings, binary: str) -> ServiceSpec:
    """Prometheus in the foreground, its data in the state folder; ready when ``/-/ready`` answers 200."""
    directory = system_dir(settings)
    return ServiceSpec(
        PROMETHEUS,
        PROMETHEUS,
        monitoring.argv(binary, directory / "prometheus.yml", directory / "prometheus-data", prometheus_port()),
        prometheus_port(),
        ready_path="/-/ready",
    )


def scrape_targets(specs: list[ServiceSpec]) -> list[monitoring.Target]:
    """Every supervised process's ``/metrics``: the services on their ports (workers: their operations ports),
    HAProxy on its operations frontend (plain HTTP, whatever the gateway port serves), Prometheus itself."""
    targets = []
    for spec in specs:
        if spec.service == LOAD_BALANCER:
            targets.append(monitoring.Target(LOAD_BALANCER, LOAD_BALANCER, load_balancer_ops_port()))
        else:
            targets.append(monitoring.Target(spec.service, spec.name, spec.port, spec.scheme))
    return targets


def write_prometheus_config(settings: Settings, specs: list[ServiceSpec], promtool: str) -> Path:
    config = system_dir(settings) / "prometheus.yml"
    config.write_text(monitoring.render(scrape_targets(specs), [monitoring.ALERT_RULES]))
    monitoring.check_config(promtool, config)
    return config


def system_dir(settings: Settings) -> Path:
    return settings.state_dir / "system"


def supervisor_pid_file(settings: Settings) -> Path:
    return system_dir(settings) / "supervisor.pid"


def instances_file(settings: Settings) -> Path:
    return system_dir(settings) / "instances.json"


def supervised(settings: Settings, replicas: int, prometheus: bool = False) -> list[ServiceSpec]:
    """What the supervisor runs: every service instance, then HAProxy (installed when missing) in front; with
    ``prometheus``, Prometheus last (installed when missing)."""
    haproxy = loadbalancer.ensure_installed()
    specs = [*services(replicas), load_balancer_spec(settings, haproxy)]
    if prometheus:
        specs.append(prometheus_spec(settings, monitoring.ensure_installed().prometheus))
    return specs


def _log(level: str, message: str, **fields: object) -> None:
    """One JSON line on standard output (the supervisor's log), in the services' form (ADR 0032) with the standard
    library only: the provisioning tool imports nothing of the runtime kit."""
    now = time.time()
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z",
        "level": level,
        "service": "supervisor",
        "logger": "eventledger_infra.system",
        "message": message,
        "trace_id": None,
        "span_id": None,
        "correlation_id": None,
        **fields,
    }
    print(json.dumps(entry), flush=True)


class Supervisor:
    """Keeps every instance running until told to stop; then stops them in the reverse order of the start, one
    service at a time, so that HAProxy stops taking requests first and every service drains what it holds while
    the services it calls still answer."""

    def __init__(self, settings: Settings, specs: list[ServiceSpec]) -> None:
        self._settings = settings
        self._dir = system_dir(settings)
        self._specs = specs
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._started_at: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._stopping = False

    def _start(self, spec: ServiceSpec) -> None:
        log = open(self._dir / f"{spec.name}.log", "ab")  # noqa: SIM115 - handed to the child
        inherited = {name: value for name, value in os.environ.items() if name not in spec.unset_env}
        child = subprocess.Popen(
            list(spec.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**inherited, **spec.env},
        )
        log.close()
        self._children[spec.name] = child
        self._started_at[spec.name] = time.monotonic()
        write_pid(self._dir / f"{spec.name}.pid", child.pid)

    def run(self) -> int:
        self._dir.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        balancer = next((spec for spec in self._specs if spec.service == LOAD_BALANCER), None)
        if balancer is not None:
            write_load_balancer_config(self._settings, self._specs, balancer.argv[0])
        if any(spec.service == PROMETHEUS for spec in self._specs):
            write_prometheus_config(self._settings, self._specs, monitoring.ensure_installed().promtool)
        instances_file(self._settings).write_text(
            json.dumps(
                [
                    {"name": s.name, "service": s.service, "port": s.port, "scheme": s.scheme, "ready": s.ready_path}
                    for s in self._specs
                ],
                indent=2,
            )
        )
        for spec in self._specs:
            self._start(spec)
        restart_due: dict[str, float] = {}
        while not self._stopping:
            now = time.monotonic()
            for spec in self._specs:
                child = self._children[spec.name]
                if spec.name in restart_due:
                    if now >= restart_due[spec.name]:
                        del restart_due[spec.name]
                        self._start(spec)
                    continue
                code = child.poll()
                if code is None:
                    continue
                lived = now - self._started_at[spec.name]
                delay = 1.0 if lived > 60 else min(30.0, self._backoff.get(spec.name, 0.5) * 2)
                self._backoff[spec.name] = delay
                _log(
                    "WARNING",
                    f"{spec.name} exited with {code} after {lived:.1f} s; restart in {delay:.0f} s",
                    instance=spec.name,
                    exit_code=code,
                )
                restart_due[spec.name] = now + delay
            time.sleep(0.2)
        for service in reversed(list(dict.fromkeys(spec.service for spec in self._specs))):
            self._stop_service([self._children[s.name] for s in self._specs if s.service == service], service)
        return 0

    def _stop_service(self, children: list[subprocess.Popen[bytes]], service: str) -> None:
        """SIGTERM (HAProxy: SIGUSR1, its soft stop) to every instance of one service, then wait for them to drain;
        SIGKILL what is still running after the bound."""
        sig = signal.SIGUSR1 if service == LOAD_BALANCER else signal.SIGTERM
        for child in children:
            if child.poll() is None:
                child.send_signal(sig)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _log("ERROR", f"{service} pid {child.pid} did not stop in time; killed", pid=child.pid)
                child.kill()
                child.wait(5)

    def _stop(self, *_: object) -> None:
        self._stopping = True


STOP_TIMEOUT_SECONDS = 20.0


def start(settings: Settings, replicas: int = 1, prometheus: bool = False) -> int:
    """Start the supervisor in the background unless it runs; wait until every instance is ready, and HAProxy
    routes to a ready gateway (and Prometheus serves, with ``prometheus``)."""
    check_replicas(replicas)
    directory = system_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    pid_file = supervisor_pid_file(settings)
    specs = supervised(settings, replicas, prometheus)  # installs what is missing first: a refusal is readable here
    running = read_pid(pid_file) is not None
    if running and prometheus and not any(s.service == PROMETHEUS for s in recorded_instances(settings)):
        raise ProvisioningError("the system already runs without Prometheus: `make down`, then `make up PROMETHEUS=1`")
    wanted = public_scheme()
    recorded = next((s.scheme for s in recorded_instances(settings) if s.service == LOAD_BALANCER), wanted)
    if running and recorded != wanted:
        raise ProvisioningError(
            f"the system already runs with {recorded.upper()} on the gateway port, not {wanted.upper()}: "
            "`make down`, then `make up` again"
        )
    if not running:
        log = open(directory / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eventledger_infra",
                "supervise",
                "--replicas",
                str(replicas),
                *(["--prometheus"] if prometheus else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        write_pid(pid_file, process.pid)
    deadline = time.monotonic() + 180
    pending = {spec.name: spec for spec in specs}
    while pending and time.monotonic() < deadline:
        for name, spec in list(pending.items()):
            if _ready(spec):
                print(f"  {name:<26} ready      {spec.scheme}://127.0.0.1:{spec.port}")
                del pending[name]
        time.sleep(0.5)
    if pending:
        details = "\n".join(f"{name}:\n{tail(directory / f'{name}.log', 15)}" for name in pending)
        raise ProvisioningError(f"these services did not become ready: {', '.join(pending)}\n{details}")
    return 0


def _ready(spec: ServiceSpec) -> bool:
    try:
        with urllib.request.urlopen(spec.ready_url, timeout=2, context=_probe_context()) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except (OSError, ValueError):
        return False


def _probe_context() -> ssl.SSLContext:
    """For readiness probes of our own loopback listeners: whether they answer, not whom to trust (a probe sends
    nothing secret, and the certificate may come from an authority this host does not know)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def seed_and_print(settings: Settings) -> int:
    """Seed the demo data through HAProxy and print where everything is, with a ready-to-use token."""
    from eventledger_infra import demo

    tls = public_tls_files()
    gateway = f"{public_scheme()}://127.0.0.1:{public_ports()['gateway']}"
    token = demo.mint_token(["writer", "reader", "auditor", "admin"])
    seeded = demo.seed(gateway, token, _trusting(tls[0]) if tls else None)
    ca = tls[0].with_name("ca.pem") if tls else None
    trust = f" --cacert {ca}" if ca and ca.is_file() else ""
    print(f"""
EventLedger is up, with demo data ({len(seeded["accounts"])} accounts, log at position {seeded["position"]}).
  API (HAProxy)   {gateway}/v1           OpenAPI  {gateway}/docs
  dashboard       {gateway}/dashboard/#token={token}
  load balancer   http://127.0.0.1:{load_balancer_ops_port()}/stats   metrics  /metrics{_prometheus_line(settings)}
  demo account    {seeded["accounts"][0]}
  token (writer, reader, auditor, admin; 24 h):
{token}
  try: curl{trust} -H "Authorization: Bearer $TOKEN" {gateway}/v1/stats/overview
  every instance: `make status`; stop with `make down`; logs in {system_dir(settings)}""")
    return 0


def _prometheus_line(settings: Settings) -> str:
    if not any(spec.service == PROMETHEUS for spec in recorded_instances(settings)):
        return ""
    return f"\n  Prometheus      http://127.0.0.1:{prometheus_port()}/targets   alerts  /alerts"


def _trusting(chain: Path) -> ssl.SSLContext:
    """The host's authorities plus the certificates of the served chain (a development CA travels in it)."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(chain))
    return context


def stop(settings: Settings) -> int:
    stopped = stop_pid(supervisor_pid_file(settings), timeout=STOP_TIMEOUT_SECONDS * 10)
    print(f"  supervisor     {'stopped with every service' if stopped else 'was not running'}")
    return 0


def recorded_instances(settings: Settings) -> list[ServiceSpec]:
    """The instances the supervisor runs (as it recorded them at its start); one of each when it never ran."""
    try:
        rows = json.loads(instances_file(settings).read_text())
    except (FileNotFoundError, ValueError):
        return services()
    return [
        ServiceSpec(
            row["name"],
            row["service"],
            (),
            int(row["port"]),
            scheme=row.get("scheme", "http"),
            ready_path=row.get("ready", "/readyz"),
        )
        for row in rows
    ]


def status(settings: Settings) -> int:
    """Every instance: ready or not, pid, address; for those behind HAProxy, HAProxy's own view of them."""
    supervisor = read_pid(supervisor_pid_file(settings))
    print(f"  supervisor                 {'pid ' + str(supervisor) if supervisor else 'stopped'}")
    balanced = loadbalancer.server_states("127.0.0.1", load_balancer_ops_port()) if supervisor else {}
    all_ready = supervisor is not None
    for spec in recorded_instances(settings):
        pid = read_pid(system_dir(settings) / f"{spec.name}.pid")
        ready = pid is not None and _ready(spec)
        all_ready &= ready
        seen = balanced.get(f"{spec.service}-instances/{spec.name}")
        print(
            f"  {spec.name:<26} {'ready' if ready else 'NOT READY':<10} pid {pid or '-':<8} "
            f"{spec.scheme}://127.0.0.1:{spec.port}" + (f"  (HAProxy: {seen})" if seen else "")
        )
    return 0 if all_ready else 3
