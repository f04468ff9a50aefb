"""The whole EventLedger system as local processes under one supervisor that restarts a crashed service.

``system up`` starts the supervisor in the background (its own session, pid file), which starts every service with
the running interpreter (the project's virtualenv), restarts any that exits with a growing back-off, and stops them
all on SIGTERM. Each service has a pid file (``.state/system/<name>.pid``, for fault tests that SIGKILL one) and a
log file beside it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from eventledger_infra.process import ProvisioningError, read_pid, stop_pid, tail
from eventledger_infra.settings import Settings


@dataclass(frozen=True)
class ServiceSpec:
    """One EventLedger process: how to run it and where it answers /readyz."""

    name: str
    module: str
    args: tuple[str, ...] = ()
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/readyz"


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"EVENTLEDGER_{name}", default))


def services() -> list[ServiceSpec]:
    """Every service, in start order (dependencies first). Ports come from the same variables, with the same
    defaults, as the services' settings (eventledger_runtime.settings; a unit test compares them)."""
    command_port = _port("COMMAND_PORT", 18081)
    query_port = _port("QUERY_PORT", 18082)
    gateway_port = _port("GATEWAY_PORT", 18080)
    return [
        ServiceSpec("command", "eventledger_command", port=command_port),
        ServiceSpec("relay", "eventledger_command.relay", port=_port("RELAY_OPS_PORT", 18091)),
        # Projectors answer on their registered ops ports (eventledger_projections.bootstrap.PROJECTIONS), which is
        # where the query service's admin routes look for them.
        ServiceSpec("projector-postgres", "eventledger_projections", ("run", "postgres"), 18101),
        ServiceSpec("projector-redis", "eventledger_projections", ("run", "redis"), 18102),
        ServiceSpec("projector-elasticsearch", "eventledger_projections", ("run", "elasticsearch"), 18103),
        ServiceSpec(
            "stream-windows", "eventledger_projections", ("run", "windows"), _port("STREAMING_OPS_PORT", 18111)
        ),
        ServiceSpec("query", "eventledger_query", port=query_port),
        ServiceSpec(
            "gateway",
            "eventledger_gateway",
            ("serve",),
            gateway_port,
            {
                "EVENTLEDGER_GATEWAY_COMMAND_URL": f"http://127.0.0.1:{command_port}",
                "EVENTLEDGER_GATEWAY_QUERY_URL": f"http://127.0.0.1:{query_port}",
            },
        ),
    ]


def system_dir(settings: Settings) -> Path:
    return settings.state_dir / "system"


def supervisor_pid_file(settings: Settings) -> Path:
    return system_dir(settings) / "supervisor.pid"


class Supervisor:
    """Keeps every service running until told to stop."""

    def __init__(self, settings: Settings, specs: list[ServiceSpec]) -> None:
        self._dir = system_dir(settings)
        self._specs = specs
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._started_at: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._stopping = False

    def _start(self, spec: ServiceSpec) -> None:
        log = open(self._dir / f"{spec.name}.log", "ab")  # noqa: SIM115 - handed to the child
        child = subprocess.Popen(
            [sys.executable, "-m", spec.module, *spec.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **spec.env},
        )
        log.close()
        self._children[spec.name] = child
        self._started_at[spec.name] = time.monotonic()
        (self._dir / f"{spec.name}.pid").write_text(f"{child.pid}\n")

    def run(self) -> int:
        self._dir.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
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
                print(
                    f"supervisor: {spec.name} exited with {code} after {lived:.1f} s; restart in {delay:.0f} s",
                    flush=True,
                )
                restart_due[spec.name] = now + delay
            time.sleep(0.2)
        for child in self._children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 20
        for child in self._children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        return 0

    def _stop(self, *_: object) -> None:
        self._stopping = True


def start(settings: Settings) -> int:
    """Start the supervisor in the background unless it runs; wait until every service is ready."""
    directory = system_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    pid_file = supervisor_pid_file(settings)
    if read_pid(pid_file) is None:
        log = open(directory / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [sys.executable, "-m", "eventledger_infra", "supervise"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        pid_file.write_text(f"{process.pid}\n")
    specs = services()
    deadline = time.monotonic() + 180
    pending = {spec.name: spec for spec in specs}
    while pending and time.monotonic() < deadline:
        for name, spec in list(pending.items()):
            if _ready(spec):
                print(f"  {name:<24} ready      http://127.0.0.1:{spec.port}")
                del pending[name]
        time.sleep(0.5)
    if pending:
        details = "\n".join(f"{name}:\n{tail(directory / f'{name}.log', 15)}" for name in pending)
        raise ProvisioningError(f"these services did not become ready: {', '.join(pending)}\n{details}")
    return 0


def _ready(spec: ServiceSpec) -> bool:
    try:
        with urllib.request.urlopen(spec.ready_url, timeout=2) as answer:  # noqa: S310 - loopback
            return bool(answer.status == 200)
    except (OSError, ValueError):
        return False


def seed_and_print(settings: Settings) -> int:
    """Seed the demo data through the gateway and print where everything is, with a ready-to-use token."""
    from eventledger_infra import demo

    gateway = f"http://127.0.0.1:{_port('GATEWAY_PORT', 18080)}"
    token = demo.mint_token(["writer", "reader", "auditor", "admin"])
    seeded = demo.seed(gateway, token)
    print(f"""
EventLedger is up, with demo data ({len(seeded["accounts"])} accounts, log at position {seeded["position"]}).
  API (gateway)   {gateway}/v1           OpenAPI  {gateway}/docs
  dashboard       {gateway}/dashboard/#token={token}
  demo account    {seeded["accounts"][0]}
  token (writer, reader, auditor, admin; 24 h):
{token}
  try: curl -H "Authorization: Bearer $TOKEN" {gateway}/v1/stats/overview
  stop with `make down`; logs in {system_dir(settings)}""")
    return 0


def stop(settings: Settings) -> int:
    stopped = stop_pid(supervisor_pid_file(settings), timeout=40)
    print(f"  supervisor     {'stopped with every service' if stopped else 'was not running'}")
    return 0


def status(settings: Settings) -> int:
    supervisor = read_pid(supervisor_pid_file(settings))
    print(f"  supervisor               {'pid ' + str(supervisor) if supervisor else 'stopped'}")
    all_ready = supervisor is not None
    for spec in services():
        pid = read_pid(system_dir(settings) / f"{spec.name}.pid")
        ready = pid is not None and _ready(spec)
        all_ready &= ready
        print(
            f"  {spec.name:<24} {'ready' if ready else 'NOT READY':<10} pid {pid or '-':<8} "
            f"http://127.0.0.1:{spec.port}"
        )
    return 0 if all_ready else 3
