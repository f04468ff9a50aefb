"""After a tier has run the whole system, its services' logs are read: an unexpected error (one that became a 500,
or escaped a handler altogether) fails the run, naming the request it happened on and the service that logged it.

What counts: the line every HTTP service's last-resort handler writes (``unexpected error on <method> <path>
(request <id>)``, from :mod:`eventledger_runtime.problems` and the gateway's middleware) and uvicorn's ``Exception in
ASGI application``, each with its traceback: in the ``exception`` field of a JSON line (how the services log: ADR
0032), or on the plain-text lines that follow it (a process that wrote text). Errors a tier provokes on purpose (a
server killed by a fault test makes projectors log and retry) are logged by other code, with other words, and are
not counted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_UNEXPECTED = re.compile(r"unexpected error on (?P<where>.*)|Exception in ASGI application")
_REQUEST = re.compile(r"^(?P<where>.*) \(request (?P<request>[^()\s]*)\)$")
_TRACEBACK = "Traceback (most recent call last):"


@dataclass(frozen=True)
class UnexpectedError:
    service: str
    request_id: str
    where: str
    error: str

    def __str__(self) -> str:
        return f"{self.service}: {self.where} (request {self.request_id}): {self.error}"


def unexpected_errors(log_dir: Path) -> list[UnexpectedError]:
    """Every unexpected error with a traceback in the ``*.log`` files of ``log_dir``."""
    found: list[UnexpectedError] = []
    for log in sorted(log_dir.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        for index, line in enumerate(lines):
            if line.startswith("{"):
                found.extend(_in_json_line(log.stem, line))
                continue
            match = _UNEXPECTED.search(line)
            if match is None:
                continue
            # A path may hold a decoded newline, so the message can span lines before its traceback starts.
            start = next((i for i in range(index + 1, min(index + 6, len(lines))) if lines[i] == _TRACEBACK), None)
            if start is None:
                continue
            message = "\n".join([match.group("where") or "", *lines[index + 1 : start]])
            named = _REQUEST.match(message.replace("\n", "\\n"))
            found.append(
                UnexpectedError(
                    service=log.stem,
                    request_id=named.group("request") if named else "unknown",
                    where=named.group("where") if named else (message or "an ASGI application"),
                    error=_last_line_of_traceback(lines, start),
                )
            )
    return found


def _in_json_line(service: str, line: str) -> list[UnexpectedError]:
    try:
        entry = json.loads(line)
    except ValueError:
        return []
    if not isinstance(entry, dict):
        return []
    text = str(entry.get("message", ""))
    match = _UNEXPECTED.search(text)
    exception = str(entry.get("exception") or "")
    if match is None or not exception.startswith(_TRACEBACK):
        return []
    message = text[match.start("where") :] if match.group("where") is not None else ""
    named = _REQUEST.match(message.replace("\n", "\\n"))
    return [
        UnexpectedError(
            service=service,
            request_id=named.group("request") if named else "unknown",
            where=named.group("where") if named else (message or "an ASGI application"),
            error=_last_line_of_traceback(exception.splitlines(), 0),
        )
    ]


_CHAINED = ("During handling", "The above", "Traceback")


def _last_line_of_traceback(lines: list[str], start: int) -> str:
    """The exception line closing the traceback that starts at ``start`` (the last of a chain of them)."""
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if not line or line.startswith((" ", "\t", *_CHAINED)):
            continue
        following = next((later for later in lines[index + 1 :] if later), "")
        if not following.startswith(_CHAINED[:2]):
            return line
    return "(traceback cut off)"


def require_no_unexpected_errors(log_dir: Path) -> None:
    """``AssertionError`` listing every unexpected error logged in ``log_dir``."""
    errors = unexpected_errors(log_dir)
    assert not errors, (
        "unexpected errors in the services' logs (" + str(log_dir) + "):\n" + "\n".join(str(e) for e in errors)
    )
