"""The event store: the source of truth. A port (:mod:`.port`) with an in-memory and a PostgreSQL backend."""
