"""Value dates over HTTP: back-dated movements are recorded as such, bad value dates answer 422 problems that name
the allowed range and change nothing, and the bitemporal audit reads answer from the (in-memory) event store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.support.clock import Clock
from tests.support.command_api import Api

from eventledger_command.bootstrap import Container, build
from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_runtime.settings import CommandSettings

APRIL_1 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
APRIL_5 = datetime(2026, 4, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def container(clock: Clock) -> Container:
    store = InMemoryEventStore(recording_clock=clock)
    return build(CommandSettings(backdate_window_days=30), store=store, clock=clock)


def _history(api: Api, account: str) -> list[dict[str, object]]:
    answer = api.client.get(f"/v1/audit/streams/account-{account}/events")
    return list(answer.json()["items"])


def test_a_back_dated_deposit_is_recorded_with_its_value_date_and_flag(api: Api, clock: Clock) -> None:
    account = api.open()
    clock.now = APRIL_5
    answer = api.client.post(
        "/v1/deposits", json={"account_id": account, "amount": 700, "value_date": "2026-03-20T10:00:00+01:00"}
    )
    assert answer.status_code == 201, answer.text
    credited = _history(api, account)[-1]
    assert credited["payload"] == {**credited["payload"], "value_date": "2026-03-20T09:00:00Z", "backdated": True}  # type: ignore[dict-item]
    assert credited["recorded_at"] == APRIL_5.isoformat()


def test_a_movement_without_a_value_date_counts_from_now(api: Api, clock: Clock) -> None:
    account = api.open()
    api.deposit(account, 5)
    credited = _history(api, account)[-1]
    assert credited["payload"]["value_date"] == "2026-03-02T09:00:00Z"  # type: ignore[index]
    assert credited["payload"]["backdated"] is False  # type: ignore[index]


@pytest.mark.parametrize(
    ("value_date", "says"),
    [
        pytest.param("2026-01-31T00:00:00Z", "back-dating window", id="before-the-window"),
        pytest.param("2026-03-03T09:00:00Z", "future", id="in-the-future"),
    ],
)
def test_a_value_date_outside_the_window_answers_422_and_records_nothing(api: Api, value_date: str, says: str) -> None:
    account = api.open()
    before = _history(api, account)
    answer = api.client.post(
        "/v1/deposits",
        json={"account_id": account, "amount": 700, "value_date": value_date},
        headers={"Idempotency-Key": f"late-{value_date}"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["type"].endswith("/invalid-value-date")
    assert says in problem["detail"]
    assert problem["earliest"] == "2026-01-31T09:00:00+00:00"
    assert problem["latest"] == "2026-03-02T09:05:00+00:00"
    assert problem["value_date"] == value_date.replace("Z", "+00:00")
    assert _history(api, account) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/v1/deposits", {"amount": 5, "value_date": "2026-03-01T10:00:00"}, id="no-time-zone"),
        pytest.param("/v1/withdrawals", {"amount": 5, "value_date": "March"}, id="not-a-time"),
        pytest.param("/v1/deposits", {"amount": 5, "value_date": 1772000000}, id="a-number"),
    ],
)
def test_a_malformed_value_date_answers_422_naming_the_field(api: Api, path: str, body: dict[str, object]) -> None:
    account = api.open()
    answer = api.client.post(path, json={"account_id": account, **body})
    assert answer.status_code == 422, answer.text
    assert "body.value_date" in answer.text


def test_a_pending_transfer_with_a_value_date_answers_422(api: Api) -> None:
    source, target = api.open(), api.open("Bob")
    api.deposit(source, 100)
    answer = api.client.post(
        "/v1/transfers",
        json={
            "from_account_id": source,
            "to_account_id": target,
            "amount": 10,
            "pending": True,
            "timeout_seconds": 60,
            "value_date": "2026-03-01T10:00:00Z",
        },
    )
    assert answer.status_code == 422, answer.text
    assert "body.value_date" in answer.text


def test_a_march_entry_recorded_on_april_5_changes_march_as_known_today_not_as_known_on_april_1(
    api: Api, clock: Clock
) -> None:
    account = api.open()
    clock.now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    api.deposit(account, 1000)
    clock.now = APRIL_5
    answer = api.client.post(
        "/v1/deposits", json={"account_id": account, "amount": 250, "value_date": "2026-03-28T15:00:00Z"}
    )
    assert answer.status_code == 201, answer.text
    clock.now = APRIL_5 + timedelta(days=1)

    def march_closing(known_at: str | None) -> int:
        params = {"value_time": "2026-03-31T23:59:59.999999Z"}
        if known_at:
            params["known_at"] = known_at
        answer = api.client.get(f"/v1/audit/accounts/{account}/balance", params=params)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["balance"])

    assert march_closing(None) == 1250
    assert march_closing("2026-04-01T00:00:00Z") == 1000


def test_the_audit_queries_refuse_bad_times(api: Api) -> None:
    account = api.open()
    base = f"/v1/audit/accounts/{account}"
    assert api.client.get(f"{base}/balance").status_code == 422
    assert api.client.get(f"{base}/balance", params={"value_time": "2026-03-01T00:00:00"}).status_code == 422
    reversed_period = {"value_from": "2026-04-01T00:00:00Z", "value_to": "2026-03-01T00:00:00Z"}
    answer = api.client.get(f"{base}/statement", params=reversed_period)
    assert answer.status_code == 422
    assert "query.value_to" in answer.text


def test_an_account_not_yet_opened_at_known_at_is_404(api: Api) -> None:
    account = api.open()
    answer = api.client.get(
        f"/v1/audit/accounts/{account}/balance",
        params={"value_time": "2026-03-31T00:00:00Z", "known_at": "2026-03-01T00:00:00Z"},
    )
    assert answer.status_code == 404, answer.text
