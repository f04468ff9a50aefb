"""PostgreSQL 15 from Debian's packages, as a cluster of our own under the state folder."""

from __future__ import annotations

import os
import subprocess
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
    wait_until,
)
from eventledger_infra.services.base import LocalServer, apt_install

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


class PostgresServer(LocalServer):
    name = "postgres"
    start_timeout = 60.0

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
            return
        require_free_port("PostgreSQL", self.settings.host, self.settings.pg_port, "EVENTLEDGER_PG_PORT")
        user = self._user()
        self._init_cluster(user)
        options = " ".join(f"-c {key}={value}" for key, value in SERVER_OPTIONS.items())
        options += f" -p {self.settings.pg_port} -k {self.state}"
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
        self._create_database()

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
            return False
        user = self._user()
        run(as_user(user, [BIN / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop"]), "pg_ctl stop")
        return True

    def address(self) -> str:
        return self.settings.postgres_dsn

    def version(self) -> str:
        return self._psql("SHOW server_version").strip()
