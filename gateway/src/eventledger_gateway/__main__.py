"""Run the gateway CLI: ``python -m eventledger_gateway serve | token --role writer``."""

from __future__ import annotations

import sys

from eventledger_gateway.cli import main

if __name__ == "__main__":
    sys.exit(main())
