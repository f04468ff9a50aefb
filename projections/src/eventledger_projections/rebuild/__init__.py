"""Rebuilding read models from the event store (not from Kafka, whose retention is finite): the rebuild port
(:mod:`.port`), the event store as a rebuild reads it (:mod:`.source`) and the progress bar (:mod:`.progress`)."""
