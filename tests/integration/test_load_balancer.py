"""The generated HAProxy configuration, run by the real HAProxy in front of two small HTTP services: it spreads
requests over the ready instances, takes out one whose ``/readyz`` fails and sends its traffic to the other, answers
problem+json with ``Retry-After`` when none is ready, serves its statistics and Prometheus metrics, and finishes a
request in flight when it is told to stop softly (SIGUSR1)."""

from __future__ import annotations

import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from tests.support.processes import free_port, wait_for

from eventledger_infra import loadbalancer


@dataclass
class Instance:
    """A stand-in service: answers ``/readyz`` (200 unless told otherwise), ``/slow`` after a second, and anything
    else with its own name."""

    name: str
    ready: bool = True
    served: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        instance = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/readyz":
                    status, body = (200, b"ready") if instance.ready else (503, b"draining")
                else:
                    if self.path == "/slow":
                        time.sleep(1.0)
                    instance.served.append(self.path)
                    status, body = 200, instance.name.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return int(self.server.server_address[1])

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Balancer:
    url: str
    ops_port: int
    process: subprocess.Popen[bytes]
    instances: tuple[Instance, Instance]
    log: Path


@pytest.fixture
def balancer(tmp_path: Path) -> Iterator[Balancer]:
    haproxy = loadbalancer.ensure_installed()
    one, two = Instance("one"), Instance("two")
    port, ops_port = free_port(), free_port()
    backend = loadbalancer.Backend("gateway", port, (("one", one.start()), ("two", two.start())), public=True)
    pages = loadbalancer.write_error_pages(tmp_path / "errors")
    config = tmp_path / "haproxy.cfg"
    config.write_text(loadbalancer.render("127.0.0.1", [backend], ops_port, pages))
    loadbalancer.check(haproxy, config)
    log = tmp_path / "haproxy.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([haproxy, "-W", "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT)
    running = Balancer(f"http://127.0.0.1:{port}", ops_port, process, (one, two), log)
    try:
        wait_for(lambda: _all_up(running), 15, "HAProxy to see both instances up")
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        one.stop()
        two.stop()


def _all_up(balancer: Balancer) -> bool:
    states = loadbalancer.server_states("127.0.0.1", balancer.ops_port)
    return states == {"gateway-instances/one": "UP", "gateway-instances/two": "UP"}


def test_requests_are_spread_over_the_ready_instances(balancer: Balancer) -> None:
    answers = {httpx.get(f"{balancer.url}/v1/x", timeout=5).text for _ in range(20)}
    assert answers == {"one", "two"}


def test_an_instance_whose_readyz_fails_gets_no_more_requests(balancer: Balancer) -> None:
    one, _ = balancer.instances
    one.ready = False
    wait_for(
        lambda: loadbalancer.server_states("127.0.0.1", balancer.ops_port).get("gateway-instances/one") == "DOWN",
        10,
        "HAProxy to take the draining instance out",
    )
    before = len(one.served)
    assert {httpx.get(f"{balancer.url}/v1/x", timeout=5).text for _ in range(10)} == {"two"}
    assert len(one.served) == before
    one.ready = True
    wait_for(lambda: _all_up(balancer), 10, "the instance back in")


