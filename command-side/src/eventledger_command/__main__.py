"""Run the command service: ``python -m eventledger_command`` (settings from EVENTLEDGER_* variables)."""

from __future__ import annotations

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import build
from eventledger_runtime.cli import no_arguments
from eventledger_runtime.http_service import log_as, serve_http
from eventledger_runtime.settings import settings_or_exit


def main() -> None:
    no_arguments("python -m eventledger_command", __doc__)
    log_as("command")
    settings = settings_or_exit("eventledger_command")
    container = build(settings.command, postgres=settings.postgres, audit=settings.audit)
    serve_http(create_app(container), host=container.settings.host, port=container.settings.port)


if __name__ == "__main__":
    main()
