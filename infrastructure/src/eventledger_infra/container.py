"""The entry point of the EventLedger image (ADR 0030): ``<image> <service>`` runs one service the way the supervisor
runs that service's first instance (:func:`eventledger_infra.system.service_commands`: the same module, arguments
and environment), and ``<image> --health`` is the image's health check.

The container's own environment wins over the supervisor's defaults, so a deployment moves a port or an upstream by
setting the variable. The service replaces this process (``exec``): it is the container's PID 1 and gets its
signals. Before that, the address of its readiness endpoint is written to :data:`READY_URL_FILE`, where the health
check, a separate process of the same container, finds it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from eventledger_infra.system import ServiceSpec, service_commands

READY_URL_FILE = Path(tempfile.gettempdir()) / "eventledger-ready-url"

USAGE = "usage: <image> SERVICE | --health\n  SERVICE: one of {services}"


def environment(spec: ServiceSpec, inherited: Mapping[str, str]) -> dict[str, str]:
    """The supervisor's variables for the service, overridden by the container's, without what the service must
    not inherit (the gateway's TLS files: the load balancer serves them)."""
    merged = {**spec.env, **inherited}
    return {name: value for name, value in merged.items() if name not in spec.unset_env}


def ready_url(spec: ServiceSpec, env: Mapping[str, str]) -> str:
    port = env.get(spec.port_variable, str(spec.port))
    return f"{spec.scheme}://127.0.0.1:{port}{spec.ready_path}"


def health(url_file: Path = READY_URL_FILE) -> int:
    """0 when the service answers its readiness endpoint with 200, else 1 (what HEALTHCHECK expects)."""
    try:
        url = url_file.read_text().strip()
        with urllib.request.urlopen(url, timeout=3) as answer:  # noqa: S310 - our own loopback endpoint
            return 0 if answer.status == 200 else 1
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = service_commands()
    if args == ["--health"]:
        return health()
    if len(args) != 1 or args[0] not in commands:
        print(USAGE.format(services=", ".join(commands)), file=sys.stderr)
        return 2
    spec = commands[args[0]]
    env = environment(spec, os.environ)
    READY_URL_FILE.write_text(ready_url(spec, env) + "\n")
    os.execve(spec.argv[0], list(spec.argv), env)  # noqa: S606 - the service replaces the entry point
    return 1  # execve returns only by raising


if __name__ == "__main__":
    sys.exit(main())
