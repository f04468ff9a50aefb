"""The PostgreSQL read model: accounts, statement entries and transfers (PRODUCT.md §3), versioned for rebuilds."""

from eventledger_projections.postgres.position import reflected_position
from eventledger_projections.postgres.projection import PostgresProjection
from eventledger_projections.postgres.rebuild import PostgresRebuild, PostgresRebuildConfig
from eventledger_projections.postgres.schema import ReadModelSchemas, Version

__all__ = [
    "PostgresProjection",
    "PostgresRebuild",
    "PostgresRebuildConfig",
    "ReadModelSchemas",
    "Version",
    "reflected_position",
]
