"""Request id, correlation id and traceparent: accepted when sound, issued or derived otherwise."""

from __future__ import annotations

import re
import uuid

import pytest

from eventledger_gateway.context import RequestIds

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


def test_without_headers_everything_is_issued_and_tied_together() -> None:
    ids = RequestIds.from_headers({})
    assert uuid.UUID(ids.request_id) == ids.correlation_id
    assert TRACEPARENT.match(ids.traceparent)
    assert ids.traceparent.split("-")[1] == ids.correlation_id.hex


def test_a_client_correlation_uuid_is_kept() -> None:
    correlation = uuid.uuid4()
    ids = RequestIds.from_headers({"x-request-id": "req-1", "x-correlation-id": str(correlation)})
    assert (ids.request_id, ids.correlation_id) == ("req-1", correlation)


def test_the_correlation_is_derived_from_a_request_id_that_is_not_a_uuid() -> None:
    first = RequestIds.from_headers({"x-request-id": "order-42"})
    again = RequestIds.from_headers({"x-request-id": "order-42", "x-correlation-id": "not-a-uuid"})
    other = RequestIds.from_headers({"x-request-id": "order-43"})
    assert first.correlation_id == again.correlation_id != other.correlation_id
    assert first.request_id == "order-42"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, "new\nline", "semi;colon"])
def test_an_unusable_request_id_is_replaced(bad: str) -> None:
    ids = RequestIds.from_headers({"x-request-id": bad})
    assert ids.request_id != bad
    assert uuid.UUID(ids.request_id)


def test_a_valid_traceparent_passes_through_unchanged() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert RequestIds.from_headers({"traceparent": traceparent}).traceparent == traceparent


@pytest.mark.parametrize(
    "bad",
    [
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "garbage",
    ],
)
def test_an_invalid_traceparent_is_replaced_by_one_on_the_correlation(bad: str) -> None:
    ids = RequestIds.from_headers({"traceparent": bad})
    assert ids.traceparent != bad
    assert ids.traceparent.split("-")[1] == ids.correlation_id.hex
