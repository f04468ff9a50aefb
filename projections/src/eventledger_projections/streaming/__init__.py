"""The stream job (faust-streaming): transfers per minute and volume per currency over sliding windows, kept in
Redis and published to ``eventledger.stats.transfer-windows.v1``. At least once, with idempotent sinks.

See docs/adr/0010-redis-read-model-and-stream-processing.md.
"""
