"""API7:2023 Server-side request forgery, over HTTP: whatever address a client puts in a request (the Host header,
X-Forwarded-Host, an absolute URL in the target, a URL in a path segment or a query parameter), the gateway sends
the request to its configured upstream and to nothing else. A canary server at the address the client names
counts every request it gets: none."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.responses import Response
from tests.support.gateway import bearer
from tests.support.http_service import serve

from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings


class Canary:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST"])
        async def anything(path: str, request: Request) -> Response:
            self.seen.append(f"{request.method} /{path}")
            return Response("canary")

        return app


@pytest.fixture
def canary() -> Iterator[tuple[str, Canary]]:
    bird = Canary()
    with serve(bird.app()) as url:
        yield url, bird


def _absolute_form(gateway_url: str, target: str, authorization: str) -> tuple[int, bytes]:
    """A request whose target is an absolute URL (RFC 9112 §3.2.2, what a forward proxy would fetch), sent as raw
    bytes: HTTP clients only send that form to a proxy. Answers the status and the body."""
    host, port = gateway_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {authorization}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_no_address_in_a_request_makes_the_gateway_fetch_it(
    gateway: tuple[str, GatewaySettings], upstream_url: str, canary: tuple[str, Canary]
) -> None:
    url, settings = gateway
    canary_url, bird = canary
    canary_host = canary_url.removeprefix("http://")
    upstream_host = upstream_url.removeprefix("http://")

    def reader(n: int) -> dict[str, str]:  # a subject per request: the fixture's bucket holds 3
        return bearer(settings, "reader", subject=f"ssrf-{n}")

    with httpx.Client(base_url=url, timeout=10) as client:
        forwarded = [
            client.get("/v1/stats/overview", headers={**reader(1), "Host": canary_host}),
            client.get("/v1/stats/overview", headers={**reader(2), "X-Forwarded-Host": canary_host}),
            client.get("/v1/search/transfers", params={"url": canary_url, "callback": canary_url}, headers=reader(3)),
            client.post(
                "/v1/deposits",
                json={"account_id": canary_url, "webhook": canary_url},
                headers=bearer(settings, "writer", subject="ssrf-4"),
            ),
        ]
        in_a_path = client.get(f"/v1/accounts/{quote(canary_url + '/steal', safe='')}", headers=reader(5))
    status, body = _absolute_form(url, canary_url + "/v1/stats/overview", reader(6)["Authorization"])
    for answer in forwarded:
        assert answer.status_code == 200, answer.text  # the echo upstream answered, with what it received
        assert answer.json()["headers"]["host"] == upstream_host
    assert forwarded[2].json()["path"] == "/v1/search/transfers"
    assert in_a_path.status_code == 404  # an address is no account id: no route, nothing forwarded
    # An absolute-form target is taken for its path (RFC 9112 §3.2.2: a server must accept that form; httptools
    # does, ADR 0036): the configured upstream answers it, and the address in it is never asked.
    assert status == 200, body
    assert json.loads(body)["path"] == "/v1/stats/overview"
    assert json.loads(body)["headers"]["host"] == upstream_host
    assert bird.seen == []
    # The canary counts what reaches it (else seeing nothing would prove nothing).
    assert httpx.get(canary_url + "/probe", timeout=10).text == "canary"
    assert bird.seen == ["GET /probe"]


def test_an_upstream_redirect_is_never_followed(canary: tuple[str, Canary]) -> None:
    """API10:2023 as well: an upstream's answer is not trusted to send the gateway elsewhere."""
    canary_url, bird = canary
    redirecting = FastAPI()

    @redirecting.get("/v1/stats/overview")
    async def elsewhere() -> Response:
        return Response(status_code=307, headers={"Location": canary_url + "/internal"})

    with serve(redirecting) as upstream:
        settings = GatewaySettings(command_url=upstream, query_url=upstream, rate_limit_enabled=False)
        with serve(create_app(settings)) as url:
            answer = httpx.get(url + "/v1/stats/overview", headers=bearer(settings, "reader"), timeout=10)
    assert answer.status_code == 307
    assert answer.content != b"canary"
    assert bird.seen == []


def test_a_token_naming_where_to_fetch_its_key_is_refused_and_nothing_is_fetched(
    gateway: tuple[str, GatewaySettings], canary: tuple[str, Canary]
) -> None:
    """Keys come from the gateway's own key ring and settings only: a token's ``jku``, ``x5u`` or embedded ``jwk``
    is never followed or used."""
    url, _ = gateway
    canary_url, bird = canary
    stranger = Ed25519PrivateKey.generate()
    public_jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(stranger.public_key()))
    claims = {"sub": "mallory", "roles": ["reader"], "iat": int(time.time()), "exp": int(time.time()) + 300}
    headers = {"kid": "mallory-1", "jku": canary_url + "/jwks.json", "x5u": canary_url + "/cert.pem", "jwk": public_jwk}
    token = jwt.encode(claims, stranger, algorithm="EdDSA", headers=headers)
    answer = httpx.get(url + "/v1/stats/overview", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 401, answer.text
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert bird.seen == []
