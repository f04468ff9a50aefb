"""``python -m eventledger_projections.elasticsearch rebuild|status``.

Settings come from the ``EVENTLEDGER_*`` variables (``python -m eventledger_runtime settings``); the index prefix
from the namespace.
"""

from __future__ import annotations

import argparse
import sys

from eventledger_projections.elasticsearch.client import elasticsearch_client
from eventledger_projections.elasticsearch.indices import live_version
from eventledger_projections.elasticsearch.logsource import RelevantEventsSource
from eventledger_projections.elasticsearch.names import IndexNames
from eventledger_projections.elasticsearch.progress import ProgressStore
from eventledger_projections.elasticsearch.rebuild import Rebuild, RebuildRefused
from eventledger_projections.elasticsearch.safehead import SafeHead
from eventledger_projections.rebuild.progress import ProgressBar
from eventledger_runtime.settings import Servers, settings_or_exit


class _BarListener:
    """Feeds the shared progress bar (events/s, time left) from the rebuild's plan and progress."""

    def __init__(self, label: str) -> None:
        self.bar = ProgressBar(0, label=label)

    def planned(self, events: int) -> None:
        self.bar.extend(events)

    def replayed(self, events: int) -> None:
        self.bar.advance(events)


def rebuild(settings: Servers, names: IndexNames, args: argparse.Namespace) -> int:
    dsn = args.dsn or settings.postgres_dsn
    es = elasticsearch_client(settings.elasticsearch_url, request_timeout=60)
    source, safe_head = RelevantEventsSource(dsn), SafeHead(dsn)
    listener = _BarListener(f"rebuild {names.transfers}")
    try:
        job = Rebuild(
            es,
            source,
            safe_head,
            names,
            batch_size=args.batch_size,
            replicas=args.replicas,
            force=args.force,
            listener=listener,
            on_switch=lambda cap: print(f"\nswitched {names.transfers}; catching up from {cap:,}", file=sys.stderr),
        )
        try:
            report = job.run()
        except RebuildRefused as refused:
            print(f"refused: {refused}", file=sys.stderr)
            return 2
        listener.bar.finish()
    finally:
        safe_head.close()
        source.close()
        es.close()
    print(
        f"rebuilt {names.transfers}: v{report.previous} -> v{report.version}, {report.events:,} events up to "
        f"position {report.position:,} in {report.seconds:.1f} s ({report.catch_up_rounds} catch-up rounds)"
    )
    return 0


def status(settings: Servers, names: IndexNames) -> int:
    es = elasticsearch_client(settings.elasticsearch_url, request_timeout=10)
    try:
        progress = ProgressStore(es, names)
        print(f"live version: {live_version(es, names)}")
        print(f"reflected position: {progress.reflected_position()}")
        cap = progress.cap()
        if cap is not None:
            print(f"rebuild cap: {cap} (a switch is catching up)")
        offsets = progress.offsets()
        for (topic, partition), mark in sorted(progress.marks().items()):
            print(f"  {topic}[{partition}] next offset {offsets.get((topic, partition), 0)}, reflects {mark}")
        print(f"parked messages: {progress.parked_count()}")
    finally:
        es.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventledger_projections.elasticsearch")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("rebuild", help="build a new version from the event store and switch to it")
    build.add_argument("--batch-size", type=int, default=2000)
    build.add_argument("--replicas", type=int, default=0)
    build.add_argument("--force", action="store_true", help="discard versions left beside the live one")
    build.add_argument("--dsn", help="the event store's database (default: from the EVENTLEDGER_PG_* variables)")
    state = commands.add_parser("status", help="live version, reflected position, per-partition progress")
    for command in (build, state):
        command.add_argument("--prefix", help="index prefix (default: the one EVENTLEDGER_NAMESPACE derives)")
    args = parser.parse_args(argv)
    settings = settings_or_exit("eventledger_projections.elasticsearch")
    names = IndexNames(args.prefix if args.prefix is not None else settings.names.index_prefix)
    if args.command == "rebuild":
        return rebuild(settings, names, args)
    return status(settings, names)


if __name__ == "__main__":
    sys.exit(main())
