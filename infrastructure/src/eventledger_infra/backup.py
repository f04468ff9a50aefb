"""Base backups and point-in-time restore of the event store's cluster (ADR 0033; runbooks in docs/operations.md).

- :func:`take_base_backup`: ``pg_basebackup`` into ``<state>/backup/base/<UTC time>/`` with the WAL it needs, and a
  ``backup.json`` saying when it was consistent. The WAL after it is kept by continuous archiving and the
  synchronous receiver (:mod:`eventledger_infra.services.postgres`).
- :func:`restore`: a new data directory from the newest base backup that fits, replaying the archived and streamed WAL
  up to a time or to the end (``latest``), then promoted, with the receiver started again on a fresh folder.

Both refuse what cannot work with a :class:`ProvisioningError` that says what to do.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from eventledger_infra.process import ProvisioningError, as_user, chown_tree, run
from eventledger_infra.services.postgres import BIN, PostgresServer

STAMP = "%Y%m%dT%H%M%S%fZ"
RECOVERY_SETTINGS = ("restore_command", "recovery_target_time", "recovery_target_timeline", "recovery_target_action")


@dataclass(frozen=True)
class BaseBackup:
    folder: Path
    started_at: datetime
    consistent_at: datetime
    """The backup is usable for any target at or after this time (pg_basebackup had finished by then)."""

    @property
    def data(self) -> Path:
        return self.folder / "data"


@dataclass(frozen=True)
class Restored:
    backup: BaseBackup
    target: datetime | None
    seconds: float
    set_aside: Path | None
    """Where the data directory found before the restore was moved (None: there was none)."""


def parse_target(text: str) -> datetime | None:
    """``latest`` (or empty): None; else an ISO 8601 time with its zone, e.g. ``2026-12-06T01:02:03Z``."""
    if text.strip().lower() in {"", "latest"}:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ProvisioningError(
            f"{text!r} is not a time: give ISO 8601 with a zone (e.g. 2026-12-06T01:02:03Z) or 'latest'"
        ) from None
    if moment.tzinfo is None:
        raise ProvisioningError(f"{text!r} has no time zone: add one (Z for UTC, or e.g. +01:00)")
    return moment.astimezone(UTC)


def base_backups(server: PostgresServer) -> list[BaseBackup]:
    """The finished base backups, oldest first (a folder without ``backup.json`` was interrupted and is skipped)."""
    found = []
    for label in sorted(server.backup.base.glob("*/backup.json")) if server.backup.base.is_dir() else []:
        facts = json.loads(label.read_text())
        found.append(
            BaseBackup(
                label.parent,
                datetime.fromisoformat(facts["started_at"]),
                datetime.fromisoformat(facts["consistent_at"]),
            )
        )
    return sorted(found, key=lambda backup: backup.consistent_at)


def _require_continuous_backup(server: PostgresServer) -> None:
    if not server.continuous_backup:
        raise ProvisioningError(
            "continuous backup is off for this cluster: start it with `make up BACKUP=1` "
            "(`python -m eventledger_infra up --backup`), which archives and streams its WAL (ADR 0033)"
        )


def take_base_backup(server: PostgresServer) -> BaseBackup:
    """A base backup of the running cluster, with the WAL needed to make it consistent."""
    _require_continuous_backup(server)
    if not server.running():
        raise ProvisioningError("PostgreSQL is not running: start it (`make servers`) before taking a base backup")
    started = datetime.now(UTC)
    folder = server.backup.base / started.strftime(STAMP)
    folder.mkdir(parents=True)
    user = server._user()
    chown_tree(server.backup.root, user)
    run(
        as_user(
            user,
            [
                BIN / "pg_basebackup",
                "-d",
                f"host={server.state} port={server.settings.pg_port} user={server.settings.pg_user}",
                "-D",
                folder / "data",
                "--format=plain",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-password",
                f"--label=eventledger {started.isoformat()}",
            ],
        ),
        "pg_basebackup",
    )
    backup = BaseBackup(folder, started, datetime.now(UTC))
    facts = {"started_at": backup.started_at.isoformat(), "consistent_at": backup.consistent_at.isoformat()}
    (folder / "backup.json").write_text(json.dumps(facts, indent=2) + "\n")
    return backup


def choose_base_backup(server: PostgresServer, target: datetime | None) -> BaseBackup:
    """The newest base backup that was consistent by ``target`` (None: the newest of all)."""
    backups = base_backups(server)
    if not backups:
        raise ProvisioningError(f"no base backup under {server.backup.base}: take one first (`make backup`)")
    if target is None:
        return backups[-1]
    if target > datetime.now(UTC):
        raise ProvisioningError(f"{target.isoformat()} is in the future: give a past time, or 'latest'")
    usable = [backup for backup in backups if backup.consistent_at <= target]
    if not usable:
        raise ProvisioningError(
            f"{target.isoformat()} is before the first base backup was complete "
            f"({backups[0].consistent_at.isoformat()}): nothing earlier can be restored"
        )
    return usable[-1]


def restore(server: PostgresServer, target: datetime | None) -> Restored:
    """Rebuild the data directory from a base backup and the kept WAL, up to ``target`` (None: every acknowledged
    commit), promote it, and start the receiver again. The server must not be running; a data directory still
    there is moved aside (never deleted)."""
    _require_continuous_backup(server)
    if server.running():
        raise ProvisioningError(
            f"PostgreSQL is running (pid {server.pid()}): stop it first "
            "(`python -m eventledger_infra down postgres`); a restore replaces its data directory"
        )
    backup = choose_base_backup(server, target)
    began = time.monotonic()
    # The receiver holds the newest WAL (its unfinished segment is what makes RPO 0): stop it, keep its files.
    server.stop_receiver()
    set_aside = None
    if server.data_dir.exists():
        set_aside = server.state / f"data.before-restore-{datetime.now(UTC).strftime(STAMP)}"
        server.data_dir.rename(set_aside)
    shutil.copytree(backup.data, server.data_dir, symlinks=True)
    server.data_dir.chmod(0o700)
    recovery = {
        "restore_command": server.backup.restore_command(),
        "recovery_target_timeline": "latest",
        "recovery_target_action": "promote",
    }
    if target is not None:
        recovery["recovery_target_time"] = target.isoformat()
    with (server.data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write("# eventledger restore (removed once promoted)\n")
        conf.writelines(f"{key} = '{value}'\n" for key, value in recovery.items())
    (server.data_dir / "recovery.signal").touch()
    (server.data_dir / "postmaster.pid").unlink(missing_ok=True)
    chown_tree(server.state, server._user())
    log_offset = server.log_path.stat().st_size if server.log_path.exists() else 0
    try:
        server.start_server()
        server.wait_until_promoted()
    except ProvisioningError as failed:
        # pg_ctl or our own wait may notice the failed recovery first: the reason is in this attempt's log lines.
        if target is not None and "before configured recovery target" in _log_since(server.log_path, log_offset):
            raise ProvisioningError(
                f"{target.isoformat()} is after the last commit the backups hold: restore to 'latest' instead "
                f"(the data directory this attempt made is {server.data_dir}; the next restore sets it aside)"
            ) from failed
        raise
    # The old receiver folder ends on the timeline just left: a new one follows the new timeline from here on.
    # Its files stay beside it (the archive has every finished segment; the set-aside folder the rest).
    if server.backup.stream.exists() and any(server.backup.stream.iterdir()):
        server.backup.stream.rename(server.backup.root / f"stream.before-restore-{datetime.now(UTC).strftime(STAMP)}")
    server.start_receiver()
    for setting in RECOVERY_SETTINGS:  # read only in recovery: gone from the file, no reload needed
        server._psql(f"ALTER SYSTEM RESET {setting}")
    return Restored(backup, target, time.monotonic() - began, set_aside)


def _log_since(log: Path, offset: int) -> str:
    try:
        with log.open("rb") as lines:
            lines.seek(offset)
            return lines.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
