"""What the fuzz tier asks of every answer, and how many cases it ran (reported at the end of the run)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis

CASES: Counter[str] = Counter()
"""Calls made by the fuzz tier, by phase."""

RESTARTS: Counter[str] = Counter()
"""Fresh hypothesis engines the stateful phase started after a FlakyStrategyDefinition with every answer passing."""


def _headers(response: Any) -> dict[str, str]:
    return {name.lower(): value[0] if isinstance(value, list) else value for name, value in response.headers.items()}


def check_answer(case: schemathesis.Case[Any], response: Any) -> None:
    """No 5xx but a read model behind X-Min-Position (503 with Retry-After); every error is problem+json. A failure
    names the request id, under which the services logged what happened."""
    headers = _headers(response)
    where = f"{case.method} {case.formatted_path} (request {headers.get('x-request-id', '?')})"
    status = response.status_code
    if status >= 500:
        documented = status == 503 and "retry-after" in headers and b"read-model-behind" in response.content
        assert documented, f"{where} answered {status}: {response.text[:300]}"
    if status >= 400:
        assert headers.get("content-type", "").startswith("application/problem+json"), (
            f"{where} answered {status} as {headers.get('content-type')}: {response.text[:200]}"
        )
