"""The log scan that ends the e2e and fault tiers: it finds an unexpected error and names its request id, and it does
not count the errors a tier provokes on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.logscan import require_no_unexpected_errors, unexpected_errors

pytestmark = pytest.mark.unit

UNEXPECTED = """2026-12-04 12:00:00,001 INFO command uvicorn started
2026-12-04 12:00:01,002 ERROR command eventledger_runtime.problems unexpected error on POST /v1/accounts (request r-42)
Traceback (most recent call last):
  File "x.py", line 1, in f
    raise ValueError("inner")
ValueError: inner

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "y.py", line 2, in g
psycopg.errors.UntranslatableCharacter: \\u0000 cannot be converted to text.
2026-12-04 12:00:02,000 INFO command still running
"""

PROVOKED = """2026-12-04 12:00:01,002 ERROR projector-postgres runner Kafka is unreachable; retrying
Traceback (most recent call last):
  File "k.py", line 1, in poll
confluent_kafka.KafkaException: broker down
"""


def test_an_unexpected_error_is_found_with_its_request_id_service_and_exception(tmp_path: Path) -> None:
    (tmp_path / "command.log").write_text(UNEXPECTED)
    (tmp_path / "projector-postgres.log").write_text(PROVOKED)
    [error] = unexpected_errors(tmp_path)
    assert (error.service, error.request_id, error.where) == ("command", "r-42", "POST /v1/accounts")
    assert error.error.startswith("psycopg.errors.UntranslatableCharacter")
    with pytest.raises(AssertionError, match=r"command: POST /v1/accounts \(request r-42\)"):
        require_no_unexpected_errors(tmp_path)


def test_a_path_with_a_newline_and_an_error_outside_any_handler_are_found(tmp_path: Path) -> None:
    (tmp_path / "query.log").write_text(
        "t ERROR query x unexpected error on GET /v1/a\nb (request abc)\nTraceback (most recent call last):\n"
        '  File "z.py"\nKeyError: 1\n'
        "t ERROR uvicorn.error Exception in ASGI application\nTraceback (most recent call last):\n"
        '  File "w.py"\nRuntimeError: escaped\n'
    )
    errors = unexpected_errors(tmp_path)
    assert [(e.request_id, e.where, e.error) for e in errors] == [
        ("abc", "GET /v1/a\\nb", "KeyError: 1"),
        ("unknown", "an ASGI application", "RuntimeError: escaped"),
    ]


def test_logs_without_unexpected_errors_pass(tmp_path: Path) -> None:
    (tmp_path / "projector-postgres.log").write_text(PROVOKED)
    (tmp_path / "gateway.log").write_text("t WARNING gateway unexpected error on GET / (request x) without traceback\n")
    require_no_unexpected_errors(tmp_path)


def _json_line(message: str, **fields: object) -> str:
    return json.dumps({"time": "t", "level": "ERROR", "service": "s", "message": message, **fields})


def test_unexpected_errors_in_json_lines_are_found_with_their_traceback(tmp_path: Path) -> None:
    traceback = 'Traceback (most recent call last):\n  File "z.py"\nKeyError: 1'
    (tmp_path / "gateway.log").write_text(
        "\n".join(
            [
                _json_line("started"),
                _json_line("unexpected error on GET /v1/a\nb (request abc)", exception=traceback),
                _json_line("Exception in ASGI application", exception=traceback.replace("KeyError: 1", "OSError")),
                _json_line("unexpected error on GET /v1/c (request d)"),  # no traceback: not counted
                _json_line("a retry", exception=traceback),  # an error logged on purpose: not counted
            ]
        )
        + "\n"
    )
    errors = unexpected_errors(tmp_path)
    assert [(e.service, e.request_id, e.where, e.error) for e in errors] == [
        ("gateway", "abc", "GET /v1/a\\nb", "KeyError: 1"),
        ("gateway", "unknown", "an ASGI application", "OSError"),
    ]
