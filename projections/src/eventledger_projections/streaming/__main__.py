"""``python -m eventledger_projections.streaming worker``: run the stream job (faust worker) that keeps the
windowed transfer figures in Redis and publishes them to ``eventledger.stats.transfer-windows.v1``.

Ops HTTP on /healthz /readyz /metrics (EVENTLEDGER_STREAMING_OPS_PORT); SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import faust
import redis

from eventledger_events import TRANSFERS_TOPIC
from eventledger_infra import probes
from eventledger_infra.settings import Settings
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_projections.streaming.app import TransferWindowsJob, source_partitions
from eventledger_projections.streaming.publisher import DERIVED_TOPIC
from eventledger_projections.streaming.settings import StreamingSettings
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.ops_http import serve_ops

log = logging.getLogger("eventledger_projections.streaming")


def _prepare(settings: StreamingSettings, infra: Settings) -> int:
    """Create the topics the job reads and writes if they are missing (Kafka may still be starting)."""
    names = [settings.topic_namespace + t for t in (TRANSFERS_TOPIC, DERIVED_TOPIC, DEAD_LETTER_TOPIC)]
    while True:
        try:
            ensure_topics(infra.kafka_bootstrap, names, infra.kafka_partitions)
            return source_partitions(infra.kafka_bootstrap, names[0])
        except Exception as error:
            log.warning("cannot prepare the topics yet (%s); retrying", error)
            time.sleep(2)


def worker() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s stream-windows %(name)s %(message)s")
    infra = Settings.from_env()
    settings = StreamingSettings.from_env(infra=infra)
    job = TransferWindowsJob(settings, infra, _prepare(settings, infra))
    client = redis.Redis.from_url(infra.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)

    def ready() -> bool:
        return bool(client.ping()) and probes.kafka_broker_count(infra) >= 1

    server = serve_ops(infra.host, settings.ops_port, ready=ready)
    log.info("counting %s into %s (app %s)", job.source.get_topic_name(), job.derived_topic, settings.app_id)
    try:
        faust.Worker(job.app, loglevel="INFO").execute_from_commandline()
    finally:
        server.shutdown()
        client.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventledger_projections.streaming")
    parser.add_argument("command", choices=["worker"])
    parser.parse_args(argv)
    return worker()


if __name__ == "__main__":
    sys.exit(main())
