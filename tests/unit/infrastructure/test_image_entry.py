"""The image's entry point runs each service as the supervisor does, and the image's source hash follows its inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eventledger_infra import container, images, system
from eventledger_infra.settings import PROJECT_ROOT


def test_every_service_of_the_supervisor_has_a_command_in_the_image() -> None:
    commands = system.service_commands()
    assert list(commands) == list(dict.fromkeys(spec.service for spec in system.services(1)))
    for service, spec in commands.items():
        assert spec.port_variable in spec.env, service
        assert spec.env[spec.port_variable] == str(spec.port), service


def test_the_container_environment_wins_and_tls_files_are_not_inherited() -> None:
    gateway = system.service_commands()["gateway"]
    env = container.environment(
        gateway,
        {"EVENTLEDGER_GATEWAY_PORT": "9000", "EVENTLEDGER_GATEWAY_TLS_CERT_FILE": "/x.pem", "PATH": "/bin"},
    )
    assert env["EVENTLEDGER_GATEWAY_PORT"] == "9000"
    assert env["EVENTLEDGER_GATEWAY_COMMAND_URL"] == gateway.env["EVENTLEDGER_GATEWAY_COMMAND_URL"]
    assert "EVENTLEDGER_GATEWAY_TLS_CERT_FILE" not in env
    assert container.ready_url(gateway, env) == "http://127.0.0.1:9000/readyz"


def test_an_unknown_service_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert container.main(["nonsense"]) == 2
    assert "one of command, relay" in capsys.readouterr().err


def test_the_health_check_fails_without_a_ready_address(tmp_path: Path) -> None:
    assert container.health(tmp_path / "missing") == 1


def test_the_source_hash_changes_with_a_source_and_ignores_caches(tmp_path: Path) -> None:
    for name in images.IMAGE_SOURCES:
        source = PROJECT_ROOT / name
        if source.is_file():
            shutil.copy(source, tmp_path / name)
    (tmp_path / "events" / "src").mkdir(parents=True)
    (tmp_path / "events" / "src" / "a.py").write_text("A = 1\n")
    before = images.source_hash(tmp_path)
    (tmp_path / "events" / "src" / "__pycache__").mkdir()
    (tmp_path / "events" / "src" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert images.source_hash(tmp_path) == before
    (tmp_path / "events" / "src" / "a.py").write_text("A = 2\n")
    assert images.source_hash(tmp_path) != before


def test_the_image_is_named_after_the_workspace_version() -> None:
    assert images.reference() == f"localhost/eventledger:{images.version()}" == "localhost/eventledger:0.1.0"
