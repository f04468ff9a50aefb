"""The backup tool's refusals: each bad input or state gets a message that says what to do (ADR 0033)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eventledger_infra import backup
from eventledger_infra.cli import main
from eventledger_infra.process import ProvisioningError
from eventledger_infra.services.postgres import PostgresServer
from eventledger_infra.settings import Settings


def _server(tmp_path: Path, *, continuous: bool = True) -> PostgresServer:
    server = PostgresServer(Settings(state_dir=tmp_path))
    if continuous:
        server.enable_continuous_backup()
    return server


def _base_backup(server: PostgresServer, consistent_at: datetime) -> Path:
    folder = server.backup.base / consistent_at.strftime(backup.STAMP)
    (folder / "data").mkdir(parents=True)
    facts = {
        "started_at": (consistent_at - timedelta(seconds=5)).isoformat(),
        "consistent_at": consistent_at.isoformat(),
    }
    (folder / "backup.json").write_text(json.dumps(facts))
    return folder


@pytest.mark.parametrize("latest", ["latest", "LATEST", "", "  "])
def test_latest_is_no_target(latest: str) -> None:
    assert backup.parse_target(latest) is None


def test_a_time_with_a_zone_is_read_in_utc() -> None:
    assert backup.parse_target("2026-12-06T02:03:04+01:00") == datetime(2026, 12, 6, 1, 3, 4, tzinfo=UTC)
    assert backup.parse_target("2026-12-06 01:03:04Z") == datetime(2026, 12, 6, 1, 3, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("yesterday", "is not a time"),
        ("2026-13-01T00:00:00Z", "is not a time"),
        ("2026-12-06T01:00:00", "no time zone"),
    ],
)
def test_a_bad_time_is_refused_with_the_way_to_write_one(text: str, says: str) -> None:
    with pytest.raises(ProvisioningError, match=says):
        backup.parse_target(text)


def test_the_newest_backup_consistent_by_the_target_is_chosen(tmp_path: Path) -> None:
    server = _server(tmp_path)
    now = datetime.now(UTC)
    old = _base_backup(server, now - timedelta(hours=2))
    new = _base_backup(server, now - timedelta(hours=1))
    (server.backup.base / "interrupted" / "data").mkdir(parents=True)  # no backup.json: never chosen
    assert backup.choose_base_backup(server, None).folder == new
    assert backup.choose_base_backup(server, now - timedelta(minutes=90)).folder == old
    assert backup.choose_base_backup(server, now - timedelta(minutes=1)).folder == new


def test_a_target_before_the_first_backup_or_in_the_future_is_refused(tmp_path: Path) -> None:
    server = _server(tmp_path)
    first = datetime.now(UTC) - timedelta(hours=1)
    _base_backup(server, first)
    with pytest.raises(ProvisioningError, match="before the first base backup was complete"):
        backup.choose_base_backup(server, first - timedelta(seconds=1))
    with pytest.raises(ProvisioningError, match="is in the future"):
        backup.choose_base_backup(server, datetime.now(UTC) + timedelta(minutes=5))


def test_no_backup_at_all_says_to_take_one(tmp_path: Path) -> None:
    with pytest.raises(ProvisioningError, match="take one first"):
        backup.choose_base_backup(_server(tmp_path), None)


def test_backup_and_restore_need_continuous_backup(tmp_path: Path) -> None:
    server = _server(tmp_path, continuous=False)
    for action in (lambda: backup.take_base_backup(server), lambda: backup.restore(server, None)):
        with pytest.raises(ProvisioningError, match="make up BACKUP=1"):
            action()


def test_the_command_line_prints_the_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVENTLEDGER_STATE_DIR", str(tmp_path))
    _server(tmp_path)
    assert main(["restore", "--to", "half past nine"]) == 1
    assert "'half past nine' is not a time" in capsys.readouterr().err
    assert main(["restore"]) == 1
    assert "no base backup under" in capsys.readouterr().err
