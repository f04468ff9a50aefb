"""``python -m eventledger_projections.redis rebuild``: rebuild the Redis read model from the event store beside
the live version, with a progress line (events/s, time left), then switch to it atomically.

``python -m eventledger_projections.redis run``: run the Redis projector (the shared projector process of
``python -m eventledger_projections``, with this read model registered).
"""

from __future__ import annotations

import argparse
import logging
import sys

from eventledger_infra.settings import Settings
from eventledger_projections.config import ProjectionSettings
from eventledger_projections.rebuild.progress import ProgressBar
from eventledger_projections.redis.service import build_redis_projection, rebuild_redis
from eventledger_projections.redis.settings import OPS_PORT
from eventledger_projections.redis.versions import RebuildAlreadyRunning


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
        report = rebuild_redis(ProjectionSettings(), Settings.from_env(), listener)
    except RebuildAlreadyRunning as error:
        print(f"not rebuilding: {error}", file=sys.stderr)
        return 1
    listener.bar.finish()
    print(
        f"rebuilt redis as {report.version.schema}: {report.events:,} events replayed, {report.skipped} skipped,"
        f" live at position {report.built_to:,} after {report.seconds:.1f} s"
        + (f"; dropped {', '.join(report.dropped)}" if report.dropped else "")
    )
    return 0


def run() -> int:
    from eventledger_projections import __main__ as projector
    from eventledger_projections.bootstrap import PROJECTIONS, ProjectionSpec
    from eventledger_projections.redis.projection import RedisProjection

    PROJECTIONS.setdefault("redis", ProjectionSpec(build_redis_projection, RedisProjection.topics, ops_port=OPS_PORT))
    return projector.run("redis")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventledger_projections.redis")
    parser.add_argument("command", choices=["rebuild", "run"])
    args = parser.parse_args(argv)
    return rebuild() if args.command == "rebuild" else run()


if __name__ == "__main__":
    sys.exit(main())
