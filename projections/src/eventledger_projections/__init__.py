"""EventLedger projections: workers that turn the Kafka topics into read models.

- :mod:`.runtime`: the ``Projection`` port and the ``ProjectionRunner`` (Kafka, retries, dead letters, metrics);
- :mod:`.rebuild`: the rebuild port (one report, one listener) and the event store as rebuilds read it;
- :mod:`.postgres`, :mod:`.redis`, :mod:`.elasticsearch`: the read models, each with its projection, its rebuild
  and a ``wiring`` module of one shape;
- :mod:`.streaming`: the stream job (faust) with its own ``worker`` entry;
- :mod:`.bootstrap`: the one place that wires a projector from settings;
  ``python -m eventledger_projections run|rebuild|status <name>``.
"""
