"""Issue 16's defects, reproduced on the real stores: text PostgreSQL cannot store and numbers beyond its ``bigint``
answer a named 422 (or a 404), never a 500 that the gateway turns into a 502 or 503."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from tests.support.eventstore import isolated_schema
from tests.support.http_service import serve
from tests.support.pipeline import Pipeline, pipeline
from tests.support.servers import Endpoints

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import build
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_runtime.settings import CommandSettings

BEYOND_INT64 = "99999999999999999999"
UNSTORABLE = ["a\u0000b", "\u0000", "a\ud800b"]


@pytest.fixture(scope="module")
def command_url(endpoints: Endpoints) -> Iterator[str]:
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        container = build(CommandSettings(), store=PostgresEventStore(dsn, pool_size=4))
        with serve(create_app(container)) as url:
            yield url


def _fields(answer: httpx.Response, status: int = 422) -> set[str]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return {error["field"] for error in answer.json().get("errors", [])}


def _raw_json(text: str) -> str:
    """``text`` as a JSON string literal with every non-ASCII character escaped (a lone surrogate too)."""
    return '"' + "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else f"\\u{ord(c):04x}" for c in text) + '"'


def _open(client: httpx.Client) -> str:
    answer = client.post("/v1/accounts", json={"holder_name": "Ada", "currency": "EUR"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["account_id"])


@pytest.mark.parametrize("text", UNSTORABLE)
def test_unstorable_holder_names_and_descriptions_are_named_422s(command_url: str, text: str) -> None:
    with httpx.Client(base_url=command_url, timeout=30) as client:
        account = _open(client)
        opened = client.post(
            "/v1/accounts",
            content=f'{{"holder_name": {_raw_json(text)}, "currency": "EUR"}}',
            headers={"content-type": "application/json"},
        )
        assert _fields(opened) == {"body.holder_name"}
        for path in ("/v1/deposits", "/v1/withdrawals"):
            body = f'{{"account_id": "{account}", "amount": 1, "description": {_raw_json(text)}}}'
            moved = client.post(path, content=body, headers={"content-type": "application/json"})
            assert _fields(moved) == {"body.description"}, path


def test_audit_of_a_stream_id_with_nul_is_refused(command_url: str) -> None:
    with httpx.Client(base_url=command_url, timeout=30) as client:
        assert _fields(client.get("/v1/audit/streams/account-%00/events")) == {"path.stream_id"}
        assert client.get("/v1/audit/streams/account-nonesuch/events").status_code == 404


def test_versions_and_positions_that_cannot_exist_are_refused(command_url: str) -> None:
    with httpx.Client(base_url=command_url, timeout=30) as client:
        account = _open(client)
        state = f"/v1/audit/accounts/{account}/state"
        assert _fields(client.get(state, params={"version": BEYOND_INT64})) == {"query.version"}
        beyond_stream = client.get(state, params={"version": 2})
        assert beyond_stream.status_code == 404, beyond_stream.text
        assert client.get(state, params={"version": 1}).json()["version"] == 1
        assert _fields(client.get("/v1/audit/events", params={"from_position": BEYOND_INT64})) == {
            "query.from_position"
        }
        assert _fields(client.get(f"/v1/audit/streams/account-{account}/events", params={"from_version": BEYOND_INT64}))
        largest = client.get("/v1/audit/events", params={"from_position": str(2**63 - 1)})
        assert largest.status_code == 200, largest.text
        assert largest.json()["items"] == []


@pytest.fixture(scope="module")
def running(endpoints: Endpoints) -> Iterator[Pipeline]:
    with pipeline() as run:
        yield run


def test_query_service_refuses_positions_beyond_int64_and_unstorable_filters(running: Pipeline) -> None:
    with httpx.Client(base_url=running.query_url, timeout=30) as query:
        account = f"/v1/accounts/{uuid.uuid4()}"
        assert _fields(query.get(account, headers={"X-Min-Position": BEYOND_INT64})) == {"header.X-Min-Position"}
        assert _fields(query.get("/v1/accounts", headers={"X-Min-Position": BEYOND_INT64})) == {"header.X-Min-Position"}
        assert _fields(query.get("/v1/accounts", params={"holder": "a\u0000"})) == {"query.holder"}
        assert _fields(query.get("/v1/search/transfers", params={"q": "a\u0000"})) == {"query.q"}
        assert query.get(account, headers={"X-Min-Position": "0"}).status_code == 404
