"""``python -m eventledger_projections.redis rebuild``: rebuild the Redis read model from the event store beside
the live version, with a progress line (events/s, time left), then switch to it atomically.

``python -m eventledger_projections.redis run``: run the Redis projector (the same as
``python -m eventledger_projections redis``).
"""

from __future__ import annotations

import argparse
import logging
import sys

from eventledger_projections.rebuild.progress import ProgressBar
from eventledger_projections.redis.service import rebuild_redis
from eventledger_projections.redis.versions import RebuildAlreadyRunning
from eventledger_runtime.settings import settings_or_exit


class _BarListener:
    def __init__(self) -> None:
        self.bar = ProgressBar(0, label="rebuild redis")

    def planned(self, events: int) -> None:
        self.bar.extend(events)

    def replayed(self, events: int) -> None:
        self.bar.advance(events)


def rebuild() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s rebuild-redis %(message)s")
    listener = _BarListener()
    try:
        settings = settings_or_exit("rebuild-redis")
        report = rebuild_redis(settings.projections, settings, listener)
    except RebuildAlreadyRunning as error:
        print(f"not rebuilding: {error}", file=sys.stderr)
        return 1
    listener.bar.finish()
    print(f"rebuilt redis: {report}")
    return 0


def run() -> int:
    """The shared projector process, for the projection registered as ``redis``."""
    from eventledger_projections import __main__ as projector

    return projector.run("redis")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventledger_projections.redis")
    parser.add_argument("command", choices=["rebuild", "run"])
    args = parser.parse_args(argv)
    return rebuild() if args.command == "rebuild" else run()


if __name__ == "__main__":
    sys.exit(main())
