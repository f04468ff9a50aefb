"""PostgreSQL 15 from Debian's packages, as a cluster of our own under the state folder.

With continuous backup on (``up --backup``, recorded in the state folder so that later starts keep it; ADR 0033) the
cluster archives every finished WAL segment into ``<state>/backup/wal`` and streams its WAL as it is written to a
``pg_receivewal --synchronous`` beside it, which ``synchronous_standby_names`` names: no commit is acknowledged before
its WAL is flushed outside the data directory (RPO 0). The receiver is started and stopped with the server.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from eventledger_infra.process import (
    ProvisioningError,
    as_user,
    chown_tree,
    ensure_system_user,
    ensure_traversable,
    read_pid,
    require_free_port,
    run,
    stop_pid,
    wait_until,
    write_pid,
)
from eventledger_infra.services.base import LocalServer, apt_install
from eventledger_infra.settings import Settings

BIN = Path("/usr/lib/postgresql/15/bin")

# Local-development tuning: small, but durable (fsync stays on so that benchmarks measure real commits).
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "wal_level": "replica",
    "max_wal_size": "2GB",
    "synchronous_commit": "on",
    "log_min_duration_statement": "-1",
}

RECEIVER = "eventledger_backup"
"""The WAL receiver's application name (the synchronous standby's name) and its replication slot."""


class BackupPaths:
    """Where continuous backup keeps its files: ``<state>/backup``, beside (never inside) the server's own folder,
    so that losing the data directory loses none of them. On a real deployment this is another disk or host."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "backup"
        self.marker = state_dir / "postgres" / "continuous-backup"
        self.wal = self.root / "wal"
        self.stream = self.root / "stream"
        self.base = self.root / "base"
        self.receiver_log = self.root / "receivewal.log"
        self.receiver_pid = self.root / "receivewal.pid"

    def archive_command(self) -> str:
        """Copy a finished segment into the archive, durably and never over an archived one."""
        wal = self.wal
        return f"test ! -f {wal}/%f && cp %p {wal}/.%f.tmp && sync {wal}/.%f.tmp && mv {wal}/.%f.tmp {wal}/%f"

    def restore_command(self) -> str:
        """Fetch a segment from the archive, else from the receiver (a finished one, else the one it was writing)."""
        return f"cp {self.wal}/%f %p || cp {self.stream}/%f %p || cp {self.stream}/%f.partial %p"


