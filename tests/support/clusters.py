"""A private PostgreSQL cluster for the backup tests and benchmarks: the provisioning code's own, on a free port and a
state folder of its own under the system's temporary folder, with or without continuous backup (ADR 0033).

The state folder is not under pytest's temporary folder: the server runs as the service user, and every pytest session
that starts on the machine takes the search permission off ``/tmp/pytest-of-<user>`` again (it keeps that folder
private), which once cut the server and the backup tool off from their own files mid-test."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from eventledger_infra.services.postgres import PostgresServer
from eventledger_infra.settings import Settings
from tests.support.servers import restartable_port


@contextlib.contextmanager
def private_cluster(*, continuous_backup: bool, tag: str) -> Iterator[PostgresServer]:
    state = Path(tempfile.mkdtemp(prefix=f"eventledger-{tag}-"))
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
