"""Every command line refuses a bad argument, and every process a bad setting, with a readable message and exit
status 2, before it touches a server (issue 16)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROGRAMS = {
    "command service": ["eventledger_command"],
    "relay": ["eventledger_command.relay"],
    "republish": ["eventledger_command.relay.republish"],
    "query service": ["eventledger_query"],
    "gateway": ["eventledger_gateway", "serve"],
    "projector": ["eventledger_projections", "run", "postgres"],
    "stream job": ["eventledger_projections", "run", "windows"],
    "projection status": ["eventledger_projections", "status", "redis"],
    "settings": ["eventledger_runtime", "settings"],
    "provisioning": ["eventledger_infra", "status"],
}

BAD_ARGUMENTS = {
    "command service": ["eventledger_command", "--port", "1"],
    "relay": ["eventledger_command.relay", "now"],
    "republish": ["eventledger_command.relay.republish", "--from", "7"],
    "query service": ["eventledger_query", "--verbose"],
    "gateway": ["eventledger_gateway", "token", "--role", "owner"],
    "projector": ["eventledger_projections", "run", "nowhere"],
    "rebuild of the windows": ["eventledger_projections", "rebuild", "windows"],
    "settings": ["eventledger_runtime", "settings", "--html"],
    "provisioning": ["eventledger_infra", "upp"],
}


def _run(module_and_arguments: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLEDGER_")}
    return subprocess.run(
        [sys.executable, "-m", *module_and_arguments],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("program", sorted(BAD_ARGUMENTS))
def test_a_bad_argument_is_refused_with_usage_and_status_2(program: str) -> None:
    result = _run(BAD_ARGUMENTS[program])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "usage:" in result.stderr
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_a_bad_setting_is_refused_naming_its_variable_with_status_2(program: str) -> None:
    result = _run(PROGRAMS[program], EVENTLEDGER_PG_PORT="five")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "EVENTLEDGER_PG_PORT" in result.stderr
    assert "five" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_service_answers_help_with_where_its_settings_come_from() -> None:
    result = _run(["eventledger_command", "--help"])
    assert result.returncode == 0
    assert "EVENTLEDGER_*" in result.stdout
