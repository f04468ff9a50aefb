"""HAProxy in front of the replicated services (ADR 0019): the configuration, rendered from the instances the
supervisor runs, and the problem+json answers HAProxy gives when no instance can take a request.

Three HTTP frontends take the services' public ports: the gateway's (what clients call), and the command and query
services' (what the gateway calls: one upstream address per side, however many replicas stand behind it). A fourth,
the operations frontend, serves HAProxy's Prometheus metrics (``/metrics``), its statistics page (``/stats``, CSV at
``/stats;csv``) and a liveness answer (``/healthz``).

With :class:`PublicTls` the gateway's frontend answers HTTPS only (ADR 0023): TLS 1.2 at least, forward-secret AEAD
suites, ``Strict-Transport-Security`` on every answer (HAProxy's own included); the hop to the gateway instances
stays plain HTTP on loopback, like every hop between the services on one host.

Every instance is health-checked on ``/readyz`` twice a second; three failures in a row take it out (a check may
take 2 s: on a loaded machine a slow answer is not a dead instance, and with one replica taking it out answers every
client 503), two successes bring it back, so an instance that drains on SIGTERM (its ``/readyz`` answers 503 at
once) stops getting new requests within about 1.5 s. A request that
could not reach an instance (connection refused or reset before it was sent) goes to another one: it never reached
a service, so this is safe for every method. Nothing else is retried here; the gateway retries what is safe to retry
(ADR 0018).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eventledger_infra.process import ProvisioningError, run
from eventledger_infra.services.base import apt_install

OPS_PORT_OFFSET = 8
"""The operations frontend listens on the gateway's public port plus this (18088 by default)."""
HARD_STOP_AFTER = "15s"
"""A soft stop (SIGUSR1: stop accepting, finish what is in flight) gives up on connections still open after this."""


HSTS_MAX_AGE_SECONDS = 31_536_000
"""The gateway's own ``hsts_max_age_seconds`` (a unit test compares them)."""
TLS_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
"""The gateway's own TLS 1.2 suites (``eventledger_gateway.security.TLS_CIPHERS``; a unit test compares them)."""


@dataclass(frozen=True)
class PublicTls:
    """What the public frontend serves HTTPS with: one PEM file holding the certificate chain and then its key."""

    pem: Path


@dataclass(frozen=True)
class Backend:
    """One load-balanced service: its public port and the ports its instances listen on. ``public``: clients call
    it, so HAProxy's own errors are problem+json; the internal frontends (the gateway's upstreams) answer plain
    text instead, which the gateway recognises as the proxy's failure, retries where safe and counts against its
    circuit breaker (ADR 0018), answering the client its own problem+json."""

    name: str
    port: int
    instances: tuple[tuple[str, int], ...]
    public: bool = False


def ensure_installed() -> str:
    """The ``haproxy`` binary, installed from Debian's packages when missing (needs root, like Redis)."""
    found = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)
    if found is None:
        apt_install(["haproxy"], "the load balancer")
        found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    return found


def check(binary: str, config: Path) -> None:
    """``haproxy -c``: refuses a configuration HAProxy would not start with, naming the line."""
    try:
        run([binary, "-c", "-q", "-f", str(config)], "haproxy -c")
    except ProvisioningError as exc:
        raise ProvisioningError(f"the generated HAProxy configuration {config} is invalid: {exc}") from exc


def _problem(status: int, reason: str, kind: str, title: str, detail: str) -> str:
    body = (
        f'{{"type":"https://eventledger.dev/problems/{kind}","title":"{title}","status":{status},"detail":"{detail}"}}'
    )
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/problem+json\r\n"
        "Cache-Control: no-store\r\n"
        # What the gateway sends on every answer (ADR 0023): clients see these pages where they expect its own.
        "X-Content-Type-Options: nosniff\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "X-Frame-Options: DENY\r\n"
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n"
        f"Content-Length: {len(body.encode())}\r\n"
        "\r\n"
        f"{body}"
    )


def _plain(status: int, reason: str, text: str) -> str:
    body = text + "\n"
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: text/plain\r\n"
        "Cache-Control: no-store\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
        f"{body}"
    )


