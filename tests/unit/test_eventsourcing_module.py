"""The eventsourcing persistence module (ADR 0027) without a server: the library finds its one factory by
``PERSISTENCE_MODULE``, and no statement of it takes a table lock or notifies inside an insert."""

from __future__ import annotations

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import Environment

from eventledger_command.eventsourcing import GapSafeApplicationRecorder, GapSafeFactory, GapSafeProcessRecorder

ENV = {
    "PERSISTENCE_MODULE": "eventledger_command.eventsourcing",
    "POSTGRES_DBNAME": "nowhere",
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "1",
    "POSTGRES_USER": "nobody",
    "POSTGRES_PASSWORD": "unused",
    "POSTGRES_SCHEMA": "teamschema",
}


def test_the_library_finds_the_one_factory_in_the_module():
    factory = InfrastructureFactory.construct(Environment("Accounts", ENV))
    try:
        assert type(factory) is GapSafeFactory
        assert factory.datastore.schema == "teamschema"
    finally:
        factory.close()


def _statements(recorder: GapSafeApplicationRecorder) -> list[str]:
    composed = [*recorder.sql_create_statements, recorder._insert, recorder._frontier, recorder._notifications]
    return [statement.as_string() for statement in composed]


def test_no_statement_locks_the_table_or_notifies_inside_an_insert():
    datastore = PostgresDatastore("nowhere", "127.0.0.1", 1, "nobody", "unused", schema="teamschema")
    try:
        for recorder in (GapSafeApplicationRecorder(datastore), GapSafeProcessRecorder(datastore)):
            text = " ".join(_statements(recorder)).upper()
            assert "LOCK TABLE" not in text
            assert "NOTIFY" not in text
            assert "ADVISORY" not in text
    finally:
        datastore.close()


def test_the_insert_takes_the_transaction_id_before_it_draws_ids():
    datastore = PostgresDatastore("nowhere", "127.0.0.1", 1, "nobody", "unused", schema="teamschema")
    try:
        insert = GapSafeApplicationRecorder(datastore, events_table_name="accounts_events")._insert.as_string()
    finally:
        datastore.close()
    assert insert.startswith("WITH tx AS MATERIALIZED (SELECT pg_current_xact_id() AS tx_id) INSERT INTO")
    assert '"teamschema"."accounts_events"' in insert
    assert "SELECT tx.tx_id, e.* FROM tx, unnest(" in insert
