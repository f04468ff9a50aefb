"""The PostgreSQL log never lets a reader step over a position whose transaction may still commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from tests.support.eventstore import isolated_schema, write
from tests.support.servers import Endpoints

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest


class HeldStore(PostgresEventStore):
    """Holds the first append open before commit until released (or makes it fail), on demand."""

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn, before_commit=self._hold_if_asked)
        self.hold = threading.Event()
        self.release = threading.Event()
        self.fail = False
        self.held = threading.Event()

    def _hold_if_asked(self, conn: Any) -> None:
        if self.hold.is_set():
            self.hold.clear()
            self.held.set()
            self.release.wait(30)
            if self.fail:
                raise RuntimeError("the holder gives up: its transaction rolls back")


@pytest.fixture
def store(endpoints: Endpoints) -> Iterator[HeldStore]:
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        backend = HeldStore(dsn)
        try:
            yield backend
        finally:
            backend.release.set()
            backend.close()


def _append_in_background(store: HeldStore, stream: str) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            store.append(AppendRequest((write(stream, 0),)))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    store.hold.set()
    thread.start()
    assert store.held.wait(10)
    return thread, errors


def test_a_later_commit_is_not_read_before_an_earlier_open_position(store: HeldStore) -> None:
    holder, errors = _append_in_background(store, "account-early")  # takes position 1, stays open
    store.append(AppendRequest((write("account-late", 0),)))  # takes position 2, commits
    with psycopg.connect(store.dsn) as conn:
        naive = [row[0] for row in conn.execute("SELECT position FROM events ORDER BY position")]
    assert naive == [2], "the scenario: a naive reader would see 2 and step over 1"

    assert store.read_all(after_position=0, wait=0.2) == []

    store.release.set()
    holder.join(10)
    assert not errors
    assert [(e.position, e.stream_id) for e in store.read_all()] == [(1, "account-early"), (2, "account-late")]


def test_a_rolled_back_position_is_skipped_once_its_transaction_ended(store: HeldStore) -> None:
    store.fail = True
    holder, errors = _append_in_background(store, "account-doomed")
    store.append(AppendRequest((write("account-late", 0),)))
    assert store.read_all(after_position=0, wait=0.2) == []

    store.release.set()
    holder.join(10)
    assert len(errors) == 1
    assert "rolls back" in str(errors[0])
    assert [(e.position, e.stream_id) for e in store.read_all(wait=2)] == [(2, "account-late")]
