"""Read-your-writes (PRODUCT.md §3): ``X-Min-Position`` waits, bounded, until a read model reflects a position.

Every answer carries ``X-Read-Position``: the global position the read model that answered reflects. A query sent
with ``X-Min-Position: N`` waits until that model reaches N; if it does not within the configured time, the answer
is 503 with ``Retry-After`` — never stale data silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class NotYetVisible(Exception):
    """The read model did not reach the requested position in time."""

    def __init__(self, wanted: int, reached: int) -> None:
        super().__init__(f"the read model reflects position {reached}, not yet {wanted}")
        self.wanted = wanted
        self.reached = reached


def wait_for_position(position: Callable[[], int], minimum: int | None, timeout: float) -> int:
    """The model's position once it is at least ``minimum`` (at once when no minimum is asked)."""
    reached = position()
    if minimum is None or reached >= minimum:
        return reached
    deadline = time.monotonic() + timeout
    pause = 0.005
    while time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
        reached = position()
        if reached >= minimum:
            return reached
    raise NotYetVisible(minimum, reached)
