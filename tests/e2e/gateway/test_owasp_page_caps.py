"""API4:2023 Unrestricted resource consumption, page sizes: through the gateway, against the REAL command and query
services (tests/support/pipeline.py), every operation that answers a page takes a ``limit`` the OpenAPI document
caps (200 for the read models, 1000 for the audit log), the cap itself is served, and one more is refused by the
service as a 422 naming ``query.limit`` (as is 0). Unbounded pages are no option: the list of paged operations is
taken from the document, and a paged operation without a cap fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.support.pipeline import gateway_over_pipeline
from tests.support.servers import Endpoints

from eventledger_gateway.app import create_app
from eventledger_gateway.tokens import mint_token
from eventledger_runtime.settings import GatewaySettings

DOCUMENT = create_app(GatewaySettings(rate_limit_enabled=False)).openapi()
CAPS = {
    "/v1/accounts": 200,
    "/v1/accounts/{account_id}/entries": 200,
    "/v1/search/transfers": 200,
    "/v1/audit/events": 1000,
    "/v1/audit/streams/{stream_id}/events": 1000,
}
"""Every paged operation and its cap, written out so that a cap raised in the code or the document fails here."""
SEARCH = "/v1/search/transfers"  # its index is not found on the pipeline (test_real_query_service.py): refusals only


def _limit(path: str) -> dict[str, Any] | None:
    for parameter in DOCUMENT["paths"][path]["get"].get("parameters", []):
        if parameter["in"] == "query" and parameter["name"] == "limit":
            return dict(parameter["schema"])
    return None


def test_every_paged_operation_of_the_document_has_its_cap() -> None:
    paged = {path for path, operations in DOCUMENT["paths"].items() if "get" in operations and _limit(path)}
    assert paged == set(CAPS)
    for path, cap in CAPS.items():
        schema = _limit(path)
        assert schema is not None
        assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 1, cap), path


@pytest.fixture(scope="module")
def ledger(endpoints: Endpoints) -> Iterator[tuple[httpx.Client, str]]:
    """A gateway in front of the real services, a client holding every role but admin, and an account with a
    deposit (so that every paged operation has a subject to page over)."""
    with gateway_over_pipeline(endpoints.redis_url, "gateway-caps") as (url, settings):
        token = mint_token(settings, ["writer", "reader", "auditor"], subject="pager")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            opened = client.post("/v1/accounts", json={"holder_name": "Page Capped", "currency": "EUR"})
            assert opened.status_code == 201, opened.text
            account = opened.json()["account_id"]
            deposit = client.post("/v1/deposits", json={"account_id": account, "amount": 100})
            assert deposit.status_code == 201, deposit.text
            client.headers["X-Min-Position"] = str(deposit.json()["position"])
            yield client, account


def _url(path: str, account: str) -> str:
    return path.replace("{account_id}", account).replace("{stream_id}", f"account-{account}")


@pytest.mark.parametrize("path", sorted(CAPS))
def test_a_limit_over_the_cap_is_refused_and_the_cap_is_served(ledger: tuple[httpx.Client, str], path: str) -> None:
    client, account = ledger
    cap = CAPS[path]
    for refused in (cap + 1, 0, 10**6):
        answer = client.get(_url(path, account), params={"limit": refused})
        assert answer.status_code == 422, (refused, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert "limit" in answer.text
    if path == SEARCH:
        return
    served = client.get(_url(path, account), params={"limit": cap})
    assert served.status_code == 200, served.text
    body = served.json()
    items = body.get("items", body.get("events"))
    assert isinstance(items, list), body
    assert 1 <= len(items) <= cap, body
