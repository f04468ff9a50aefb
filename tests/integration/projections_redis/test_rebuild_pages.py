"""The rebuild's shortcut from stored rows to operations gives, for every event of a random workload, exactly the
operation the live path builds from the validated envelope (real PostgreSQL), personal fields opened by both."""

from __future__ import annotations

from tests.support.processes import scratch_database
from tests.support.projection_rig import Workload, settings_for
from tests.support.servers import Endpoints

from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_infra.settings import Settings
from eventledger_projections.redis.operations import operation
from eventledger_projections.redis.pages import OperationPages
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.personal.opener import opener_for


def test_the_row_shortcut_equals_the_envelope_path_for_every_event(endpoints: Endpoints) -> None:
    with scratch_database(Settings.from_env()) as database:
        dsn = settings_for(database).postgres_dsn
        store = PostgresEventStore(dsn, pool_size=2)
        log = PostgresEventLogReader(dsn)
        pages = OperationPages(log)
        try:
            Workload(store, seed=61).run(300)
            recorded = store.read_all(limit=1_000_000, wait=0)
            opener = opener_for(dsn)  # the live path's: the runner opens each decoded envelope
            expected = [operation(opener(to_envelope(event))) for event in recorded]
            read = [page for page in pages.pages(0, recorded[-1].position, 64)]
        finally:
            log.close()
            store.close()
    assert [op for page in read for op in page.operations] == expected
    assert all(not page.refused for page in read)
    assert len(read) == -(-len(recorded) // 64), "pages of the requested size, up to the bound and no further"
    assert {op[0] for op in expected} == {"O", "S", "M", "H", "T"}
    assert not any(op[6].startswith("pii:") for op in expected if op[0] == "O")
