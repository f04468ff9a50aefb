"""The projector CLI's ``run`` with a test hook: ``python -m tests.support.projector_launcher <name>``.

With ``EVENTLEDGER_PROJECTION_TEST_KILL_AFTER_BATCHES=N`` the projector SIGKILLs itself right after the store write
of its N-th batch, before that batch's Kafka offsets are committed, so fault tests hit that window
deterministically. The hook goes in through the runner's ``after_store_write`` seam; production code knows nothing
of it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from eventledger_projections.__main__ import run

KILL_AFTER_BATCHES = "EVENTLEDGER_PROJECTION_TEST_KILL_AFTER_BATCHES"
REPOSITORY = Path(__file__).resolve().parents[2]
"""Where ``python -m tests.support.projector_launcher`` must run from (the ``tests`` package is not installed)."""

log = logging.getLogger("tests.projector_launcher")


def kill_after(batches: int) -> Callable[[int], None]:
    """Die like a crash after the store write of batch ``batches``, before its offsets are committed."""

    def hook(done: int) -> None:
        if done >= batches:
            log.warning("test hook: SIGKILL after the store write of batch %d, before the offset commit", done)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def main(argv: list[str]) -> int:
    (name,) = argv
    batches = int(os.environ.get(KILL_AFTER_BATCHES, "0"))
    return run(name, after_store_write=kill_after(batches) if batches > 0 else None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
