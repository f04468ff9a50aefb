"""The command line of a service process that takes no arguments (its settings come from ``EVENTLEDGER_*``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def no_arguments(program: str, description: str | None, argv: Sequence[str] | None = None) -> None:
    """Answer ``--help``; refuse any argument with a usage line and exit status 2 (argparse's convention), so that a
    mistyped ``python -m eventledger_command --port 1`` is not silently started on its default settings."""
    argparse.ArgumentParser(
        prog=program,
        description=description,
        epilog="Settings come from EVENTLEDGER_* variables: python -m eventledger_runtime settings",
    ).parse_args(argv)
