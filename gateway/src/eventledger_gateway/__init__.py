"""EventLedger gateway: the one public HTTP entry point (auth, rate limits, routing, errors, OpenAPI).

It talks to the command and query services over HTTP only; it never imports them (import-linter contract).
``create_app`` in :mod:`eventledger_gateway.app` builds the ASGI app; ``python -m eventledger_gateway`` runs it.
"""
