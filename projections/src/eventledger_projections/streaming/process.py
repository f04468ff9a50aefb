"""The stream job's process, behind the one command line (``python -m eventledger_projections run|status windows``):

- :func:`run`: the faust worker that keeps the windowed transfer figures in Redis and publishes them to
  ``eventledger.stats.transfer-windows.v1``; ops HTTP on /healthz /readyz /metrics /status
  (EVENTLEDGER_STREAMING_OPS_PORT); SIGTERM/SIGINT stop it cleanly.
- :func:`status`: per source partition, how far the figures in Redis go, against the topic's head.

The windows have no rebuild of their own: they cover the last hours, and the job recounts them from the topic
(ADR 0010 §6).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import faust
import redis
from confluent_kafka import KafkaException

from eventledger_events import TRANSFERS_TOPIC
from eventledger_projections.runtime.kafka import KafkaWatermarks
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_projections.streaming.app import TransferWindowsJob, source_partitions
from eventledger_projections.streaming.publisher import DERIVED_TOPIC
from eventledger_projections.streaming.sink import progress_key
from eventledger_runtime.kafka import ensure_topics, when_kafka_answers
from eventledger_runtime.logs import dict_config
from eventledger_runtime.observability import observe_as
from eventledger_runtime.ops_http import serve_ops
from eventledger_runtime.probes import kafka_answers
from eventledger_runtime.schema_registry import read_wire_format_with
from eventledger_runtime.settings import Settings, settings_or_exit
from eventledger_runtime.watchdog import EXIT_STALLED, Sample, Watchdog, unless_kafka_is_down

log = logging.getLogger("eventledger_projections.streaming")


def _prepare(settings: Settings) -> int:
    """Create the topics the job reads and writes if they are missing (Kafka may still be starting)."""
    kafka = settings.kafka
    names = [settings.names.topic(t) for t in (TRANSFERS_TOPIC, DERIVED_TOPIC, DEAD_LETTER_TOPIC)]

    def prepare() -> int:
        ensure_topics(kafka.bootstrap, names, kafka.partitions)
        return source_partitions(kafka.bootstrap, names[0])

    partitions = when_kafka_answers(prepare, what="prepare the topics")
    assert partitions is not None  # never stopping: it returns only once the topics exist
    return partitions


def run() -> int:
    observe_as("stream-windows")
    settings = settings_or_exit("stream-windows")
    read_wire_format_with(settings.registry.url)
    job = TransferWindowsJob(settings.streaming, settings, _prepare(settings))
    client = redis.Redis.from_url(settings.redis.url, socket_timeout=2.0, socket_connect_timeout=2.0)
    kafka = settings.kafka

    def ready() -> bool:
        return bool(client.ping()) and kafka_answers(kafka.host, kafka.port)

    watchdog = Watchdog(
        "stream-windows",
        unless_kafka_is_down(
            lambda: kafka_answers(kafka.host, kafka.port),
            _progress_sampler(job, client, KafkaWatermarks(kafka.bootstrap)),
        ),
        lambda: os.kill(os.getpid(), signal.SIGTERM),  # faust's own clean shutdown
        settings.watchdog,
    )
    server = serve_ops(
        settings.deployment.bind_host,
        settings.streaming.ops_port,
        ready=ready,
        status=watchdog.status,
        stalled=lambda: watchdog.stall_reason,
    )
    log.info("counting %s into %s (app %s)", job.source.get_topic_name(), job.derived_topic, settings.streaming.app_id)
    watchdog.start()
    try:
        # faust sets logging up again: with our JSON lines, and no banner of its own on stdout.
        faust.Worker(
            job.app, loglevel="INFO", logging_config=dict_config("stream-windows"), quiet=True
        ).execute_from_commandline()
    except SystemExit as done:
        if watchdog.stall_reason is None:
            raise
        log.info("faust stopped (%s) after a stall", done.code)
    finally:
        watchdog.close()
        server.shutdown()
        client.close()
    return EXIT_STALLED if watchdog.stall_reason is not None else 0


def _progress_sampler(
    job: TransferWindowsJob, client: redis.Redis, watermarks: KafkaWatermarks
) -> Callable[[], Sample]:
    """Offsets, summed over the source partitions: the head is their high watermarks, the position the offset
    after each partition's progress in Redis (every message below it has its effect there)."""
    topic = job.source.get_topic_name()

    def sample() -> Sample:
        partitions = [(topic, p) for p in range(job.partitions)]
        high = watermarks.high(partitions)
        stored: Any = client.hgetall(job.progress_key)
        progress = {int(k): int(v) for k, v in stored.items()}
        position = sum(min(high[tp], progress[tp[1]] + 1) if tp[1] in progress else 0 for tp in partitions)
        return Sample(head=sum(high.values()), position=position)

    return sample


def status() -> dict[str, object]:
    """The job's consumer group, and per source partition its progress in Redis against the high watermark."""
    settings = settings_or_exit("status-windows")
    topic = settings.names.topic(TRANSFERS_TOPIC)
    try:
        partitions = source_partitions(settings.kafka.bootstrap, topic)
    except (LookupError, KafkaException) as missing:
        return {"app": settings.streaming.app_id, "partitions": [f"no source to count yet: {missing}"]}
    client = redis.Redis.from_url(settings.redis.url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        stored: Any = client.hgetall(progress_key(settings.names.redis_base))
    finally:
        client.close()
    progress = {int(k): int(v) for k, v in stored.items()}
    high = KafkaWatermarks(settings.kafka.bootstrap).high([(topic, p) for p in range(partitions)])
    lines, behind = [], 0
    for partition in range(partitions):
        done = progress[partition] + 1 if partition in progress else 0
        behind += max(0, high[(topic, partition)] - done)
        lines.append(f"{topic}[{partition}]: counted up to offset {done} of {high[(topic, partition)]}")
    return {"app": settings.streaming.app_id, "behind (messages)": behind, "partitions": lines}
