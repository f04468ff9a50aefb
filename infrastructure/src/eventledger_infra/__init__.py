"""EventLedger infrastructure: one settings source, and local provisioning of the four servers without Docker.

This package uses only the standard library so that it can run before anything is installed:
``PYTHONPATH=infrastructure/src python3 -m eventledger_infra up`` (what ``make up`` runs) provisions and
starts PostgreSQL, Redis, Kafka and Elasticsearch.
"""
