"""``python -m eventledger_gateway``: ``serve`` runs the gateway (HTTPS when a certificate is set); ``clients``
administers the OAuth clients in the database (the way to make the first admin client, before any token exists);
``token`` mints a development token; ``dev-certificate`` makes a local authority and a certificate for development
HTTPS.

Exit codes: 0 done; 1 the database or Redis cannot be reached; 2 refused (invalid settings or arguments, an unknown
client, minting outside development), with the reason on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from eventledger_gateway.routetable import Role
from eventledger_gateway.security import tls_options
from eventledger_gateway.tokens import mint_token
from eventledger_runtime.http_service import log_as, serve_http
from eventledger_runtime.settings import GatewaySettings, Settings, SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "dev-certificate":  # before the settings, which may already name its files
        return _dev_certificate(arguments.dir)
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _refuse(str(exc))
    if arguments.command == "token":
        return _token(settings.gateway, arguments)
    if arguments.command == "clients":
        from eventledger_gateway.oauth.admin_cli import run_clients

        return asyncio.run(run_clients(settings, arguments))
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
    clients = commands.add_parser("clients", help="administer the OAuth clients (prints JSON)")
    actions = clients.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="register a client; prints its id and secret (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--role", action="append", required=True, choices=[role.value for role in Role], help="repeat for several"
    )
    create.add_argument("--scope", action="append", default=[], help="an extra scope; repeat for several")
    actions.add_parser("list", help="every client (never a secret)")
    for action, text in (("show", "one client"), ("disable", "disable a client and revoke its tokens")):
        actions.add_parser(action, help=text).add_argument("client_id")
    actions.add_parser("enable", help="enable a client again").add_argument("client_id")
    rotate = actions.add_parser("rotate-secret", help="a new secret (shown once); the old one stops working")
    rotate.add_argument("client_id")
    rotate.add_argument("--revoke-tokens", action="store_true", help="also refuse the tokens issued before")
    certificate = commands.add_parser(
        "dev-certificate", help="make (once) a local CA and a certificate for localhost in DIR (ADR 0023)"
    )
    certificate.add_argument("--dir", type=Path, required=True, help="e.g. .state/tls")
    return parser


def _dev_certificate(directory: Path) -> int:
    from eventledger_gateway.devcert import ensure_dev_certificate

    files, made = ensure_dev_certificate(directory)
    print(
        f"{'made' if made else 'kept'}: trust {files.ca_file} (curl --cacert); "
        f"EVENTLEDGER_GATEWAY_TLS_CERT_FILE={files.cert_file} EVENTLEDGER_GATEWAY_TLS_KEY_FILE={files.key_file}"
    )
    return 0


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


def _serve(settings: Settings) -> int:
    from eventledger_gateway.app import create_app

    log_as("gateway")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO
    gateway = settings.gateway
    app = create_app(gateway, postgres_dsn=settings.postgres_dsn)
    serve_http(app, host=gateway.host, port=gateway.port, proxy_headers=False, **tls_options(gateway))
    return 0


def _refuse(message: str) -> int:
    print(f"eventledger_gateway: {message}", file=sys.stderr)
    return 2
