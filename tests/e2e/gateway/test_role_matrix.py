"""The role x endpoint matrix over real HTTP, for every route of the table: 401 without a token or with a bad or
expired one, 403 with each wrong role, and the right role reaching the real command service or the query stand-in
(never a 401, 403 or 5xx)."""

from __future__ import annotations

import time

import jwt
import pytest
from tests.support.gateway import System
from tests.support.query_service_standin import KNOWN_ACCOUNT

from eventledger_gateway.routetable import ROUTES, Role, Route

ROLES = [role.value for role in Role]


def _url(route: Route) -> str:
    return (
        route.path.replace("{account_id}", KNOWN_ACCOUNT)
        .replace("{transfer_id}", KNOWN_ACCOUNT)
        .replace("{stream_id}", f"account-{KNOWN_ACCOUNT}")
        .replace("{projection}", "accounts-postgres")
    )


def _bad_tokens(system: System) -> dict[str, str]:
    secret = system.settings.jwt_secret.get_secret_value()
    now = int(time.time())
    claims = {"sub": "alice", "roles": ROLES, "iat": now}
    return {
        "garbage": "Bearer not-a-jwt",
        "wrong-secret": "Bearer " + jwt.encode({**claims, "exp": now + 60}, "x" * 40, algorithm="HS256"),
        "expired": "Bearer " + jwt.encode({**claims, "exp": now - 120}, secret, algorithm="HS256"),
        "basic-auth": "Basic YWxpY2U6c2VjcmV0",
    }


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
def test_the_matrix(system: System, route: Route) -> None:
    url = _url(route)
    body: dict[str, object] | None = {} if route.has_body else None
    with system.anonymous() as anonymous:
        missing = anonymous.request(route.method, url, json=body)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.headers["content-type"] == "application/problem+json"
        for name, header in _bad_tokens(system).items():
            bad = anonymous.request(route.method, url, json=body, headers={"Authorization": header})
            assert bad.status_code == 401, name
            assert bad.headers["www-authenticate"].startswith("Bearer realm="), name
    for role in ROLES:
        if role == route.role.value:
            continue
        with system.client(role) as wrong:
            answer = wrong.request(route.method, url, json=body)
            assert answer.status_code == 403, role
            assert answer.json()["required_role"] == route.role.value
    with system.client(route.role.value) as right:
        if route.streaming:
            with right.stream("GET", url) as streamed:
                assert streamed.status_code == 200
                system.query.stream_gate.set()
            return
        allowed = right.request(route.method, url, json=body)
        assert allowed.status_code not in {401, 403}
        assert allowed.status_code < 500, allowed.text
