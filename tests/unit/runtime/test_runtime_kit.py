"""The runtime kit's small pieces: the wait-for-Kafka loop, the Kafka probe's refusal, and problem+json."""

from __future__ import annotations

import socket

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout

from eventledger_runtime.kafka import when_kafka_answers
from eventledger_runtime.probes import kafka_answers
from eventledger_runtime.problems import PROBLEM_JSON, Problem, install


class Unavailable(Exception):
    pass


def test_the_start_up_loop_retries_until_the_action_succeeds() -> None:
    attempts: list[int] = []
    slept: list[float] = []

    def create() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise Unavailable("broker down")
        return "created"

    assert when_kafka_answers(create, interval=0.5, sleep=slept.append) == "created"
    assert (len(attempts), slept) == (3, [0.5, 0.5])


def test_the_start_up_loop_gives_up_when_the_process_is_stopping() -> None:
    stopping = iter([False, False, True])

    def create() -> None:
        raise Unavailable("broker down")

    assert when_kafka_answers(create, stopping=lambda: next(stopping), sleep=lambda _: None) is None


def test_a_port_nobody_listens_on_is_not_a_kafka() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert kafka_answers("127.0.0.1", port) is False


class Refused(Exception):
    pass


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install(
        app,
        errors={Refused: lambda exc: Problem(409, "refused_here", "Refused", str(exc), headers={"Retry-After": "3"})},
        unexpected=lambda _: Problem(500, "internal_error", "Internal error"),
    )

    @app.get("/refused")
    def refused() -> None:
        raise Refused("not today")

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    @app.get("/restarting")
    def restarting() -> None:
        raise psycopg.errors.AdminShutdown("terminating connection due to administrator command")

    @app.get("/busy")
    def busy() -> None:
        raise PoolTimeout("couldn't get a connection after 30.00 sec")

    @app.get("/items/{number}")
    def item(number: int) -> dict[str, int]:
        return {"number": number}

    return TestClient(app, raise_server_exceptions=False)


def test_a_service_error_becomes_its_problem_with_its_headers(client: TestClient) -> None:
    answer = client.get("/refused")
    assert (answer.status_code, answer.headers["content-type"]) == (409, PROBLEM_JSON)
    assert answer.headers["retry-after"] == "3"
    assert answer.json() == {
        "type": "https://eventledger.dev/problems/refused-here",
        "title": "Refused",
        "status": 409,
        "instance": "/refused",
        "detail": "not today",
    }


def test_validation_routing_and_unexpected_errors_are_problems_without_a_trace(client: TestClient) -> None:
    invalid = client.get("/items/seven")
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"] == "path.number"
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.json()["type"]) == (404, "https://eventledger.dev/problems/not-found")
    broken = client.get("/broken")
    assert broken.status_code == 500
    assert "a bug" not in broken.text


@pytest.mark.parametrize("path", ["/restarting", "/busy"])
def test_postgres_unavailable_is_a_503_to_retry_not_an_unexpected_error(
    client: TestClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    answer = client.get(path)
    assert (answer.status_code, answer.headers["content-type"]) == (503, PROBLEM_JSON)
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["type"] == "https://eventledger.dev/problems/database-unavailable"
    assert "unexpected error" not in caplog.text
    assert "Traceback" not in caplog.text
