"""The generated HAProxy configuration: clients get problem+json from HAProxy itself, the gateway's upstreams plain
text (which the gateway treats as the proxy's failure: ADR 0018); every page is a complete HTTP response."""

from __future__ import annotations

import json
from pathlib import Path

from eventledger_infra import loadbalancer


def _sections(config: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    name = ""
    for line in config.splitlines():
        if line and not line.startswith(" "):
            name = line
            sections[name] = ""
        elif name:
            sections[name] += line.strip() + "\n"
    return sections


def test_public_frontends_answer_problem_json_and_internal_ones_plain_text(tmp_path: Path) -> None:
    pages = loadbalancer.write_error_pages(tmp_path)
    backends = [
        loadbalancer.Backend("gateway", 18080, (("gateway", 19080), ("gateway-2", 20080)), public=True),
        loadbalancer.Backend("command", 18081, (("command", 19081),)),
    ]
    sections = _sections(loadbalancer.render("127.0.0.1", backends, 18088, pages))
    assert f"errorfile 503 {pages['problem'][503]}" in sections["backend gateway-instances"]
    assert f"errorfile 503 {pages['plain'][503]}" in sections["backend command-instances"]
    assert "server gateway-2 127.0.0.1:20080 check" in sections["backend gateway-instances"]
    assert "bind 127.0.0.1:18081" in sections["frontend command"]
    assert "option httpchk GET /readyz" in sections["backend command-instances"]


def test_every_error_page_is_a_whole_http_response(tmp_path: Path) -> None:
    for kind, pages in loadbalancer.write_error_pages(tmp_path).items():
        for status, page in pages.items():
            head, _, body = page.read_bytes().partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            assert lines[0].startswith(f"HTTP/1.1 {status} ")
            headers = dict(line.split(": ", 1) for line in lines[1:])
            assert int(headers["Content-Length"]) == len(body)
            assert headers["Retry-After"] == "1"
            if kind == "problem":
                assert headers["Content-Type"] == "application/problem+json"
                assert json.loads(body)["status"] == status
            else:
                assert headers["Content-Type"] == "text/plain"


def test_with_tls_only_the_public_frontend_answers_https_with_hsts(tmp_path: Path) -> None:
    pages = loadbalancer.write_error_pages(tmp_path)
    backends = [
        loadbalancer.Backend("gateway", 18080, (("gateway", 19080),), public=True),
        loadbalancer.Backend("command", 18081, (("command", 19081),)),
    ]
    pem = tmp_path / "gateway.pem"
    config = loadbalancer.render("127.0.0.1", backends, 18088, pages, loadbalancer.PublicTls(pem))
    sections = _sections(config)
    assert f"bind 127.0.0.1:18080 ssl crt {pem} alpn http/1.1" in sections["frontend gateway"]
    assert 'http-after-response set-header Strict-Transport-Security "max-age=31536000"' in sections["frontend gateway"]
    assert sections["frontend command"].startswith("bind 127.0.0.1:18081\n")  # the gateway's upstreams: loopback
    assert "Strict-Transport-Security" not in sections["frontend command"]
    assert "server gateway 127.0.0.1:19080 check\n" in sections["backend gateway-instances"]  # plain hop
    assert "ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets" in sections["global"]
    plain = loadbalancer.render("127.0.0.1", backends, 18088, pages)
    assert " ssl " not in plain
    assert "Strict-Transport-Security" not in plain


def test_haproxy_sends_what_the_gateway_sends(tmp_path: Path) -> None:
    """Its own answers to clients carry the gateway's browser headers, and its TLS the gateway's suites and HSTS."""
    from eventledger_gateway.security import API_CSP, EVERY_ANSWER, TLS_CIPHERS
    from eventledger_runtime.settings import GatewaySettings

    assert loadbalancer.TLS_CIPHERS == TLS_CIPHERS
    assert GatewaySettings().hsts_max_age_seconds == loadbalancer.HSTS_MAX_AGE_SECONDS
    for page in loadbalancer.write_error_pages(tmp_path)["problem"].values():
        head = page.read_bytes().decode().partition("\r\n\r\n")[0]
        for name, value in (*EVERY_ANSWER, ("Cache-Control", "no-store"), ("Content-Security-Policy", API_CSP)):
            assert f"\r\n{name}: {value}\r\n" in head + "\r\n", (page, name)
