"""Shared fixtures. Every test belongs to exactly one tier, given by its folder (tests/<tier>/...)."""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = ("unit", "contract", "integration", "e2e", "fault")
_ROOT = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.fspath).relative_to(_ROOT).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in one of tests/{{{','.join(TIERS)}}}/")
        item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def endpoints():
    """The five servers, for the tiers that need them (integration, contract backends, e2e, fault).

    Consumer groups that appeared on the broker during the session and are still there at its end are deleted
    then (rigs delete their own by prefix; this catches the ad-hoc readers), so the broker does not collect them.
    """
    from eventledger_runtime.schema_registry import read_wire_format_with
    from tests.support.kafka_groups import delete_groups, group_ids
    from tests.support.servers import provide_endpoints

    try:
        with provide_endpoints() as found:
            read_wire_format_with(found.registry_url)  # consumers in this process read the relay's wire format
            before = group_ids(found.kafka_bootstrap)
            yield found
            delete_groups(found.kafka_bootstrap, group_ids(found.kafka_bootstrap) - before)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def private_kafka(endpoints, tmp_path):
    """A Kafka broker of the test's own (the same cached artifacts, its own state and ports): stopping, killing or
    restarting it disturbs no other test or process."""
    from tests.support.servers import private_kafka_server

    with private_kafka_server(tmp_path / "private-kafka") as kafka:
        yield kafka
