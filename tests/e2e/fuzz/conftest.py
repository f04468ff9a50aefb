from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.fuzz import CASES, RESTARTS
from tests.support.servers import Endpoints
from tests.support.system import ROLES, RunningSystem, running_system

# Fuzzed X-Min-Position values are mostly never reached: each waits out this bound before its documented 503, so the
# fuzzed system gets a short one (the system tier keeps a long one for read-your-writes under load).
FUZZ_ENV = {"EVENTLEDGER_QUERY_MIN_POSITION_WAIT_SECONDS": "0.2"}


@pytest.fixture(scope="package")
def fuzzed(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """The whole system as `make up` starts it, with a short read-your-writes bound; stopped (and its logs scanned
    for unexpected errors) when the fuzz is done, before the system tier starts its own on the same ports."""
    try:
        with running_system(tmp_path_factory.mktemp("fuzzed"), extra_env=FUZZ_ENV) as running:
            yield running
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="package")
def fuzz_token(fuzzed: RunningSystem) -> str:
    return fuzzed.token(*ROLES, subject="fuzzer")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many cases the fuzz tier ran (the closing note of issue 16 asks for it)."""
    if CASES:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(CASES.items()))
        restarted = f"; {RESTARTS['sequence engines']} sequence engines restarted" if RESTARTS else ""
        terminalreporter.write_line(f"fuzz tier: {sum(CASES.values())} cases ({counts}){restarted}")
