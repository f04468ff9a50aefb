"""The supervisor's own log lines are JSON in the services' form (ADR 0032), written with the standard library."""

from __future__ import annotations

import json

import pytest

from eventledger_infra import system


def test_a_supervisor_line_is_json_with_the_services_keys(capsys: pytest.CaptureFixture[str]) -> None:
    system._log("WARNING", "gateway-1 exited with 1 after 2.0 s; restart in 1 s", instance="gateway-1", exit_code=1)
    line = capsys.readouterr().out
    assert line.endswith("\n")
    assert line.count("\n") == 1
    entry = json.loads(line)
    assert {"time", "level", "service", "logger", "message", "trace_id", "span_id", "correlation_id"} <= set(entry)
    assert (entry["level"], entry["service"], entry["instance"], entry["exit_code"]) == (
        "WARNING",
        "supervisor",
        "gateway-1",
        1,
    )
    assert entry["time"].endswith("Z")
    assert len(entry["time"]) == len("2026-12-06T01:02:03.456Z")
