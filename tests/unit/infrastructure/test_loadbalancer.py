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
