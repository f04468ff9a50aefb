"""Sandboxes, from the CLI, for every read model on the real servers: a read model rebuilt as of a past position
into a namespace of its own beside the live one, diffed against a replay of the log (and, for PostgreSQL, against the
live version), and dropped (ADR 0034)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from tests.support.eventstore import isolated_schema
from tests.support.projection_rig import Workload
from tests.support.servers import Endpoints

import eventledger_projections.__main__ as cli
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_projections.bootstrap import PROJECTIONS
from eventledger_projections.elasticsearch.client import elasticsearch_client
from eventledger_projections.postgres.rebuild import PostgresRebuild
from eventledger_projections.rebuild.sandbox import BoundedSource, SandboxCatalog, SandboxError, compare
from eventledger_projections.redis.connection import connect
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.settings import ProjectionSettings


@dataclass(frozen=True)
class _Infra:
    """What the CLI reads from the settings: a scratch event store and the shared servers, in names of its own."""

    projections: ProjectionSettings
    postgres_dsn: str
    redis_url: str
    elasticsearch_url: str
    kafka_bootstrap: str
    registry_url: str
    kafka_partitions: int = 6
    state_dir: Path = Path("/nonexistent")


@dataclass
class _Ledger:
    infra: _Infra
    past: int
    head: int


@pytest.fixture
def ledger(endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Ledger]:
    tag = uuid.uuid4().hex[:10]
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        store = PostgresEventStore(dsn, pool_size=2)
        workload = Workload(store, seed=34)
        workload.run(60)
        past = store.read_all(after_position=0, limit=100_000)[-1].position
        workload.run(60)
        head = store.read_all(after_position=0, limit=100_000)[-1].position
        store.close()
        settings = ProjectionSettings(namespace=f"sb{tag}", postgres_schema=f"rm_{tag}")
        infra = _Infra(
            settings,
            dsn,
            endpoints.redis_url,
            endpoints.elasticsearch_url,
            endpoints.kafka_bootstrap,
            endpoints.registry_url,
        )
        monkeypatch.setattr(cli, "settings_or_exit", lambda _program: infra)
        try:
            yield _Ledger(infra, past, head)
        finally:
            _clean(infra, tag)


def _clean(infra: _Infra, tag: str) -> None:
    with psycopg.connect(infra.postgres_dsn, autocommit=True) as conn:
        for (schema,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [f"rm_{tag}%"]):
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    client = connect(infra.redis_url)
    stale = list(client.scan_iter(match=f"{infra.projections.names.redis_base}*", count=1000))
    if stale:
        client.unlink(*stale)
    client.close()
    es = elasticsearch_client(infra.elasticsearch_url)
    es.options(ignore_status=404).indices.delete(index=f"{infra.projections.names.index_prefix}*")
    es.close()


def _tamper(name: str, infra: _Infra, sandbox: str) -> None:
    """Change one row of the sandbox behind the read model's back."""
    settings = infra.projections
    if name == "postgres":
        with psycopg.connect(infra.postgres_dsn, autocommit=True) as conn:
            base = f"{settings.postgres_schema}_sandbox_{sandbox}"
            row = conn.execute(f'SELECT schema_name FROM "{base}".live_version').fetchone()
            assert row is not None
            version = row[0]
            conn.execute(
                f'UPDATE "{version}".accounts SET balance = balance + 1'
                f' WHERE account_id = (SELECT account_id FROM "{version}".accounts LIMIT 1)'
            )
    elif name == "redis":
        client = connect(infra.redis_url)
        base = f"{settings.names.redis_base}:sandbox:{sandbox}"
        live = str(client.get(f"{base}:live"))
        key = next(iter(client.scan_iter(match=f"{base}:v{live}:account:*", count=1000)))
        client.hset(key, "balance", "-999999")
        client.close()
    else:
        es = elasticsearch_client(infra.elasticsearch_url)
        alias = f"{settings.names.index_prefix}sandbox-{sandbox}-transfers"
        es.indices.refresh(index=alias)
        hit = es.search(index=alias, size=1, query={"match_all": {}})["hits"]["hits"][0]
        index = next(iter(es.indices.get_alias(name=alias).body))
        es.index(index=index, id=hit["_id"], document={**hit["_source"], "amount": 1}, refresh=True)
        es.close()


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_a_sandbox_as_of_a_past_position_is_built_diffed_and_dropped_from_the_cli(
    name: str, ledger: _Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    infra, spec = ledger.infra, PROJECTIONS[name]
    assert cli.main(["rebuild", name, "--as-of-position", str(ledger.past), "--sandbox", "march"]) == 0
    assert cli.main(["rebuild", name, "--as-of-position", str(ledger.head), "--sandbox", "today"]) == 0
    assert f"as of position {ledger.past:,}" in capsys.readouterr().out
    [march, today] = sorted(SandboxCatalog(infra.postgres_dsn).all(), key=lambda r: r.position)
    assert (march.name, march.position, today.position) == ("march", ledger.past, ledger.head)

    past = spec.sandboxes.contents(infra.projections, infra, "march")
    now = spec.sandboxes.contents(infra.projections, infra, "today")
    assert past, "the past sandbox holds the read model"
    assert not compare(past, now).same, "the past sandbox is not today's read model"
    if name == "postgres":
        assert max(_entry_positions(past)) <= ledger.past < max(_entry_positions(now))

    assert cli.main(["diff", name, "--sandbox", "march"]) == 0
    assert "the same" in capsys.readouterr().out
    _tamper(name, infra, "march")
    assert cli.main(["diff", name, "--sandbox", "march"]) == 1
    report = capsys.readouterr().out
    assert "differ" in report
    assert "1 different" in report
    assert not SandboxCatalog(infra.postgres_dsn).find(name, "march_replay"), "the replay is dropped after the diff"

    assert cli.main(["drop-sandbox", name, "--sandbox", "march"]) == 0
    with pytest.raises(SandboxError):
        spec.sandboxes.contents(infra.projections, infra, "march")
    assert cli.main(["drop-sandbox", name, "--sandbox", "march"]) == 2
    assert cli.main(["diff", name, "--sandbox", "march"]) == 2
    assert "no " in capsys.readouterr().err
    assert cli.main(["drop-sandbox", name, "--sandbox", "today"]) == 0


def test_a_sandbox_is_refused_beyond_the_settled_head_with_a_bad_name_or_twice(
    ledger: _Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["rebuild", "postgres", "--as-of-position", str(ledger.head + 10), "--sandbox", "future"]) == 2
    assert "beyond the log's settled head" in capsys.readouterr().err
    assert cli.main(["rebuild", "postgres", "--as-of-position", "1", "--sandbox", "Bad-Name"]) == 2
    assert "not a sandbox name" in capsys.readouterr().err
    assert cli.main(["rebuild", "postgres", "--as-of-position", "5", "--sandbox", "once"]) == 0
    assert cli.main(["rebuild", "postgres", "--as-of-position", "5", "--sandbox", "once"]) == 2
    assert "drop it first" in capsys.readouterr().err
    assert SandboxCatalog(ledger.infra.postgres_dsn).find("postgres", "future") is None, "a refusal leaves nothing"


def test_a_postgres_sandbox_equals_the_live_version_at_the_same_position(
    ledger: _Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    infra = ledger.infra
    source = BoundedSource(PostgresEventLogReader(infra.postgres_dsn), ledger.head)
    try:
        PostgresRebuild(infra.postgres_dsn, source, base_schema=infra.projections.postgres_schema).run()
    finally:
        source.close()
    assert cli.main(["rebuild", "postgres", "--as-of-position", str(ledger.head), "--sandbox", "now"]) == 0
    assert cli.main(["diff", "postgres", "--sandbox", "now", "--against", "live"]) == 0
    assert cli.main(["rebuild", "postgres", "--as-of-position", str(ledger.past), "--sandbox", "then"]) == 0
    capsys.readouterr()
    assert cli.main(["diff", "postgres", "--sandbox", "then", "--against", "live"]) == 1
    out = capsys.readouterr().out
    assert "only in live" in out


def _entry_positions(contents: dict[str, dict[str, str]]) -> list[int]:
    """The positions of the PostgreSQL read model's statement lines (their key is ``[account_id, position]``)."""
    return [int(key.strip("[]").rsplit(",", 1)[1]) for key in contents["account_entries"]]
