"""Rebuilding read models from the event store (not from Kafka, whose retention is finite)."""
