"""For the gateway's tests: bearer tokens minted with the gateway's settings, the settings of a gateway in front of
test upstreams, the role each route must require (PRODUCT.md §3), and the end-to-end system the gateway fronts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from eventledger_command.bootstrap import Container
from eventledger_gateway.auth import Principal, TokenVerifier
from eventledger_gateway.tokens import mint_token
from eventledger_runtime.settings import GatewaySettings
from tests.support.query_service_standin import QueryServiceStandIn

SPEC: dict[tuple[str, str], str] = {
    ("POST", "/v1/accounts"): "writer",
    ("POST", "/v1/accounts/{account_id}/freeze"): "writer",
    ("POST", "/v1/accounts/{account_id}/unfreeze"): "writer",
    ("POST", "/v1/accounts/{account_id}/close"): "writer",
    ("POST", "/v1/deposits"): "writer",
    ("POST", "/v1/withdrawals"): "writer",
    ("POST", "/v1/transfers"): "writer",
    ("POST", "/v1/transfers/{transfer_id}/post"): "writer",
    ("POST", "/v1/transfers/{transfer_id}/void"): "writer",
    ("GET", "/v1/accounts/{account_id}"): "reader",
    ("GET", "/v1/accounts"): "reader",
    ("GET", "/v1/accounts/{account_id}/entries"): "reader",
    ("GET", "/v1/transfers/{transfer_id}"): "reader",
    ("GET", "/v1/search/transfers"): "reader",
    ("GET", "/v1/stats/overview"): "reader",
    ("GET", "/v1/stats/stream"): "reader",
    ("GET", "/v1/audit/streams/{stream_id}/events"): "auditor",
    ("GET", "/v1/audit/events"): "auditor",
    ("GET", "/v1/audit/accounts/{account_id}/state"): "auditor",
    ("GET", "/v1/audit/accounts/{account_id}/balance"): "auditor",
    ("GET", "/v1/audit/accounts/{account_id}/statement"): "auditor",
    ("GET", "/v1/audit/tree-heads/latest"): "auditor",
    ("POST", "/v1/audit/tree-heads"): "auditor",
    ("GET", "/v1/audit/tree-heads/key"): "auditor",
    ("GET", "/v1/audit/proofs/inclusion"): "auditor",
    ("GET", "/v1/audit/proofs/consistency"): "auditor",
    ("GET", "/v1/audit/log-export"): "auditor",
    ("GET", "/v1/audit/log-check"): "auditor",
    ("GET", "/v1/admin/projections"): "admin",
    ("GET", "/v1/admin/projections/{projection}"): "admin",
    ("POST", "/v1/admin/projections/{projection}/rebuild"): "admin",
    ("POST", "/v1/admin/projections/{projection}/pause"): "admin",
    ("POST", "/v1/admin/projections/{projection}/resume"): "admin",
    ("POST", "/v1/admin/accounts/{account_id}/erasure"): "admin",
}
"""The role every route requires, written out (not derived from the route table) so that a row missing from the table
or given the wrong role fails."""
LOCAL_SPEC: dict[tuple[str, str], str] = {
    ("GET", "/v1/admin/clients"): "admin",
    ("POST", "/v1/admin/clients"): "admin",
    ("GET", "/v1/admin/clients/{client_id}"): "admin",
    ("POST", "/v1/admin/clients/{client_id}/disable"): "admin",
    ("POST", "/v1/admin/clients/{client_id}/enable"): "admin",
    ("POST", "/v1/admin/clients/{client_id}/rotate-secret"): "admin",
    ("GET", "/v1/admin/signing-keys"): "admin",
    ("POST", "/v1/admin/signing-keys/rotate"): "admin",
}
"""The routes the gateway answers itself (its authorization server's administration, ADR 0024), with their role."""


def authenticate_now(verifier: TokenVerifier, authorization: str | None) -> Principal:
    """:meth:`TokenVerifier.authenticate` from synchronous test code."""
    return asyncio.run(verifier.authenticate(authorization))


def bearer(settings: GatewaySettings, *roles: str, subject: str = "alice", ttl: int = 600) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, roles, subject=subject, ttl_seconds=ttl)}"}


def gateway_settings(upstream: str, redis_url: str, key_prefix: str, **overrides: Any) -> GatewaySettings:
    return GatewaySettings(
        command_url=upstream, query_url=upstream, redis_url=redis_url, rate_limit_key_prefix=key_prefix, **overrides
    )


@dataclass
class System:
    gateway_url: str
    settings: GatewaySettings
    container: Container
    query: QueryServiceStandIn

    def client(self, *roles: str, subject: str = "alice") -> httpx.Client:
        token = mint_token(self.settings, roles, subject=subject)
        return httpx.Client(base_url=self.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway_url, timeout=30)
