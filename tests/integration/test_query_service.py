"""The query service over real read models fed by the real pipeline: read-your-writes, pagination, 404s, 503."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from tests.support.pipeline import Pipeline, pipeline
from tests.support.servers import Endpoints


@pytest.fixture(scope="module")
def running(endpoints: Endpoints) -> Iterator[Pipeline]:
    with pipeline() as run:
        yield run


def _open(command: httpx.Client, holder: str, currency: str = "EUR") -> tuple[str, int]:
    answer = command.post("/v1/accounts", json={"holder_name": holder, "currency": currency})
    assert answer.status_code == 201, answer.text
    return answer.json()["account_id"], answer.json()["position"]


def test_read_your_writes_with_min_position(running: Pipeline) -> None:
    with (
        httpx.Client(base_url=running.command_url, timeout=30) as command,
        httpx.Client(base_url=running.query_url, timeout=30) as query,
    ):
        account, _ = _open(command, "Ada Lovelace")
        deposit = command.post("/v1/deposits", json={"account_id": account, "amount": 1234, "description": "salary"})
        position = deposit.json()["position"]
        answer = query.get(f"/v1/accounts/{account}", headers={"X-Min-Position": str(position)})
        assert answer.status_code == 200, answer.text
        assert int(answer.headers["X-Read-Position"]) >= position
        assert answer.json()["balance"] == 1234
        assert answer.json()["available"] == 1234
        entries = query.get(f"/v1/accounts/{account}/entries", headers={"X-Min-Position": str(position)}).json()
        assert [(e["amount"], e["balance_after"], e["description"]) for e in entries["items"]] == [
            (1234, 1234, "salary")
        ]
        transfer = query.get(
            f"/v1/transfers/{deposit.json()['transfer_id']}", headers={"X-Min-Position": str(position)}
        ).json()
        assert (transfer["amount"], transfer["status"], transfer["currency"]) == (1234, "posted", "EUR")


def test_a_position_never_reached_answers_503_with_retry_after(running: Pipeline) -> None:
    with httpx.Client(base_url=running.query_url, timeout=30) as query:
        answer = query.get(f"/v1/accounts/{uuid.uuid4()}", headers={"X-Min-Position": "999999999"}, timeout=30)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/read-model-behind")


def test_account_lists_filter_and_page(running: Pipeline) -> None:
    with (
        httpx.Client(base_url=running.command_url, timeout=30) as command,
        httpx.Client(base_url=running.query_url, timeout=30) as query,
    ):
        last = 0
        for i in range(5):
            _, last = _open(command, f"Zed Pager {i}", "CHF")
        found: list[str] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"currency": "CHF", "holder": "zed pager", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = query.get("/v1/accounts", params=params, headers={"X-Min-Position": str(last)}).json()
            found += [item["holder_name"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(found) == [f"Zed Pager {i}" for i in range(5)]


def test_bad_queries_are_named_422s_and_unknown_ids_404s(running: Pipeline) -> None:
    with httpx.Client(base_url=running.query_url, timeout=30) as query:
        assert query.get("/v1/accounts", params={"currency": "eur"}).status_code == 422
        assert query.get("/v1/accounts", params={"cursor": "!!"}).json()["errors"][0]["field"] == "query.cursor"
        assert query.get("/v1/accounts/not-a-uuid").status_code == 422
        assert query.get(f"/v1/transfers/{uuid.uuid4()}").status_code == 404
        assert query.get("/v1/search/transfers", params={"min_amount": 5, "max_amount": 1}).status_code == 422


def test_admin_reports_position_lag_and_state_and_pauses(running: Pipeline) -> None:
    with (
        httpx.Client(base_url=running.command_url, timeout=30) as command,
        httpx.Client(base_url=running.query_url, timeout=30) as query,
    ):
        _, position = _open(command, "Admin Watched")
        query.get("/v1/accounts", params={"limit": 1}, headers={"X-Min-Position": str(position)})
        statuses = query.get("/v1/admin/projections").json()["items"]
        postgres = next(s for s in statuses if s["projection"] == "postgres")
        assert postgres["state"] == "running"
        assert postgres["position"] >= position
        assert postgres["lag_events"] == postgres["head_position"] - postgres["position"]
        assert postgres["lag_seconds"] >= 0
        paused = query.post("/v1/admin/projections/postgres/pause").json()
        assert paused["state"] == "paused"
        _, later = _open(command, "Written While Paused")
        behind = query.get("/v1/accounts", headers={"X-Min-Position": str(later)})
        assert behind.status_code == 503
        assert query.post("/v1/admin/projections/postgres/resume").json()["state"] == "running"
        assert query.get("/v1/accounts", headers={"X-Min-Position": str(later)}).status_code == 200
        assert query.get("/v1/admin/projections/nonesuch").status_code == 404
