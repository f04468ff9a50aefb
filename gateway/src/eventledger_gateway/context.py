"""Request id, correlation id and W3C trace context of one request.

Contract of :meth:`RequestIds.from_headers`:
- ``request_id``: the client's ``X-Request-Id`` when it is 1-128 characters of ``[A-Za-z0-9._:-]`` (safe to echo
  and log), otherwise a new UUID.
- ``correlation_id``: the client's ``X-Correlation-Id`` when it is a UUID; otherwise the request id when that is a
  UUID; otherwise a UUID derived from the request id (uuid5), so that a request id always maps to one correlation.
  An unusable correlation header is ignored, never refused.
- ``traceparent``: the client's when it is a valid version-00 W3C traceparent (passed through: the gateway records
  no span of its own); otherwise a new one whose trace id is the correlation id, as the relay does for Kafka
  messages, so that one business conversation is one trace from the HTTP request to the topics.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
_CORRELATION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:eventledger:request-id")


@dataclass(frozen=True, slots=True)
class RequestIds:
    request_id: str
    correlation_id: uuid.UUID
    traceparent: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RequestIds:
        """``headers`` with lower-case names (the first value of each)."""
        request_id = headers.get("x-request-id", "").strip()
        if not _REQUEST_ID.match(request_id):
            request_id = str(uuid.uuid4())
        correlation_id = _parse_uuid(headers.get("x-correlation-id", "")) or _correlation_of(request_id)
        traceparent = headers.get("traceparent", "").strip().lower()
        if not _TRACEPARENT.match(traceparent):
            traceparent = f"00-{correlation_id.hex}-{secrets.token_hex(8)}-01"
        return cls(request_id, correlation_id, traceparent)


def _parse_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        return None


def _correlation_of(request_id: str) -> uuid.UUID:
    return _parse_uuid(request_id) or uuid.uuid5(_CORRELATION_NAMESPACE, request_id)
