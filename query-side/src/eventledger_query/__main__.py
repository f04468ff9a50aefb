"""Run the query service: ``python -m eventledger_query`` (settings from EVENTLEDGER_* variables)."""

from __future__ import annotations

from eventledger_query.app import create_app
from eventledger_query.services import build
from eventledger_runtime.cli import no_arguments
from eventledger_runtime.http_service import log_as, serve_http
from eventledger_runtime.settings import settings_or_exit


def main() -> None:
    no_arguments("python -m eventledger_query", __doc__)
    log_as("query")
    settings = settings_or_exit("eventledger_query")
    readers = build(settings.query, settings)
    serve_http(create_app(readers), host=readers.settings.host, port=readers.settings.port)


if __name__ == "__main__":
    main()
