"""The relay: publishes every event of the global log to its Kafka topic, at least once, in order per stream."""
