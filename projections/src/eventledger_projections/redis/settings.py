"""The Redis read model's own setting (connections come from :class:`eventledger_infra.settings.Settings`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX_VARIABLE = "EVENTLEDGER_PROJECTION_REDIS_PREFIX"
OPS_PORT = 18102
"""The Redis projector's default ops port (PostgreSQL's is 18101)."""


@dataclass(frozen=True)
class RedisProjectionSettings:
    """``prefix``: the key base (``el``); tests and side-by-side deployments set their own."""

    prefix: str = "el"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RedisProjectionSettings:
        return cls(prefix=environ.get(PREFIX_VARIABLE, "el"))
