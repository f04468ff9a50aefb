"""EventLedger projections: workers that turn the Kafka topics into read models.

- :mod:`.runtime`: the ``Projection`` port and the ``ProjectionRunner`` (Kafka, retries, dead letters, metrics);
- :mod:`.postgres`: the PostgreSQL read model (accounts, statement entries, transfers) and its rebuild;
- :mod:`.bootstrap`: the one place that wires a projector from settings; ``python -m eventledger_projections``.
"""
