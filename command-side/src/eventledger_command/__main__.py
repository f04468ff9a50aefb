"""Run the command service: ``python -m eventledger_command`` (settings from EVENTLEDGER_* variables)."""

from __future__ import annotations

import logging

import uvicorn

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import build
from eventledger_runtime.settings import settings_or_exit


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s command %(name)s %(message)s")
    settings = settings_or_exit("eventledger_command")
    container = build(settings.command, postgres=settings.postgres)
    uvicorn.run(
        create_app(container),
        host=container.settings.host,
        port=container.settings.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
