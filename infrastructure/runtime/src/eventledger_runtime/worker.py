"""What every worker process (relay, projectors, stream job) does around its loop: stop cleanly on a signal."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def stop_on_signals(
    stop: Callable[[], None], *, pause: Callable[[], None] | None = None, resume: Callable[[], None] | None = None
) -> None:
    """SIGTERM and SIGINT call ``stop`` (the loop finishes its batch and returns); SIGUSR1/SIGUSR2 call ``pause`` and
    ``resume`` when given."""
    signal.signal(signal.SIGTERM, lambda *_: stop())
    signal.signal(signal.SIGINT, lambda *_: stop())
    if pause is not None:
        signal.signal(signal.SIGUSR1, lambda *_: pause())
    if resume is not None:
        signal.signal(signal.SIGUSR2, lambda *_: resume())


class StoppableLoop:
    """A worker loop's stop request, shared with whoever asks (a signal handler, the ops endpoint, a test).

    The loop reads ``self._stop`` (a :class:`threading.Event`: it can also wait on it instead of sleeping).
    """

    def __init__(self) -> None:
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the loop to finish: a batch in hand completes (or is abandoned uncommitted), then the loop returns."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless asked to stop first (answers whether it was)."""
        return self._stop.wait(seconds)
