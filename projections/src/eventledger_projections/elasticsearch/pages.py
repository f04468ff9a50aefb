"""Reading the log ahead of the writer: the next pages are read and decoded while the current one is written.

A rebuild spends its time in two places that do not compete for much: reading and decoding events (PostgreSQL, the
Python decoder) and waiting for Elasticsearch to index a bulk request. One reader thread keeps up to ``ahead`` pages
ready; the writer takes them in order. Order matters (a settlement is folded onto the state the previous pages
wrote), so there is one writer and pages are never reordered.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Protocol

from eventledger_events import EventEnvelope


class PageSource(Protocol):
    def read(self, after: int, upto: int, limit: int) -> list[EventEnvelope]: ...


_END = object()


def pages_ahead(
    source: PageSource, after: int, upto: int, size: int, *, ahead: int = 2
) -> Iterator[list[EventEnvelope]]:
    """Every event of ``(after, upto]`` in pages of ``size``, in order, read by a thread up to ``ahead`` pages in
    advance. A failure of the reader is raised here; leaving the loop early stops the reader."""
    ready: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        cursor = after
        try:
            while not stop.is_set():
                page = source.read(cursor, upto, size)
                if not page:
                    break
                position = page[-1].position
                assert position is not None
                cursor = position
                if not put(page):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            put(error)
            return
        put(_END)

    reader = threading.Thread(target=read, name="rebuild-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, list)
            yield item
    finally:
        stop.set()
        reader.join(30)
