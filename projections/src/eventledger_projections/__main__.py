"""``python -m eventledger_projections <projection>``: run a projector (ops HTTP on /healthz /readyz /metrics;
SIGTERM/SIGINT stop it cleanly, SIGUSR1 pauses it, SIGUSR2 resumes it).

``python -m eventledger_projections rebuild <projection>``: rebuild that read model from the event store beside the
live one, with a progress bar, then switch to it atomically.
"""

from __future__ import annotations

import argparse
import logging
import sys

from eventledger_projections.bootstrap import PROJECTIONS, build_projector, group_id, prepare_topics
from eventledger_projections.postgres.rebuild import RebuildListener
from eventledger_projections.rebuild.progress import ProgressBar
from eventledger_runtime.kafka import when_kafka_answers
from eventledger_runtime.ops_http import serve_ops
from eventledger_runtime.probes import kafka_answers
from eventledger_runtime.settings import settings_or_exit
from eventledger_runtime.worker import stop_on_signals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventledger_projections")
    parser.add_argument("words", nargs="+", metavar="<projection> | rebuild <projection>")
    args = parser.parse_args(argv)
    words: list[str] = args.words
    if words[0] == "rebuild" and len(words) == 2:
        return rebuild(words[1])
    if len(words) == 1:
        return run(words[0])
    parser.error("expected <projection> or rebuild <projection>")
    return 2


def _known(name: str) -> bool:
    if name in PROJECTIONS:
        return True
    print(f"unknown projection {name!r}; known: {', '.join(sorted(PROJECTIONS))}", file=sys.stderr)
    return False


def run(name: str) -> int:
    if not _known(name):
        return 2
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s projection-{name} %(message)s")
    infra = settings_or_exit(f"projection-{name}")
    settings, kafka = infra.projections, infra.kafka
    projector = build_projector(name, settings, infra)
    runner = projector.runner
    stop_on_signals(runner.stop, pause=runner.pause, resume=runner.resume)
    port = settings.ops_port if settings.ops_port is not None else PROJECTIONS[name].ops_port
    server = serve_ops(
        infra.deployment.bind_host,
        port,
        ready=lambda: projector.projection.ready() and kafka_answers(kafka.host, kafka.port),
        status=lambda: {
            "projection": name,
            "state": "paused" if runner.paused else "running",
            "reflected_position": projector.projection.reflected_position(),
        },
        actions={"pause": runner.pause, "resume": runner.resume},
    )
    try:
        # Kafka may be down at start: wait for it.
        when_kafka_answers(lambda: prepare_topics(name, settings, infra), stopping=lambda: runner.stopping)
        logging.info("projecting %s from %s (group %s)", name, ", ".join(runner.topics), group_id(name, settings))
        runner.run()
        logging.info("stopped")
    finally:
        server.shutdown()
        projector.close()
    return 0


class _BarListener(RebuildListener):
    def __init__(self, name: str) -> None:
        self.bar = ProgressBar(0, label=f"rebuild {name}")

    def planned(self, events: int) -> None:
        self.bar.extend(events)

    def replayed(self, events: int) -> None:
        self.bar.advance(events)


def rebuild(name: str) -> int:
    if not _known(name):
        return 2
    spec = PROJECTIONS[name]
    if spec.rebuild is None:
        print(f"projection {name!r} has no rebuild", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s %(levelname)s rebuild-{name} %(message)s")
    listener = _BarListener(name)
    settings = settings_or_exit(f"rebuild-{name}")
    report = spec.rebuild(settings.projections, settings, listener)
    listener.bar.finish()
    print(f"rebuilt {name}: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
