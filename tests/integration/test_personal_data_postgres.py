"""Crypto-shredding on the real PostgreSQL store: the event rows, the snapshots and the idempotency replies hold no
plaintext name or description (a byte search of the rows), the readers' decode step opens them (the rebuild source
every read model reads, and the Redis rebuild's decode-free row mapping), and after the admin erasure they read
``[erased]`` while balances still hold."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import psycopg
import pytest
from tests.support.eventstore import isolated_schema
from tests.support.http_service import serve
from tests.support.servers import Endpoints

from eventledger_command import personal as personal_cli
from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import Container, build
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import AccountOpened, TransferPosted
from eventledger_events.personal import ERASED
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_projections.redis.pages import OperationPages
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.personal import PersonalDataOpener, PostgresDataKeyStore
from eventledger_runtime.settings import CommandSettings, PersonalDataSettings

NAMES = (b"Ada Lovelace", b"Bob Babbage")
DESCRIPTIONS = (b"salary of Ada", b"analytical engine rent")


@pytest.fixture
def service(endpoints: Endpoints) -> Iterator[tuple[str, Container, str]]:
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        container = build(CommandSettings(snapshot_interval=3), store=PostgresEventStore(dsn, pool_size=4))
        with serve(create_app(container)) as url:
            yield url, container, dsn


def _rows(dsn: str) -> bytes:
    """Every byte of every row of the event store's tables (and of the key table), as PostgreSQL renders them."""
    with psycopg.connect(dsn) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
        ]
        dumped = [str(row).encode() for table in tables for row in conn.execute(f'SELECT t::text FROM "{table}" t')]
    assert dumped, "the store is empty"
    return b"\n".join(dumped)


def _ledger(client: httpx.Client) -> tuple[str, str]:
    ada = client.post("/v1/accounts", json={"holder_name": "Ada Lovelace", "currency": "EUR"}).json()["account_id"]
    bob = client.post("/v1/accounts", json={"holder_name": "Bob Babbage", "currency": "EUR"}).json()["account_id"]
    answer = client.post(
        "/v1/deposits",
        json={"account_id": ada, "amount": 1_000, "description": "salary of Ada"},
        headers={"Idempotency-Key": "deposit-1"},
    )
    assert answer.status_code == 201
    for number in range(4):  # crosses the snapshot interval (3) on both accounts
        transfer = {"from_account_id": ada, "to_account_id": bob, "amount": 10, "description": "analytical engine rent"}
        answer = client.post("/v1/transfers", json=transfer, headers={"Idempotency-Key": f"rent-{number}"})
        assert answer.status_code == 201, answer.text
    return ada, bob


def test_the_store_holds_no_plaintext_and_the_readers_open_it(service: tuple[str, Container, str]) -> None:
    url, container, dsn = service
    with httpx.Client(base_url=url, timeout=30) as client:
        ada, bob = _ledger(client)
    rows = _rows(dsn)
    for plaintext in NAMES + DESCRIPTIONS:
        assert plaintext not in rows
    assert b"pii:1:" in rows
    with psycopg.connect(dsn) as conn:
        snapshots = conn.execute("SELECT count(*) FROM snapshots").fetchone()
    assert snapshots is not None
    assert snapshots[0] >= 2

    keks = PersonalDataSettings().keks()
    source = EventStoreSource(PostgresEventLogReader(dsn))
    try:
        head = source.log.head_position()
        envelopes = source.read(0, head, 1_000)
        names = {e.payload.holder_name for e in envelopes if isinstance(e.payload, AccountOpened)}
        assert names == {"Ada Lovelace", "Bob Babbage"}
        descriptions = {e.payload.description for e in envelopes if isinstance(e.payload, TransferPosted)}
        assert descriptions == {"salary of Ada", "analytical engine rent"}
        page = OperationPages(source.log).read(0, head, 1_000)
        assert not page.refused
        assert {op[6] for op in page.operations if op[0] == "O"} == {"Ada Lovelace", "Bob Babbage"}

        with httpx.Client(base_url=url, timeout=30) as client:
            erased = client.post(f"/v1/admin/accounts/{ada}/erasure", json={"reason": "asked to be forgotten"})
            assert erased.status_code == 200, erased.text
            # The balances still hold: the erasure moves no money.
            state = client.get(f"/v1/audit/accounts/{bob}/state", params={"version": 5}).json()
            assert state["balance"] == 40
            assert state["holder_name"] == "Bob Babbage"
        # The reader that opened Ada's values before has seen the erasure event now: it never serves her key again.
        head = source.log.head_position()
        source.read(0, head, 1_000)
        again = {e.payload.holder_name for e in source.read(0, head, 1_000) if isinstance(e.payload, AccountOpened)}
        assert again == {ERASED, "Bob Babbage"}
    finally:
        source.close()
    # A reader started after the erasure (a rebuild, another process) finds her key destroyed.
    keys = PostgresDataKeyStore(dsn, keks)
    fresh = EventStoreSource(PostgresEventLogReader(dsn), opener=PersonalDataOpener(keys))
    try:
        envelopes = fresh.read(0, head, 1_000)
        names = {e.payload.holder_name for e in envelopes if isinstance(e.payload, AccountOpened)}
        assert names == {ERASED, "Bob Babbage"}
        descriptions = {e.payload.description for e in envelopes if isinstance(e.payload, TransferPosted)}
        assert descriptions == {ERASED}  # each was about Ada
        page = OperationPages(fresh.log, fresh.opener).read(0, head, 1_000)
        assert {op[6] for op in page.operations if op[0] == "O"} == {ERASED, "Bob Babbage"}
    finally:
        fresh.close()
        keys.close()
    state = container.repository.load_account(uuid.UUID(ada)).state
    assert state is not None
    assert (state.erased, state.balance) == (True, 960)
    assert b"Ada Lovelace" not in _rows(dsn)


def test_rewrap_moves_every_key_to_a_new_key_encryption_key(
    service: tuple[str, Container, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _, dsn = service
    with httpx.Client(base_url=url, timeout=30) as client:
        _ledger(client)
    old = PersonalDataSettings().key_encryption_key.get_secret_value()
    options = dsn.split("options=", 1)[1]
    monkeypatch.setenv("PGOPTIONS", unquote(options))  # the CLI reads the PostgreSQL settings: same schema
    monkeypatch.setenv("EVENTLEDGER_PERSONAL_KEY_ENCRYPTION_KEY", "a-new-key-encryption-key-of-enough-length-0001")
    assert personal_cli.main(["rewrap"]) == 1  # the old KEK is not configured: refused, nothing changed
    assert "not configured" in capsys.readouterr().err
    monkeypatch.setenv("EVENTLEDGER_PERSONAL_PREVIOUS_KEY_ENCRYPTION_KEYS", old)
    assert personal_cli.main(["rewrap"]) == 0
    assert "rewrapped 2 data key(s)" in capsys.readouterr().out
    monkeypatch.delenv("EVENTLEDGER_PERSONAL_PREVIOUS_KEY_ENCRYPTION_KEYS")
    keys = PostgresDataKeyStore(dsn, PersonalDataSettings().keks())
    source = EventStoreSource(PostgresEventLogReader(dsn), opener=PersonalDataOpener(keys))
    try:
        names = {
            e.payload.holder_name
            for e in source.read(0, source.log.head_position(), 100)
            if isinstance(e.payload, AccountOpened)
        }
    finally:
        source.close()
        keys.close()
    assert names == {"Ada Lovelace", "Bob Babbage"}
