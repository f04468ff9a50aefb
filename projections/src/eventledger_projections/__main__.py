"""One command line for every read model: ``python -m eventledger_projections <command> <name>``.

- ``run <name>``: run the projector (ops HTTP on /healthz /readyz /metrics /status; SIGTERM/SIGINT stop it cleanly,
  SIGUSR1 pauses it, SIGUSR2 resumes it).
- ``rebuild <name> [--force]``: rebuild the read model from the event store beside the live one, with a progress
  bar, then switch to it atomically. ``--force`` discards versions an abandoned rebuild left behind (Elasticsearch
  refuses to start without it; the others drop them anyway).
- ``status <name>``: the live version, the reflected position and per-partition progress.
- ``rebuild <name> --as-of-position N --sandbox S``: rebuild the read model as of position ``N`` of the log into the
  sandbox ``S`` beside the live one (its own PostgreSQL schema, Redis key base or index prefix); nothing live changes.
- ``diff <name> --sandbox S [--against replay|live]``: compare the sandbox with a fresh replay of the log up to its
  position (default) or with the live version; prints what differs, exits 1 when anything does.
- ``drop-sandbox <name> --sandbox S``; ``sandboxes``: list every sandbox and its position.

``<name>`` is one of :data:`~eventledger_projections.bootstrap.PROJECTIONS` (postgres, redis, elasticsearch), or
``windows``, the stream job's transfer windows in Redis (``run`` and ``status``; faust owns that process, and the
windows, which cover the last hours, have no rebuild: the job recounts them from the topic). Settings come from the
``EVENTLEDGER_*`` variables.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from eventledger_projections.bootstrap import (
    PROJECTIONS,
    Projector,
    build_projector,
    group_id,
    instance_actions,
    instance_report,
    prepare_topics,
)
from eventledger_projections.rebuild.port import RebuildRefused, SilentListener
from eventledger_projections.rebuild.progress import ProgressBarListener
from eventledger_projections.rebuild.sandbox import (
    SandboxCatalog,
    SandboxError,
    build_sandbox,
    diff_sandbox,
    drop_sandbox,
)
from eventledger_projections.streaming import process as stream_job
from eventledger_runtime.instances import HeartbeatLoop, PostgresInstanceRegistry, registration_for
from eventledger_runtime.kafka import when_kafka_answers
from eventledger_runtime.logs import log_as
from eventledger_runtime.observability import observe_as
from eventledger_runtime.ops_http import serve_ops
from eventledger_runtime.probes import kafka_answers
from eventledger_runtime.schema_registry import read_wire_format_with
from eventledger_runtime.settings import settings_or_exit
from eventledger_runtime.watchdog import EXIT_STALLED, Sample, Watchdog, unless_kafka_is_down
from eventledger_runtime.worker import stop_on_signals

WINDOWS = "windows"
"""The stream job's name on the command line."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventledger_projections")
    commands = parser.add_subparsers(dest="command", required=True)
    with_windows = [*sorted(PROJECTIONS), WINDOWS]
    for command, text, names in (
        ("run", "run the projector (or the stream job)", with_windows),
        ("rebuild", "rebuild the read model from the event store and switch to it", sorted(PROJECTIONS)),
        ("status", "live version, reflected position, per-partition progress", with_windows),
    ):
        sub = commands.add_parser(command, help=text)
        sub.add_argument("name", choices=names, metavar="name", help=", ".join(names))
        if command == "rebuild":
            sub.add_argument("--force", action="store_true", help="discard versions left beside the live one")
            sub.add_argument("--as-of-position", type=int, metavar="N", help="with --sandbox: the log up to N only")
            sub.add_argument(
                "--sandbox", metavar="S", help="build into the sandbox S instead of switching the live one"
            )
    names = sorted(PROJECTIONS)
    diff = commands.add_parser("diff", help="compare a sandbox with a replay of the log (or with the live version)")
    diff.add_argument("name", choices=names, metavar="name", help=", ".join(names))
    diff.add_argument("--sandbox", metavar="S", required=True)
    diff.add_argument("--against", choices=("replay", "live"), default="replay")
    drop = commands.add_parser("drop-sandbox", help="delete a sandbox")
    drop.add_argument("name", choices=names, metavar="name", help=", ".join(names))
    drop.add_argument("--sandbox", metavar="S", required=True)
    commands.add_parser("sandboxes", help="every sandbox, its position and where it is")
    args = parser.parse_args(argv)
    if args.command in ("diff", "drop-sandbox", "sandboxes") or (
        args.command == "rebuild" and (args.sandbox is not None or args.as_of_position is not None)
    ):
        return sandbox_command(parser, args)
    if args.command == "run":
        return stream_job.run() if args.name == WINDOWS else run(args.name)
    if args.command == "rebuild":
        return rebuild(args.name, force=args.force)
    if args.name == WINDOWS:
        return _print(stream_job.status())
    return status(args.name)


def _sample(projector: Projector) -> Sample:
    """The projector's progress for its watchdog. Its reflected position is a minimum over every partition, which
    one partition far behind holds still during a long replay: the offsets of its own partitions, moving while they
    are behind their high watermarks, show it is catching up (a replay from zero is not a stall)."""
    assigned = projector.runner.assigned
    return Sample(
        projector.relay_checkpoint(),
        projector.projection.reflected_position(),
        projector.runner.paused,
        applied=sum(p.offset or 0 for p in assigned),
        backlog=any((p.lag or 0) > 0 for p in assigned),
    )