ERROR_PAGES = {
    "problem": {
        502: _problem(502, "Bad Gateway", "bad-gateway", "Bad gateway", "an instance answered with something invalid"),
        503: _problem(
            503, "Service Unavailable", "no-instance-available", "No instance available", "try again shortly"
        ),
        504: _problem(504, "Gateway Timeout", "upstream-timeout", "Upstream timeout", "no answer in time"),
    },
    "plain": {
        502: _plain(502, "Bad Gateway", "haproxy: an instance answered with something invalid"),
        503: _plain(503, "Service Unavailable", "haproxy: no instance available"),
        504: _plain(504, "Gateway Timeout", "haproxy: no answer in time"),
    },
}
ErrorPages = dict[str, dict[int, Path]]


def write_error_pages(directory: Path) -> ErrorPages:
    """Both sets of pages (``problem``, ``plain``) as files HAProxy sends as they are."""
    directory.mkdir(parents=True, exist_ok=True)
    pages: ErrorPages = {}
    for kind, texts in ERROR_PAGES.items():
        pages[kind] = {}
        for status, text in texts.items():
            page = directory / f"{status}-{kind}.http"
            page.write_text(text)
            pages[kind][status] = page
    return pages


def render(
    host: str, backends: Sequence[Backend], ops_port: int, error_pages: ErrorPages, tls: PublicTls | None = None
) -> str:
    """The whole ``haproxy.cfg``; with ``tls``, the public backends' frontends answer HTTPS only."""

    def errorfiles(kind: str) -> list[str]:
        return [f"    errorfile {status} {page}" for status, page in sorted(error_pages[kind].items())]

    lines = [
        "# Generated by eventledger_infra.loadbalancer on every `make up`; edits are lost.",
        "global",
        "    log stdout format raw local0",
        "    maxconn 4096",
        f"    hard-stop-after {HARD_STOP_AFTER}",
        f"    ssl-default-bind-ciphers {TLS_CIPHERS}",
        "    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlog-normal",  # only errors and aborted requests: the services log their own requests
        "    option forwardfor",
        "    option redispatch 1",
        "    retries 2",
        "    retry-on conn-failure",
        "    timeout connect 1s",
        "    timeout queue 5s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        "    timeout client 65s",  # longer than any route's deadline; the figures stream sends every second
        "    timeout server 65s",
        "    timeout client-fin 5s",
        "    timeout server-fin 5s",
        # A check answered late is a loaded machine, not a dead instance: give it 2 s, and three failures in a row
        # (a draining instance answers 503 at once, so it still leaves within about 1.5 s).
        "    timeout check 2s",
        "    default-server inter 500ms fastinter 250ms downinter 1s fall 3 rise 2",
        *errorfiles("problem"),
        "",
        "frontend operations",
        f"    bind {host}:{ops_port}",
        "    monitor-uri /healthz",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 5s",
    ]
    for backend in backends:
        lines += ["", f"frontend {backend.name}"]
        if tls is not None and backend.public:
            lines += [
                f"    bind {host}:{backend.port} ssl crt {tls.pem} alpn http/1.1",
                # after-response: HAProxy's own error answers carry it too
                f'    http-after-response set-header Strict-Transport-Security "max-age={HSTS_MAX_AGE_SECONDS}"',
            ]
        else:
            lines.append(f"    bind {host}:{backend.port}")
        lines += [
            f"    default_backend {backend.name}-instances",
            "",
            f"backend {backend.name}-instances",
            *errorfiles("problem" if backend.public else "plain"),
            "    balance leastconn",
            "    option httpchk GET /readyz",
            "    http-check expect status 200",
        ]
        lines += [f"    server {name} {host}:{port} check" for name, port in backend.instances]
    return "\n".join(lines) + "\n"


def server_states(host: str, ops_port: int) -> dict[str, str]:
    """``backend/server`` → HAProxy's view of it (``UP``, ``DOWN``, ``MAINT``, ``UP 1/2``…), from the CSV statistics;
    empty when HAProxy does not answer."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{host}:{ops_port}/stats;csv", timeout=2) as answer:
            rows = answer.read().decode().splitlines()
    except OSError:
        return {}
    if not rows:
        return {}
    header = rows[0].lstrip("# ").split(",")
    states = {}
    for row in rows[1:]:
        cells = dict(zip(header, row.split(","), strict=False))
        if cells.get("svname") not in (None, "FRONTEND", "BACKEND"):
            states[f"{cells['pxname']}/{cells['svname']}"] = cells.get("status", "?")
    return states
