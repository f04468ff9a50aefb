"""Reading the log ahead of the writer: order kept, a reader failure raised to the writer, an early stop honoured."""

from __future__ import annotations

import threading

import pytest
from tests.support.ledger import LedgerScript

from eventledger_events import EventEnvelope
from eventledger_projections.elasticsearch.pages import pages_ahead


class ListSource:
    """The log as a list; ``fail_after`` reads succeed, then reading fails."""

    def __init__(self, envelopes: list[EventEnvelope], fail_after: int | None = None) -> None:
        self.envelopes = envelopes
        self.fail_after = fail_after
        self.reads = 0

    def read(self, after: int, upto: int, limit: int) -> list[EventEnvelope]:
        if self.fail_after is not None and self.reads >= self.fail_after:
            raise ConnectionError("the event store went away")
        self.reads += 1
        chosen = [e for e in self.envelopes if after < (e.position or 0) <= upto]
        return chosen[:limit]


@pytest.fixture
def log() -> list[EventEnvelope]:
    script = LedgerScript()
    ada = script.open("Ada Lovelace")
    for amount in range(1, 20):
        script.deposit(ada, amount)
    return script.envelopes


def test_every_event_in_the_bounds_comes_once_in_order(log: list[EventEnvelope]) -> None:
    pages = list(pages_ahead(ListSource(log), 3, 30, 4))
    assert [len(page) for page in pages] == [4] * 6 + [3]
    assert [e.position for page in pages for e in page] == list(range(4, 31))


def test_a_reader_failure_is_raised_to_the_writer(log: list[EventEnvelope]) -> None:
    pages = pages_ahead(ListSource(log, fail_after=2), 0, 100, 5)
    seen = [e.position for e in next(pages) + next(pages)]
    assert seen == list(range(1, 11)), "what was read before the failure is handed over first"
    with pytest.raises(ConnectionError, match="went away"):
        next(pages)


def test_leaving_early_stops_the_reader(log: list[EventEnvelope]) -> None:
    source = ListSource(log)
    for _page in pages_ahead(source, 0, 100, 2, ahead=1):
        break
    assert not any(t.name == "rebuild-reader" for t in threading.enumerate())
    assert source.reads <= 3, "the reader stops instead of reading the whole log"
