"""One contract suite for every DataKeyStore backend (crypto-shredding's keys): in memory and PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from tests.support.eventstore import isolated_schema
from tests.support.processes import scratch_database

from eventledger_events.personal import DataKey, open_sealed, seal
from eventledger_infra.settings import Settings
from eventledger_runtime.personal import (
    DataKeyStore,
    InMemoryDataKeyStore,
    KeyEncryptionKeys,
    KeyUnavailable,
    PostgresDataKeyStore,
    SubjectErased,
    UnknownDataKey,
    kek_id,
)

OLD_KEK, NEW_KEK = os.urandom(32), os.urandom(32)
Make = Callable[[KeyEncryptionKeys], DataKeyStore]
"""``make(keks)``: a store of the backend under test over one shared storage, with those key-encryption keys."""


@pytest.fixture(params=["memory", "postgres"])
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    if request.param == "memory":
        first: list[InMemoryDataKeyStore] = []

        def memory(keks: KeyEncryptionKeys) -> DataKeyStore:
            store = InMemoryDataKeyStore(keks, shared=first[0] if first else None)
            first.append(store)
            return store

        yield memory
        return
    made: list[DataKeyStore] = []
    with isolated_schema(request.getfixturevalue("endpoints").postgres_dsn, "datakeys") as dsn:

        def postgres(keks: KeyEncryptionKeys) -> DataKeyStore:
            store = PostgresDataKeyStore(dsn, keks, pool_size=4)
            made.append(store)
            return store

        try:
            yield postgres
        finally:
            for store in made:
                store.close()


def test_a_subjects_key_is_made_once_and_found_by_its_id_from_another_store(make: Make) -> None:
    store = make(KeyEncryptionKeys(OLD_KEK))
    key = store.key_for("account-1")
    assert store.key_for("account-1") == key
    other = make(KeyEncryptionKeys(OLD_KEK))
    assert other.key_for("account-1") == key
    assert other.keys([key.key_id]) == {key.key_id: key}
    assert store.key_for("account-2") != key
    assert open_sealed(seal("Ada", key, "holder_name"), other.keys([key.key_id])[key.key_id], "holder_name") == "Ada"  # type: ignore[arg-type]


def test_racing_callers_all_get_the_same_new_key(make: Make) -> None:
    stores = [make(KeyEncryptionKeys(OLD_KEK)) for _ in range(4)]
    found: list[DataKey] = []
    barrier = threading.Barrier(len(stores) * 2)

    def take(store: DataKeyStore) -> None:
        barrier.wait()
        found.append(store.key_for("account-race"))

    threads = [threading.Thread(target=take, args=(store,)) for store in stores * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8
    assert len(set(found)) == 1


def test_an_unknown_key_id_is_named(make: Make) -> None:
    with pytest.raises(UnknownDataKey):
        make(KeyEncryptionKeys(OLD_KEK)).keys(["0" * 32])


def test_an_erased_subject_opens_nothing_gets_no_new_key_and_its_erasure_is_recorded_once(make: Make) -> None:
    store = make(KeyEncryptionKeys(OLD_KEK))
    key = store.key_for("account-gone")
    kept = store.key_for("account-kept")
    erasure = store.erase("account-gone", erased_by="dpo@example.test", reason="GDPR art. 17 request 42")
    assert (erasure.subject, erasure.key_id, erasure.erased_by, erasure.reason) == (
        "account-gone",
        key.key_id,
        "dpo@example.test",
        "GDPR art. 17 request 42",
    )
    other = make(KeyEncryptionKeys(OLD_KEK))
    assert other.keys([key.key_id, kept.key_id]) == {key.key_id: None, kept.key_id: kept}
    with pytest.raises(SubjectErased, match="account-gone was erased"):
        other.key_for("account-gone")
    again = other.erase("account-gone", erased_by="someone else", reason="again")
    assert again == erasure
    assert other.erasure("account-gone") == erasure
    assert other.erasure("account-kept") is None


def test_a_subject_erased_before_it_had_a_key_never_gets_one(make: Make) -> None:
    store = make(KeyEncryptionKeys(OLD_KEK))
    store.erase("account-never", erased_by="dpo", reason="asked before any record")
    with pytest.raises(SubjectErased):
        store.key_for("account-never")


def test_a_kek_rotation_rewraps_every_live_key_and_the_old_kek_is_then_not_needed(make: Make) -> None:
    old = make(KeyEncryptionKeys(OLD_KEK))
    keys = [old.key_for(f"account-{n}") for n in range(5)]
    old.erase("account-0", erased_by="dpo", reason="test")
    rotating = make(KeyEncryptionKeys(NEW_KEK, previous=[OLD_KEK]))
    assert rotating.keys([k.key_id for k in keys[1:]]) == {k.key_id: k for k in keys[1:]}
    new_subject = rotating.key_for("account-new")
    assert rotating.rewrap() == 4
    assert rotating.rewrap() == 0
    new_only = make(KeyEncryptionKeys(NEW_KEK))
    assert new_only.keys([k.key_id for k in keys[1:]]) == {k.key_id: k for k in keys[1:]}
    assert new_only.key_for("account-new") == new_subject
    stale = make(KeyEncryptionKeys(OLD_KEK))
    with pytest.raises(KeyUnavailable, match=kek_id(NEW_KEK)):
        stale.keys([keys[1].key_id])


def test_a_kek_is_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        KeyEncryptionKeys(b"short")


def test_an_erased_key_leaves_the_tables_pages() -> None:
    """The wrapped key of an erased subject is gone from the table's file on disk, not only from its visible rows
    (the store VACUUMs after an erasure): a byte search of the relation's file after a checkpoint. In a database of
    its own, so that no other test's open transaction keeps the old row version alive."""
    settings = Settings.from_env()
    with scratch_database(settings) as name:
        dsn = settings.postgres_dsn.rsplit("/", 1)[0] + "/" + name
        store = PostgresDataKeyStore(dsn, KeyEncryptionKeys(OLD_KEK))
        try:
            store.key_for("account-x")
            with psycopg.connect(dsn, autocommit=True) as conn:
                wrapped = bytes(conn.execute("SELECT wrapped_key FROM personal_data_keys").fetchone()[0])  # type: ignore[index]
                assert wrapped in _relation_file(conn).read_bytes()
                store.erase("account-x", erased_by="dpo", reason="test")
                assert wrapped not in _relation_file(conn).read_bytes()
        finally:
            store.close()


def _relation_file(conn: psycopg.Connection[object]) -> Path:
    conn.execute("CHECKPOINT")
    data = conn.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
    relative = conn.execute("SELECT pg_relation_filepath('personal_data_keys')").fetchone()[0]  # type: ignore[index]
    return Path(str(data)) / str(relative)
