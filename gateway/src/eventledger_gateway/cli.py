"""``python -m eventledger_gateway``: ``serve`` runs the gateway; ``token`` mints a development token.

Exit codes: 0 done; 2 refused (invalid settings, or minting outside development), with the reason on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from eventledger_gateway.routetable import Role
from eventledger_gateway.tokens import mint_token
from eventledger_runtime.http_service import log_as, serve_http
from eventledger_runtime.settings import GatewaySettings, SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        settings = load_settings().gateway
    except SettingsError as exc:
        return _refuse(str(exc))
    if arguments.command == "token":
        return _token(settings, arguments)
    return _serve(settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eventledger_gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the gateway (settings: python -m eventledger_runtime settings)")
    token = commands.add_parser("token", help="print a development token signed with the configured key")
    token.add_argument(
        "--role", action="append", required=True, choices=[role.value for role in Role], help="repeat for several"
    )
    token.add_argument("--subject", default="developer", help="the token's sub: who the ledger records as actor")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until the token expires (default 3600)")
    token.add_argument("--private-key-file", type=Path, help="PEM private key, for RS256/ES256 settings")
    return parser


def _token(settings: GatewaySettings, arguments: argparse.Namespace) -> int:
    if settings.environment != "development":
        return _refuse(
            f"refusing to mint a token in {settings.environment}: development tokens are for development only "
            "(EVENTLEDGER_ENVIRONMENT=development)"
        )
    if arguments.ttl <= 0:
        return _refuse("--ttl must be a positive number of seconds")
    private_key = arguments.private_key_file.read_text() if arguments.private_key_file else None
    try:
        token = mint_token(
            settings, arguments.role, subject=arguments.subject, ttl_seconds=arguments.ttl, private_key=private_key
        )
    except ValueError as exc:
        return _refuse(str(exc))
    print(token)
    return 0


def _serve(settings: GatewaySettings) -> int:
    from eventledger_gateway.app import create_app

    log_as("gateway")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO
    serve_http(create_app(settings), host=settings.host, port=settings.port, proxy_headers=False)
    return 0


def _refuse(message: str) -> int:
    print(f"eventledger_gateway: {message}", file=sys.stderr)
    return 2
