"""The command service's API as the unit tests of ``tests/unit/command_api`` drive it (fixture ``api``)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from httpx2 import Response  # what starlette's TestClient answers once httpx2 is installed (confluent-kafka needs it)


class Api:
    """Small helpers over the client, so tests read as the API's story."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def open(self, holder: str = "Ada", currency: str = "EUR", overdraft: int = 0) -> str:
        answer = self.client.post(
            "/v1/accounts", json={"holder_name": holder, "currency": currency, "overdraft_limit": overdraft}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["account_id"])

    def deposit(self, account_id: str, amount: int) -> dict[str, object]:
        answer = self.client.post("/v1/deposits", json={"account_id": account_id, "amount": amount})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def hold(self, source: str, destination: str, amount: int, timeout_seconds: int) -> Response:
        """A pending transfer (the answer as it came, for the test to check)."""
        body = {
            "from_account_id": source,
            "to_account_id": destination,
            "amount": amount,
            "pending": True,
            "timeout_seconds": timeout_seconds,
        }
        answer: Response = self.client.post("/v1/transfers", json=body)
        return answer
