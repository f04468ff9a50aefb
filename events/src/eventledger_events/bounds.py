"""What the stores can hold: the one place that bounds text, positions, versions and counts.

Every edge (the command and query APIs, the gateway's OpenAPI document, the domain's value types, the event
payload types) takes its limits from here, so no path (HTTP, a CLI, a replayed event) can carry a value the event
store cannot keep. Standard library only: the pure domain imports it.

- Numbers: positions, stream versions and counts are PostgreSQL ``bigint`` columns (and ``int64`` in Avro and
  Redis); a larger one cannot exist, so it is refused (422), never passed on to overflow a driver.
- Text: PostgreSQL cannot store U+0000 in ``text`` or ``jsonb``, and UTF-8 cannot encode a lone surrogate
  (U+D800..U+DFFF, which a JSON ``\\ud800`` escape can produce); both are refused with a message naming the field.
"""

from __future__ import annotations

import re

MAX_INT64 = 2**63 - 1
"""The largest PostgreSQL ``bigint``: the bound of every position, stream version and count."""

MAX_POSITION = MAX_INT64
MAX_VERSION = MAX_INT64

STORABLE_TEXT_PATTERN = r"^[^\x00]*$"
"""The JSON Schema ``pattern`` of storable text (lone surrogates cannot occur in a JSON string a client sends as
UTF-8; an escaped one is refused by the same check, :func:`unstorable_text_reason`)."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text_reason(text: str) -> str | None:
    """Why ``text`` cannot be stored (a readable sentence), or ``None`` when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    character = found.group()
    if character == "\x00":
        return "must not contain the NUL character (U+0000)"
    return f"must not contain a lone surrogate (U+{ord(character):04X})"


def require_storable_text(text: str) -> str:
    """``text`` unchanged, or ``ValueError`` saying why the store cannot keep it."""
    reason = unstorable_text_reason(text)
    if reason is not None:
        raise ValueError(reason)
    return text
