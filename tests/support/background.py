"""Load from a background thread while a test breaks something: one loop instead of one per fault test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Self


class Repeatedly:
    """Calls ``step`` again and again from a thread while the ``with`` block runs, ``pause`` seconds apart, for at
    most ``max_seconds``. The first exception ends the loop and is kept in ``errors`` for the test to assert on;
    leaving the block stops the loop and waits up to ``join_timeout`` seconds for the step in progress."""

    def __init__(
        self,
        step: Callable[[], object],
        *,
        pause: float = 0.0,
        max_seconds: float = 600.0,
        join_timeout: float = 60.0,
        name: str = "load",
    ) -> None:
        self.errors: list[BaseException] = []
        self._step = step
        self._pause = pause
        self._max_seconds = max_seconds
        self._join_timeout = join_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self._max_seconds
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._step()
                time.sleep(self._pause)
        except BaseException as exc:
            self.errors.append(exc)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(self._join_timeout)
