"""``python -m eventledger_runtime settings``: the effective settings (secrets masked), after validation.

``--markdown`` prints the README's settings tables instead; ``--write-readme README.md`` replaces them in place.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eventledger_runtime.settings import SettingsError, load_settings
from eventledger_runtime.settings_doc import effective, markdown, write_readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventledger_runtime")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("settings", help="print the effective settings, secrets masked")
    show.add_argument("--markdown", action="store_true", help="print the README's settings tables")
    show.add_argument("--write-readme", type=Path, metavar="README", help="replace the tables in that README")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown())
        return 0
    if args.write_readme:
        write_readme(args.write_readme)
        return 0
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    sys.stdout.write(effective(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