class PostgresServer(LocalServer):
    name = "postgres"
    start_timeout = 60.0
    promote_timeout = 1800.0
    """How long a restore's recovery may replay WAL before it is given up."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.backup = BackupPaths(settings.state_dir)

    @property
    def continuous_backup(self) -> bool:
        return self.backup.marker.exists()

    def enable_continuous_backup(self) -> None:
        """Record that this cluster runs with continuous backup; takes effect at its next start."""
        self.backup.marker.parent.mkdir(parents=True, exist_ok=True)
        self.backup.marker.write_text("on\n")

    @property
    def data_dir(self) -> Path:
        return self.state / "data"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    def install(self) -> None:
        if not (BIN / "postgres").exists():
            apt_install(["postgresql-15", "postgresql-client-15"], "PostgreSQL")

    def _user(self) -> str | None:
        return ensure_system_user(self.settings.service_user)

    def _init_cluster(self, user: str | None) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.state.mkdir(parents=True, exist_ok=True)
        # A half-initialised cluster (interrupted initdb) is thrown away and made again.
        if self.data_dir.exists():
            subprocess.run(["rm", "-rf", str(self.data_dir)], check=True)
        ensure_traversable(self.state, user)
        chown_tree(self.state, user)
        password_file = self.state / "pwfile"
        password_file.write_text(self.settings.pg_password + "\n")
        chown_tree(self.state, user)
        try:
            run(
                as_user(
                    user,
                    [
                        BIN / "initdb",
                        "-D",
                        self.data_dir,
                        "-U",
                        self.settings.pg_user,
                        f"--pwfile={password_file}",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ],
                ),
                "initdb",
            )
        finally:
            password_file.unlink(missing_ok=True)

    def start(self) -> None:
        if self.running():
            if self.continuous_backup:
                self.start_receiver()
            return
        self.start_server()
        if self.continuous_backup:
            self.start_receiver()
        self._create_database()

    def _options(self) -> str:
        options = " ".join(f"-c {key}={value}" for key, value in SERVER_OPTIONS.items())
        options += f" -p {self.settings.pg_port} -k {self.state}"
        if self.continuous_backup:
            # pg_ctl hands the options to a shell: the archive command travels single-quoted.
            options += f" -c archive_mode=on -c archive_command='{self.backup.archive_command()}'"
            options += f" -c synchronous_standby_names={RECEIVER} -c archive_timeout=60"
        return options

    def start_server(self) -> None:
        """Start the postmaster and wait until it answers (a restore's recovery answers before it is promoted)."""
        require_free_port("PostgreSQL", self.settings.host, self.settings.pg_port, "EVENTLEDGER_PG_PORT")
        user = self._user()
        self._init_cluster(user)
        if self.continuous_backup:
            for folder in (self.backup.root, self.backup.wal, self.backup.stream, self.backup.base):
                folder.mkdir(parents=True, exist_ok=True)
            ensure_traversable(self.backup.root, user)
            chown_tree(self.backup.root, user)
        options = self._options()
        self.log_path.touch()
        chown_tree(self.state, user)
        run(
            as_user(
                user,
                [
                    BIN / "pg_ctl",
                    "-D",
                    self.data_dir,
                    "-l",
                    self.log_path,
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(int(self.start_timeout)),
                    "start",
                ],
            ),
            "pg_ctl start",
        )
        wait_until("PostgreSQL", self.ready, self.start_timeout, self.running, self.log_path)

    def wait_until_promoted(self) -> None:
        """Wait for a recovering server to finish replaying and take writes."""
        wait_until(
            "PostgreSQL's recovery",
            lambda: self._psql("SELECT pg_is_in_recovery()").strip() == "f",
            self.promote_timeout,
            self.running,
            self.log_path,
        )

    # ------------------------------------------------------------------ the synchronous WAL receiver
    def receiver_pid(self) -> int | None:
        return read_pid(self.backup.receiver_pid)

    def _receiver_connection(self) -> str:
        settings = self.settings
        return f"host={self.state} port={settings.pg_port} user={settings.pg_user} application_name={RECEIVER}"

    def start_receiver(self) -> None:
        """Start ``pg_receivewal --synchronous`` on the replication slot (made if missing), and wait until the server
        counts it as its synchronous standby: until then every commit waits."""
        if self.receiver_pid() is None:
            user = self._user()
            self.backup.stream.mkdir(parents=True, exist_ok=True)
            chown_tree(self.backup.root, user)
            connection = ["-d", self._receiver_connection(), "--slot", RECEIVER, "--no-password"]
            run(
                as_user(user, [BIN / "pg_receivewal", *connection, "--create-slot", "--if-not-exists"]),
                "creating the WAL receiver's replication slot",
            )
            command = [str(BIN / "pg_receivewal"), *connection, "-D", str(self.backup.stream), "--synchronous"]
            account = pwd.getpwnam(user) if user else None
            with self.backup.receiver_log.open("ab") as log:
                receiver = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    user=account.pw_uid if account else None,
                    group=account.pw_gid if account else None,
                    extra_groups=[] if account else None,
                )
            write_pid(self.backup.receiver_pid, receiver.pid)
        wait_until(
            "the synchronous WAL receiver",
            self.receiver_is_synchronous,
            self.start_timeout,
            lambda: self.receiver_pid() is not None,
            self.backup.receiver_log,
        )

    def receiver_is_synchronous(self) -> bool:
        query = f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{RECEIVER}'"
        return self._psql(query).strip() == "sync"

    def stop_receiver(self) -> bool:
        return stop_pid(self.backup.receiver_pid)

    def kill(self) -> None:
        """SIGKILL the postmaster (a disaster drill's crash); its children exit as they find it gone."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while read_pid(self.pid_file) == pid and time.monotonic() < deadline:
                time.sleep(0.05)

    def _psql(self, sql: str, database: str = "postgres") -> str:
        env = {**os.environ, "PGPASSWORD": self.settings.pg_password, "PGCONNECT_TIMEOUT": "3"}
        return run(
            [
                "psql",
                "-X",
                "-At",
                "-h",
                self.settings.host,
                "-p",
                str(self.settings.pg_port),
                "-U",
                self.settings.pg_user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            f"psql {sql!r}",
            env=env,
        )

    def _create_database(self) -> None:
        name = self.settings.pg_database
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
        if exists != "1":
            self._psql(f'CREATE DATABASE "{name}"')

    def ready(self) -> bool:
        try:
            return self._psql("SELECT 1").strip() == "1"
        except ProvisioningError:
            return False

    def stop(self) -> bool:
        if read_pid(self.pid_file) is None:
            return self.stop_receiver()
        user = self._user()
        run(as_user(user, [BIN / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop"]), "pg_ctl stop")
        # After the server: a fast shutdown sends the receiver the WAL up to its shutdown checkpoint.
        self.stop_receiver()
        return True

    def address(self) -> str:
        return self.settings.postgres_dsn

    def version(self) -> str:
        return self._psql("SHOW server_version").strip()
