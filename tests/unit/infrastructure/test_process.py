from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from eventledger_infra.cli import main
from eventledger_infra.process import ProvisioningError, read_pid, require_free_port, stop_pid, write_pid


def test_a_taken_port_is_refused_naming_the_variable_to_change() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ProvisioningError, match=f"127.0.0.1:{port} is already taken.*EVENTLEDGER_REDIS_PORT"):
            require_free_port("Redis", "127.0.0.1", port, "EVENTLEDGER_REDIS_PORT")


def test_a_pid_file_of_a_dead_process_reads_as_not_running(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    pid_file = tmp_path / "x.pid"
    pid_file.write_text(f"{child.pid}\n")
    assert read_pid(pid_file) is None
    assert stop_pid(pid_file) is False


def test_a_pid_file_is_replaced_whole_so_a_reader_never_sees_it_empty(tmp_path: Path) -> None:
    """A reader holding the old file keeps reading the old pid: the new one arrives by rename, not by truncating
    and rewriting the file a reader may be reading at that moment."""
    pid_file = tmp_path / "gateway-2.pid"
    write_pid(pid_file, 111)
    with pid_file.open() as before:
        write_pid(pid_file, 222)
        assert before.read() == "111\n"
    assert pid_file.read_text() == "222\n"
    assert [p.name for p in tmp_path.iterdir()] == ["gateway-2.pid"]


def test_stop_pid_stops_only_the_process_named_in_its_file(tmp_path: Path) -> None:
    mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = tmp_path / "mine.pid"
        pid_file.write_text(f"{mine.pid}\n")
        assert stop_pid(pid_file) is True
        assert mine.wait(timeout=10) is not None
        assert other.poll() is None
        assert not pid_file.exists()
    finally:
        other.kill()
        other.wait()


def test_an_unknown_service_name_is_a_readable_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "mongodb"]) == 1
    assert "unknown service mongodb; choose from postgres, redis, kafka, elasticsearch" in capsys.readouterr().err
