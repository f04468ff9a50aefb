"""A plain progress bar for rebuilds: done/total, events per second and time left (stdlib only)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressBar:
    """Redraws one line (``\\r``) on a terminal, or prints a line every few seconds otherwise."""

    def __init__(
        self,
        total: int,
        *,
        label: str = "rebuild",
        stream: TextIO | None = None,
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self._label = label
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._clock = clock
        self._started = clock()
        self._drawn_at = float("-inf")
        self._tty = self._stream.isatty()

    def extend(self, more: int) -> None:
        """More work was found (the log grew while we replayed)."""
        self.total += more
        self._draw(force=False)

    def advance(self, count: int) -> None:
        self.done += count
        self._draw(force=False)

    def finish(self) -> None:
        self.total = max(self.total, self.done)
        self._draw(force=True)
        if self._tty:
            self._stream.write("\n")
        self._stream.flush()

    @property
    def rate(self) -> float:
        elapsed = self._clock() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def render(self) -> str:
        total = max(self.total, self.done, 1)
        fraction = self.done / total
        filled = int(fraction * self._width)
        rate = self.rate
        left = (total - self.done) / rate if rate > 0 else None
        eta = _duration(left) if left is not None else "--:--:--"
        bar = "#" * filled + "-" * (self._width - filled)
        return (
            f"{self._label} [{bar}] {fraction * 100:5.1f}% {self.done:,}/{total:,} events"
            f"  {rate:,.0f} events/s  {eta} left"
        )

    def _draw(self, *, force: bool) -> None:
        now = self._clock()
        interval = 0.2 if self._tty else 5.0
        if not force and now - self._drawn_at < interval:
            return
        self._drawn_at = now
        self._stream.write(("\r" if self._tty else "") + self.render() + ("" if self._tty else "\n"))
        self._stream.flush()


def _duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class ProgressBarListener:
    """A rebuild listener that draws the progress bar (events/s, time left) from the rebuild's plan and progress."""

    def __init__(self, label: str) -> None:
        self.bar = ProgressBar(0, label=label)

    def planned(self, events: int) -> None:
        self.bar.extend(events)

    def replayed(self, events: int) -> None:
        self.bar.advance(events)
