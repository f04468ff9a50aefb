"""Run the query service: ``python -m eventledger_query`` (settings from EVENTLEDGER_* variables)."""

from __future__ import annotations

import logging

import uvicorn

from eventledger_query.app import create_app
from eventledger_query.services import build
from eventledger_runtime.settings import settings_or_exit


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s query %(name)s %(message)s")
    settings = settings_or_exit("eventledger_query")
    readers = build(settings.query, settings)
    uvicorn.run(
        create_app(readers),
        host=readers.settings.host,
        port=readers.settings.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
