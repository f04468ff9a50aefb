"""The Redis read model: a balance cache for hot reads and the dashboard figures, idempotent under redelivery,
versioned under a key prefix so that a rebuild can be built beside the live version and switched in atomically.

See docs/adr/0010-redis-read-model-and-stream-processing.md for the key layout and the guarantees.
"""

from eventledger_projections.redis.keys import KeySpace
from eventledger_projections.redis.projection import RedisProjection
from eventledger_projections.redis.rebuild import RedisRebuild, RedisRebuildConfig
from eventledger_projections.redis.views import AccountView, Overview, RedisReadModel

__all__ = [
    "AccountView",
    "KeySpace",
    "Overview",
    "RedisProjection",
    "RedisReadModel",
    "RedisRebuild",
    "RedisRebuildConfig",
]
