"""What the gateway tells browsers (ADR 0023): the security headers on every kind of answer (errors too), no-store
on API answers, the dashboard's strict CSP, HSTS only when the gateway serves TLS, and a CORS policy that allows
nothing until origins are listed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx  # starlette's TestClient answers httpx2 responses once httpx2 is installed
import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from starlette.routing import Route
from tests.support.gateway import bearer

from eventledger_gateway.app import DASHBOARD, create_app
from eventledger_gateway.devcert import ensure_dev_certificate
from eventledger_gateway.security import API_CSP, DASHBOARD_CSP
from eventledger_runtime.settings import GatewaySettings

EVERY_ANSWER = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}
APP = "https://app.example.com"


def _has_every_answer_header(answer: httpx.Response) -> None:
    assert {name: answer.headers.get(name) for name in EVERY_ANSWER} == EVERY_ANSWER, answer.request.url


def _is_an_api_answer(answer: httpx.Response) -> None:
    _has_every_answer_header(answer)
    assert answer.headers.get("cache-control") == "no-store", answer.request.url
    assert answer.headers.get("content-security-policy") == API_CSP, answer.request.url


async def _boom(_request: Request) -> None:
    raise RuntimeError("a bug")


@pytest.fixture
def with_a_bug(settings: GatewaySettings) -> Iterator[TestClient]:
    """The gateway with one more route that raises: the request-context layer answers its last-resort 500."""
    app = create_app(settings)
    app.router.routes.append(Route("/v1/boom", _boom))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_api_answers_of_every_kind_are_not_stored_and_run_nothing(
    client: TestClient, settings: GatewaySettings
) -> None:
    answers = {
        "ok": client.get("/healthz"),
        "document": client.get("/openapi.json"),
        "metrics": client.get("/metrics"),
        "401": client.get("/v1/accounts"),
        "404": client.get("/v1/no-such-thing"),
        "405": client.delete("/v1/accounts"),
        "503 (no upstream)": client.get("/v1/accounts", headers=bearer(settings, "reader")),
        "redirect": client.get("/", follow_redirects=False),
    }
    assert [a.status_code for a in answers.values()] == [200, 200, 200, 401, 404, 405, 503, 307]
    assert answers["401"].headers["content-type"] == "application/problem+json"
    for answer in answers.values():
        _is_an_api_answer(answer)


def test_oauth_answers_are_not_stored_and_public_documents_keep_their_own_caching(client: TestClient) -> None:
    refused = client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert refused.status_code == 401
    _is_an_api_answer(refused)
    keys = client.get("/.well-known/jwks.json")
    assert keys.status_code == 200
    _has_every_answer_header(keys)
    assert keys.headers["content-security-policy"] == API_CSP
    assert keys.headers["cache-control"] == "public, max-age=60"  # the endpoint's own: keys are public, cacheable


def test_the_last_resort_500_carries_the_headers_too(with_a_bug: TestClient) -> None:
    answer = with_a_bug.get("/v1/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["x-request-id"]
    _is_an_api_answer(answer)


def test_the_dashboard_gets_a_strict_page_policy_and_no_api_policy(client: TestClient) -> None:
    for path in ("/dashboard/", "/dashboard/dashboard.js", "/dashboard/dashboard.css", "/dashboard/missing.png"):
        answer = client.get(path)
        _has_every_answer_header(answer)
        assert answer.headers["content-security-policy"] == DASHBOARD_CSP, path
        assert "cache-control" not in answer.headers, path
    assert "'unsafe-inline'" not in DASHBOARD_CSP
    assert "'unsafe-eval'" not in DASHBOARD_CSP


def test_the_dashboard_page_has_nothing_inline_its_policy_would_block() -> None:
    """The browser test proves the page works under the policy; this names the line that would break it."""
    page = (DASHBOARD / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<style" not in page
    assert " style=" not in page
    assert re.search(r"\son[a-z]+=", page) is None


def test_the_api_documentation_page_keeps_its_cdn_assets(client: TestClient) -> None:
    answer = client.get("/docs")
    assert answer.status_code == 200
    _has_every_answer_header(answer)
    assert "content-security-policy" not in answer.headers


def test_no_hsts_over_plain_http(client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/healthz").headers
    assert "strict-transport-security" not in client.get("/dashboard/").headers


def test_hsts_on_every_answer_when_the_gateway_serves_tls(settings: GatewaySettings, tmp_path: Path) -> None:
    files, _ = ensure_dev_certificate(tmp_path)
    tls = settings.model_copy(update={"tls_cert_file": files.cert_file, "tls_key_file": files.key_file})
    with TestClient(create_app(tls), raise_server_exceptions=False) as client:
        for path in ("/healthz", "/v1/accounts", "/dashboard/"):
            assert client.get(path).headers["strict-transport-security"] == "max-age=31536000", path


# ---------------------------------------------------------------------------------------------- CORS
def _preflight(client: TestClient, origin: str, method: str = "POST", headers: str = "authorization") -> httpx.Response:
    answer: httpx.Response = client.options(
        "/v1/transfers",
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )
    return answer


def test_by_default_no_origin_is_allowed_and_no_cors_header_is_sent(client: TestClient) -> None:
    preflight = _preflight(client, APP)
    assert preflight.status_code == 405
    assert not [name for name in preflight.headers if name.startswith("access-control-")]
    simple = client.get("/v1/accounts", headers={"Origin": APP})
    assert not [name for name in simple.headers if name.startswith("access-control-")]


@pytest.fixture
def cors(settings: GatewaySettings) -> Iterator[TestClient]:
    allowed = settings.model_copy(update={"cors_allow_origins": [APP]})
    with TestClient(create_app(allowed), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_listed_origins_preflight_is_allowed_with_the_listed_methods_and_headers(cors: TestClient) -> None:
    answer = _preflight(cors, APP, headers="authorization, content-type, idempotency-key")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP
    assert set(answer.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
    allowed_headers = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed_headers
    assert answer.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in answer.headers
    _is_an_api_answer(answer)


def test_preflights_from_another_origin_or_for_another_method_or_header_are_refused(cors: TestClient) -> None:
    """A browser fails a preflight that is not answered 2xx, whatever its other headers say."""
    for origin in ("https://evil.example.com", APP + ".evil.example.com", "http://app.example.com"):
        answer = _preflight(cors, origin)
        assert answer.status_code == 400, origin
        assert "access-control-allow-origin" not in answer.headers, origin
        _is_an_api_answer(answer)
    for answer in (_preflight(cors, APP, method="DELETE"), _preflight(cors, APP, headers="x-forged")):
        assert answer.status_code == 400
        assert "DELETE" not in answer.headers["access-control-allow-methods"]
        assert "x-forged" not in answer.headers["access-control-allow-headers"].lower()


def test_a_listed_origin_may_read_answers_and_errors_and_their_ids(cors: TestClient) -> None:
    answer = cors.get("/v1/accounts", headers={"Origin": APP})
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == APP
    exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "x-read-position", "retry-after", "www-authenticate"} <= exposed
    other = cors.get("/v1/accounts", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers
