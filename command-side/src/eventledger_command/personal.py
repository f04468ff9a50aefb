"""Operating the personal-data keys (crypto-shredding, issue 12).

``python -m eventledger_command.personal rewrap``: wrap every account holder's data key with the current
key-encryption key (``EVENTLEDGER_PERSONAL_KEY_ENCRYPTION_KEY``), unwrapping those still wrapped by a previous one
(``EVENTLEDGER_PERSONAL_PREVIOUS_KEY_ENCRYPTION_KEYS``). Rotation: set the new key as current and the old one as
previous everywhere, restart, run ``rewrap``, then remove the previous one. Exits 1 with a readable message when a
key is wrapped by a key-encryption key that is not configured (nothing is changed then).
"""

from __future__ import annotations

import argparse
import sys

from eventledger_runtime.personal import KeyUnavailable, PostgresDataKeyStore
from eventledger_runtime.settings import PersonalDataSettings, PostgresSettings, SettingsError


def main(argv: list[str] | None = None) -> int:
    """Entry point; answers the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m eventledger_command.personal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rewrap", help="wrap every data key with the current key-encryption key")
    parser.parse_args(argv)
    try:
        postgres, personal = PostgresSettings(), PersonalDataSettings()
        keks = personal.keks()
    except (SettingsError, ValueError) as error:
        print(f"invalid settings: {error}", file=sys.stderr)
        return 1
    store = PostgresDataKeyStore(postgres.dsn, keks)
    try:
        moved = store.rewrap()
    except KeyUnavailable as error:
        print(f"refused: {error}; add it to EVENTLEDGER_PERSONAL_PREVIOUS_KEY_ENCRYPTION_KEYS", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"rewrapped {moved} data key(s) with key-encryption key {keks.current_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
