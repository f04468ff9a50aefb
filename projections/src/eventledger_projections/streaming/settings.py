"""Settings of the stream job (EVENTLEDGER_STREAMING_*). Connections come from
:class:`eventledger_infra.settings.Settings` (EVENTLEDGER_KAFKA_*, EVENTLEDGER_REDIS_PORT, ...)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eventledger_infra.settings import Settings

_PREFIX = "EVENTLEDGER_STREAMING_"


@dataclass(frozen=True)
class StreamingSettings:
    """- ``app_id``: the faust app id: its consumer group.
    - ``topic_namespace``: prepended to every topic it reads or writes (empty in production; tests set their own).
    - ``redis_prefix``: the key base shared with the Redis read model (its window keys live under
      ``<base>:stream:``).
    - ``data_dir``: faust's local directory. ``ops_port``: /healthz /readyz /metrics.
    - ``publish_interval``: how often changed windows are published to the derived topic (seconds).
    - ``session_timeout``: how long the group waits for a silent worker before its partitions move (seconds).
    """

    app_id: str = "eventledger-transfer-windows"
    topic_namespace: str = ""
    redis_prefix: str = "el"
    data_dir: Path = Path(".state/streaming")
    ops_port: int = 18111
    publish_interval: float = 1.0
    session_timeout: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, infra: Settings | None = None) -> StreamingSettings:
        def get(name: str, default: str) -> str:
            return environ.get(_PREFIX + name, default)

        state_dir = (infra or Settings.from_env()).state_dir
        return cls(
            app_id=get("APP_ID", cls.app_id),
            topic_namespace=get("TOPIC_NAMESPACE", ""),
            redis_prefix=get("REDIS_PREFIX", "el"),
            data_dir=Path(get("DATA_DIR", str(state_dir / "streaming"))),
            ops_port=int(get("OPS_PORT", str(cls.ops_port))),
            publish_interval=float(get("PUBLISH_INTERVAL_SECONDS", str(cls.publish_interval))),
            session_timeout=float(get("SESSION_TIMEOUT_SECONDS", str(cls.session_timeout))),
        )
