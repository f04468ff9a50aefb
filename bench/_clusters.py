"""A private PostgreSQL cluster for the backup benchmarks: the provisioning code's own, on a free port and a state
folder of its own under the system's temporary folder, with or without continuous backup (ADR 0033)."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.servers import restartable_port

from eventledger_infra.services.postgres import PostgresServer
from eventledger_infra.settings import Settings


@contextlib.contextmanager
def private_cluster(*, continuous_backup: bool, tag: str) -> Iterator[PostgresServer]:
    state = Path(tempfile.mkdtemp(prefix=f"eventledger-bench-{tag}-"))
    settings = dataclasses.replace(Settings.from_env(), state_dir=state, pg_port=restartable_port())
    server = PostgresServer(settings)
    if continuous_backup:
        server.enable_continuous_backup()
    server.install()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)
