"""faust's Kafka transport with an idempotent, acks=all producer.

faust turns idempotence on only in its exactly-once mode (which has open bugs, and which we do not use): in
at-least-once mode its aiokafka producer would send with idempotence off, where a retried
batch may be written twice or out of order. This transport sets both explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class IdempotentTransport(faust_aiokafka.Transport):
    Producer = IdempotentProducer
