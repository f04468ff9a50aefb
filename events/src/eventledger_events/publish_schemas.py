"""Write the Avro schema of every event to ``events/schemas``.

Run: ``python -m eventledger_events.publish_schemas``.

Options: ``--directory PATH`` (default: ``events/schemas`` of this checkout); ``--allow-redefinition`` to
rewrite a version that was never released. Exits 1 if a released version would change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eventledger_events.catalog import EVENT_REGISTRY
from eventledger_events.published import PUBLISHED_SCHEMAS_DIR, SchemaAlreadyPublishedError, publish_schemas


def main(argv: list[str] | None = None) -> int:
    """Entry point; answers the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m eventledger_events.publish_schemas", description=__doc__)
    parser.add_argument("--directory", type=Path, default=PUBLISHED_SCHEMAS_DIR)
    parser.add_argument("--allow-redefinition", action="store_true")
    arguments = parser.parse_args(argv)
    try:
        written = publish_schemas(EVENT_REGISTRY, arguments.directory, allow_redefinition=arguments.allow_redefinition)
    except SchemaAlreadyPublishedError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("all schemas already published")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
