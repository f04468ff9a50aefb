"""``python -m eventledger_gateway clients ...``: the admin API's client operations, run on the database and Redis
directly, so that the first admin client can be made before any token exists. Answers are JSON on stdout, the
same documents the admin API answers; a secret is printed once, when it is made."""

from __future__ import annotations

import argparse
import json
import sys

import psycopg
import redis.asyncio as aioredis
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError

from eventledger_gateway.oauth.clients import SecretHasher
from eventledger_gateway.oauth.keys import KeyRing
from eventledger_gateway.oauth.postgres import (
    PostgresClientRegistry,
    PostgresSigningKeyStore,
    migrate_oauth_tables,
    open_pool,
)
from eventledger_gateway.oauth.revocation import RedisRevocationList, RevocationListUnavailable
from eventledger_gateway.oauth.schemas import ClientAnswer, ClientList, ClientWithSecret
from eventledger_gateway.oauth.server import AuthorizationServer
from eventledger_gateway.problems import Problem
from eventledger_runtime.settings import Settings

PROGRAM = "eventledger_gateway clients"


async def run_clients(settings: Settings, arguments: argparse.Namespace) -> int:
    gateway = settings.gateway
    try:
        migrate_oauth_tables(settings.postgres_dsn)
    except psycopg.Error as exc:
        return _fail(1, f"PostgreSQL cannot be reached: {str(exc).strip()[:200]}")
    pool = open_pool(settings.postgres_dsn, size=1)
    redis_client = aioredis.Redis.from_url(gateway.redis_url, socket_timeout=2, socket_connect_timeout=2)
    await pool.open(wait=False)
    hold = gateway.access_token_ttl_seconds + gateway.jwt_leeway_seconds
    keys = KeyRing(
        PostgresSigningKeyStore(pool),
        encryption_key=gateway.key_encryption_key.get_secret_value(),
        token_lifetime_seconds=hold,
        rotation_seconds=gateway.signing_key_rotation_seconds,
        refresh_seconds=gateway.signing_key_refresh_seconds,
    )
    server = AuthorizationServer(
        PostgresClientRegistry(pool),
        keys,
        RedisRevocationList(redis_client, key_prefix=gateway.rate_limit_key_prefix + "revoked:"),
        SecretHasher(),
        issuer=gateway.oauth_issuer,
        audience=gateway.oauth_audience,
        token_lifetime_seconds=gateway.access_token_ttl_seconds,
        revocation_hold_seconds=hold,
    )
    try:
        print(json.dumps(await _act(server, arguments), indent=2, default=str))
    except Problem as problem:
        return _fail(2, problem.detail or problem.title)
    except RevocationListUnavailable as exc:
        return _fail(1, f"Redis cannot be reached, so nothing was changed: {exc}")
    except (psycopg.Error, PoolTimeout) as exc:
        return _fail(1, f"PostgreSQL cannot be reached: {str(exc).strip()[:200]}")
    except RedisError as exc:
        return _fail(1, f"Redis cannot be reached: {exc}")
    finally:
        await pool.close()
        await redis_client.aclose()
    return 0


async def _act(server: AuthorizationServer, arguments: argparse.Namespace) -> object:
    action = arguments.action
    if action == "create":
        client, secret = await server.create_client(arguments.name, arguments.role, arguments.scope)
        return ClientWithSecret.with_secret(client, secret).model_dump(mode="json")
    if action == "list":
        return ClientList(clients=[ClientAnswer.of(c) for c in await server.clients()]).model_dump(mode="json")
    if action == "show":
        return ClientAnswer.of(await server.client(arguments.client_id)).model_dump(mode="json")
    if action == "disable":
        return ClientAnswer.of(await server.disable(arguments.client_id)).model_dump(mode="json")
    if action == "enable":
        return ClientAnswer.of(await server.enable(arguments.client_id)).model_dump(mode="json")
    client, secret = await server.rotate_secret(arguments.client_id, revoke_tokens=arguments.revoke_tokens)
    return ClientWithSecret.with_secret(client, secret).model_dump(mode="json")


def _fail(code: int, message: str) -> int:
    print(f"{PROGRAM}: {message}", file=sys.stderr)
    return code