def test_a_stopped_instance_is_skipped_without_an_error(balancer: Balancer) -> None:
    """Connection refused before the request was sent: HAProxy sends it to the other instance (``retry-on
    conn-failure`` with ``redispatch``), even before the health check has noticed."""
    one, _ = balancer.instances
    one.stop()
    answers = [httpx.get(f"{balancer.url}/v1/x", timeout=5) for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 10
    assert {a.text for a in answers} == {"two"}


def test_no_ready_instance_is_a_problem_json_503_with_retry_after(balancer: Balancer) -> None:
    for instance in balancer.instances:
        instance.ready = False
    wait_for(
        lambda: set(loadbalancer.server_states("127.0.0.1", balancer.ops_port).values()) == {"DOWN"},
        10,
        "both instances down",
    )
    answer = httpx.get(f"{balancer.url}/v1/x", timeout=5)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["type"].endswith("/no-instance-available")


def test_the_operations_frontend_serves_metrics_and_statistics(balancer: Balancer) -> None:
    ops = f"http://127.0.0.1:{balancer.ops_port}"
    assert httpx.get(f"{ops}/healthz", timeout=5).status_code == 200
    metrics = httpx.get(f"{ops}/metrics", timeout=5).text
    assert 'haproxy_server_status{proxy="gateway-instances",server="one",state="UP"} 1' in metrics
    assert "gateway-instances,one," in httpx.get(f"{ops}/stats;csv", timeout=5).text


def test_a_soft_stop_finishes_the_request_in_flight(balancer: Balancer) -> None:
    result: dict[str, httpx.Response] = {}
    slow = threading.Thread(target=lambda: result.update(answer=httpx.get(f"{balancer.url}/slow", timeout=10)))
    slow.start()
    time.sleep(0.3)
    balancer.process.send_signal(signal.SIGUSR1)
    slow.join(10)
    assert result["answer"].status_code == 200
    assert balancer.process.wait(10) == 0


@dataclass
class TlsBalancer:
    url: str
    ops_port: int
    instance: Instance
    ca_file: Path


@pytest.fixture
def tls_balancer(tmp_path: Path) -> Iterator[TlsBalancer]:
    """The generated configuration with the public frontend on TLS (a development certificate), one instance behind
    it over plain HTTP."""
    from eventledger_gateway.devcert import ensure_dev_certificate

    haproxy = loadbalancer.ensure_installed()
    files, _ = ensure_dev_certificate(tmp_path / "tls")
    pem = tmp_path / "gateway.pem"
    pem.write_bytes(files.cert_file.read_bytes() + files.key_file.read_bytes())
    instance = Instance("one")
    port, ops_port = free_port(), free_port()
    backend = loadbalancer.Backend("gateway", port, (("one", instance.start()),), public=True)
    config = tmp_path / "haproxy.cfg"
    pages = loadbalancer.write_error_pages(tmp_path / "errors")
    config.write_text(loadbalancer.render("127.0.0.1", [backend], ops_port, pages, loadbalancer.PublicTls(pem)))
    loadbalancer.check(haproxy, config)
    with open(tmp_path / "haproxy.log", "wb") as out:
        process = subprocess.Popen([haproxy, "-W", "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(
            lambda: loadbalancer.server_states("127.0.0.1", ops_port) == {"gateway-instances/one": "UP"},
            15,
            "HAProxy to see the instance up",
        )
        yield TlsBalancer(f"https://127.0.0.1:{port}", ops_port, instance, files.ca_file)
    finally:
        process.kill()
        process.wait(10)
        instance.stop()


def test_with_tls_a_client_trusting_the_ca_reaches_an_instance_and_gets_hsts(tls_balancer: TlsBalancer) -> None:
    trusting = ssl.create_default_context(cafile=tls_balancer.ca_file)
    answer = httpx.get(f"{tls_balancer.url}/v1/x", verify=trusting, timeout=5)
    assert (answer.status_code, answer.text) == (200, "one")
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    assert tls_balancer.instance.served == ["/v1/x"]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_with_tls_untrusting_clients_old_protocols_and_plain_http_get_nothing(tls_balancer: TlsBalancer) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_balancer.url}/v1/x", timeout=5)
    old = ssl.create_default_context(cafile=tls_balancer.ca_file)
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1  # the point: HAProxy must refuse it
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{tls_balancer.url}/v1/x", verify=old, timeout=5)
    with pytest.raises(httpx.TransportError):
        httpx.get(tls_balancer.url.replace("https://", "http://") + "/v1/x", timeout=5)
    assert tls_balancer.instance.served == []


def test_with_tls_haproxys_own_problem_answers_carry_hsts(tls_balancer: TlsBalancer) -> None:
    tls_balancer.instance.ready = False
    wait_for(
        lambda: loadbalancer.server_states("127.0.0.1", tls_balancer.ops_port) == {"gateway-instances/one": "DOWN"},
        10,
        "the instance down",
    )
    answer = httpx.get(f"{tls_balancer.url}/v1/x", verify=ssl.create_default_context(cafile=tls_balancer.ca_file))
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    assert answer.headers["x-content-type-options"] == "nosniff"