def run(name: str, *, after_store_write: Callable[[int], None] | None = None) -> int:
    """Run the projector ``name`` until stopped; ``after_store_write`` is the runner's seam (tests wrap it)."""
    observe_as(f"projection-{name}")
    infra = settings_or_exit(f"projection-{name}")
    settings, kafka = infra.projections, infra.kafka
    read_wire_format_with(infra.registry.url)
    projector = build_projector(name, settings, infra, after_store_write=after_store_write)
    runner = projector.runner

    def kafka_up() -> bool:
        return kafka_answers(kafka.host, kafka.port)

    watchdog = Watchdog(
        f"projection-{name}",
        unless_kafka_is_down(
            kafka_up,
            lambda: _sample(projector),
        ),
        runner.stop,
        infra.watchdog,
    )
    registry = PostgresInstanceRegistry(infra.postgres_dsn)
    heartbeat = HeartbeatLoop(registry, instance_report(projector, lambda: watchdog.stall_reason))
    actions = instance_actions(projector, heartbeat)
    stop_on_signals(runner.stop, pause=actions["pause"], resume=actions["resume"])

    def status() -> dict[str, object]:
        verdict = watchdog.verdict
        return {
            "projection": name,
            "state": "stalled" if verdict.stalled else "paused" if runner.paused else "running",
            "reflected_position": projector.projection.reflected_position(),
            **({"reason": verdict.reason} if verdict.stalled else {}),
        }

    port = settings.ops_port if settings.ops_port is not None else PROJECTIONS[name].ops_port
    server = serve_ops(
        infra.deployment.bind_host,
        port,
        ready=lambda: projector.projection.ready() and kafka_up(),
        status=status,
        actions=actions,
        stalled=lambda: watchdog.stall_reason,
    )
    # Registered with the port actually bound: an ops port of 0 takes an ephemeral one.
    heartbeat.start(registration_for(name, infra.deployment.bind_host, server.server_address[1]))
    try:
        # Kafka may be down at start: wait for it.
        when_kafka_answers(lambda: prepare_topics(name, settings, infra), stopping=lambda: runner.stopping)
        logging.info("projecting %s from %s (group %s)", name, ", ".join(runner.topics), group_id(name, settings))
        watchdog.start()
        runner.run()
        logging.info("stopped")
    finally:
        heartbeat.close()
        watchdog.close()
        server.shutdown()
        projector.close()
        registry.close()
    return EXIT_STALLED if watchdog.stall_reason is not None else 0


def rebuild(name: str, *, force: bool = False) -> int:
    log_as(f"rebuild-{name}", level=logging.WARNING)
    infra = settings_or_exit(f"rebuild-{name}")
    listener = ProgressBarListener(f"rebuild {name}")
    try:
        report = PROJECTIONS[name].rebuild(infra.projections, infra, listener, force=force)
    except RebuildRefused as refused:
        print(f"not rebuilding {name}: {refused}", file=sys.stderr)
        return 1
    listener.bar.finish()
    print(f"rebuilt {name}: {report}")
    return 0


def sandbox_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The sandbox commands (module docstring); a refusal is one readable line on stderr and exit status 2."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s sandbox %(message)s")
    if args.command == "rebuild" and (args.sandbox is None or args.as_of_position is None):
        parser.error("rebuild: --as-of-position and --sandbox go together")
    infra = settings_or_exit(f"sandbox-{getattr(args, 'name', 'list')}")
    try:
        if args.command == "sandboxes":
            for record in SandboxCatalog(infra.postgres_dsn).all():
                print(f"{record.read_model} {record.name}: position {record.position}, {record.location}")
            return 0
        spec = PROJECTIONS[args.name]
        if args.command == "rebuild":
            listener = ProgressBarListener(f"sandbox {args.name} {args.sandbox}")
            report = build_sandbox(
                args.name, spec.sandboxes, infra.projections, infra, args.sandbox, args.as_of_position, listener
            )
            listener.bar.finish()
            print(f"sandbox {args.sandbox} of {args.name}: {report.where} as of position {report.built_to:,}")
            return 0
        if args.command == "drop-sandbox":
            dropped = drop_sandbox(args.name, spec.sandboxes, infra.projections, infra, args.sandbox)
            print(f"dropped sandbox {args.sandbox} of {args.name}: {', '.join(dropped) or 'nothing was left'}")
            return 0
        outcome = diff_sandbox(
            args.name,
            spec.sandboxes,
            infra.projections,
            infra,
            args.sandbox,
            against=args.against,
            listener_for=lambda _: SilentListener(),
        )
    except (SandboxError, RebuildRefused) as refused:
        print(f"{args.command} {getattr(args, 'name', '')}: {refused}", file=sys.stderr)
        return 2
    for note in outcome.notes:
        print(f"note: {note}")
    if outcome.difference.same:
        print(f"{outcome.left} and {outcome.right}: the same")
        return 0
    print(f"{outcome.left} and {outcome.right} differ:")
    for line in outcome.difference.lines(outcome.left, outcome.right):
        print(line)
    return 1


def status(name: str) -> int:
    infra = settings_or_exit(f"status-{name}")
    return _print(PROJECTIONS[name].status(infra.projections, infra))


def _print(report: dict[str, object]) -> int:
    for key, value in report.items():
        if isinstance(value, list):
            print(f"{key}:")
            for line in value:
                print(f"  {line}")
        else:
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
