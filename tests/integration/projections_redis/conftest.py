"""The rig of the Redis read model's tests on real servers (tests/support/redis_rig.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.redis_rig import RedisRig
from tests.support.servers import Endpoints


@pytest.fixture
def rig(endpoints: Endpoints) -> Iterator[RedisRig]:
    """A scratch ledger and the Redis projector over it, in a key base of its own."""
    with RedisRig.running("redis") as rig:
        yield rig
