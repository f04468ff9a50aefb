"""The bitemporal audit questions on the real PostgreSQL event store, over real HTTP (ADR 0034).

The command service is built with a clock the test moves (decisions) and the same clock as the store's recording
clock, so a March entry is really recorded "on April 5": through the service and the store's append, never by SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from tests.support.clock import Clock
from tests.support.eventstore import isolated_schema
from tests.support.http_service import serve
from tests.support.servers import Endpoints

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import build
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_runtime.settings import CommandSettings

MARCH_CLOSE = "2026-03-31T23:59:59.999999Z"
APRIL_1 = "2026-04-01T00:00:00Z"


@pytest.fixture
def ledger(endpoints: Endpoints) -> Iterator[tuple[httpx.Client, Clock]]:
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        store = PostgresEventStore(dsn, pool_size=4, recording_clock=clock)
        container = build(CommandSettings(backdate_window_days=45), store=store, clock=clock)
        with serve(create_app(container)) as url, httpx.Client(base_url=url, timeout=30) as client:
            yield client, clock


def _post(client: httpx.Client, path: str, body: dict[str, object]) -> dict[str, object]:
    answer = client.post(path, json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _get(client: httpx.Client, path: str, **params: str) -> dict[str, object]:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_march_entry_recorded_on_april_5_changes_march_as_known_today_but_not_as_known_on_april_1(
    ledger: tuple[httpx.Client, Clock],
) -> None:
    client, clock = ledger
    account = str(_post(client, "/v1/accounts", {"holder_name": "Ada", "currency": "EUR"})["account_id"])
    other = str(_post(client, "/v1/accounts", {"holder_name": "Bob", "currency": "EUR"})["account_id"])
    clock.now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    _post(client, "/v1/deposits", {"account_id": account, "amount": 10_000, "description": "salary"})
    clock.now = datetime(2026, 3, 25, 8, 0, tzinfo=UTC)
    _post(client, "/v1/transfers", {"from_account_id": account, "to_account_id": other, "amount": 3_000})
    clock.now = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
    _post(client, "/v1/deposits", {"account_id": account, "amount": 500, "description": "April interest"})

    clock.now = datetime(2026, 4, 5, 9, 0, tzinfo=UTC)  # the late March entry, a transfer: both legs back-dated
    late = _post(
        client,
        "/v1/transfers",
        {
            "from_account_id": account,
            "to_account_id": other,
            "amount": 1_200,
            "description": "March rent, booked late",
            "value_date": "2026-03-28T15:00:00Z",
        },
    )
    clock.now = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)

    base = f"/v1/audit/accounts/{account}"
    today = _get(client, f"{base}/balance", value_time=MARCH_CLOSE)
    on_april_1 = _get(client, f"{base}/balance", value_time=MARCH_CLOSE, known_at=APRIL_1)
    assert (today["balance"], today["backdated_movements"]) == (10_000 - 3_000 - 1_200, 1)
    assert (on_april_1["balance"], on_april_1["backdated_movements"]) == (10_000 - 3_000, 0)
    other_today = _get(client, f"/v1/audit/accounts/{other}/balance", value_time=MARCH_CLOSE)
    other_then = _get(client, f"/v1/audit/accounts/{other}/balance", value_time=MARCH_CLOSE, known_at=APRIL_1)
    assert (other_today["balance"], other_then["balance"]) == (4_200, 3_000), "the credit leg carries the value date"
    # The April money is not March's, whenever it was known; and the ledger's present balance counts everything.
    assert _get(client, f"{base}/balance", value_time="2026-04-30T00:00:00Z")["balance"] == 10_000 - 4_200 + 500

    march = {"value_from": "2026-03-01T00:00:00Z", "value_to": APRIL_1}
    statement_today = _get(client, f"{base}/statement", **march)
    statement_then = _get(client, f"{base}/statement", **march, known_at=APRIL_1)
    assert statement_then["opening_balance"] == statement_today["opening_balance"] == 0
    assert statement_then["closing_balance"] == on_april_1["balance"]
    assert statement_today["closing_balance"] == today["balance"]
    lines = statement_today["items"]
    assert isinstance(lines, list)
    assert [(line["amount"], line["balance_after"], line["backdated"]) for line in lines] == [
        (10_000, 10_000, False),
        (-3_000, 7_000, False),
        (-1_200, 5_800, True),
    ]
    assert lines[2]["value_date"] == "2026-03-28T15:00:00+00:00"
    assert lines[2]["recorded_at"] == "2026-04-05T09:00:00+00:00"
    assert lines[2]["position"] <= int(str(late["position"]))
    assert len(statement_then["items"]) == 2  # type: ignore[arg-type]

    # What the event store says about the late entry itself: its recording time and its flag.
    history = _get(client, f"/v1/audit/streams/transfer-{late['transfer_id']}/events")["items"]
    assert isinstance(history, list)
    [posted] = history
    assert posted["recorded_at"] == "2026-04-05T09:00:00+00:00"
    assert (posted["payload"]["value_date"], posted["payload"]["backdated"]) == ("2026-03-28T15:00:00Z", True)


def test_the_back_dating_window_is_the_setting_s(ledger: tuple[httpx.Client, Clock]) -> None:
    client, clock = ledger
    account = str(_post(client, "/v1/accounts", {"holder_name": "Ada", "currency": "EUR"})["account_id"])
    clock.now = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)
    refused = client.post(
        "/v1/deposits", json={"account_id": account, "amount": 5, "value_date": "2026-03-06T08:59:59Z"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["earliest"] == "2026-03-06T09:00:00+00:00"  # 45 days before April 20, 09:00
    _post(client, "/v1/deposits", {"account_id": account, "amount": 5, "value_date": "2026-03-06T09:00:00Z"})
