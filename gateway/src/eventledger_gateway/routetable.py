"""The public routes of PRODUCT.md §3: which role each path and method needs, and which service answers it.

This table is the gateway's whole surface under ``/v1``: a path or method it does not list answers 404 or 405.
Each role is required exactly (no hierarchy): a token carries every role its holder needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Upstream = Literal["command", "query", "audit", "admin"]


class Role(StrEnum):
    """The roles of the ``roles`` claim."""

    WRITER = "writer"
    READER = "reader"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Route:
    """One public operation.

    ``fail_closed``: when the rate limiter cannot decide (Redis down), refuse the request (503) rather than let
    it through unmetered. True for every request that reaches the event store or operates the system (commands,
    audit, admin): writes are permanent and that load falls on the source of truth; false for read-model queries.
    ``streaming``: the answer is relayed chunk by chunk as it arrives (Server-Sent Events), never buffered.
    """

    method: Literal["GET", "POST"]
    path: str
    role: Role
    upstream: Upstream
    name: str
    streaming: bool = False

    @property
    def fail_closed(self) -> bool:
        return self.upstream != "query"

    @property
    def has_body(self) -> bool:
        return self.method == "POST"


def _commands() -> list[Route]:
    def post(path: str, name: str) -> Route:
        return Route("POST", path, Role.WRITER, "command", name)

    return [
        post("/v1/accounts", "open_account"),
        post("/v1/accounts/{account_id}/freeze", "freeze_account"),
        post("/v1/accounts/{account_id}/unfreeze", "unfreeze_account"),
        post("/v1/accounts/{account_id}/close", "close_account"),
        post("/v1/deposits", "deposit"),
        post("/v1/withdrawals", "withdraw"),
        post("/v1/transfers", "make_transfer"),
        post("/v1/transfers/{transfer_id}/post", "post_transfer"),
        post("/v1/transfers/{transfer_id}/void", "void_transfer"),
    ]


def _queries() -> list[Route]:
    def get(path: str, name: str, *, streaming: bool = False) -> Route:
        return Route("GET", path, Role.READER, "query", name, streaming)

    return [
        get("/v1/accounts", "list_accounts"),
        get("/v1/accounts/{account_id}", "get_account"),
        get("/v1/accounts/{account_id}/entries", "get_statement"),
        get("/v1/transfers/{transfer_id}", "get_transfer"),
        get("/v1/search/transfers", "search_transfers"),
        get("/v1/stats/overview", "stats_overview"),
        get("/v1/stats/stream", "stats_stream", streaming=True),
    ]


def _audit() -> list[Route]:
    def get(path: str, name: str) -> Route:
        return Route("GET", path, Role.AUDITOR, "audit", name)

    return [
        get("/v1/audit/streams/{stream_id}/events", "audit_stream_events"),
        get("/v1/audit/events", "audit_global_log"),
        get("/v1/audit/accounts/{account_id}/state", "audit_account_state"),
        get("/v1/audit/accounts/{account_id}/balance", "audit_account_balance"),
        get("/v1/audit/accounts/{account_id}/statement", "audit_account_statement"),
        # The verifiable log (ADR 0025).
        get("/v1/audit/tree-heads/latest", "audit_latest_tree_head"),
        Route("POST", "/v1/audit/tree-heads", Role.AUDITOR, "audit", "audit_sign_tree_head"),
        get("/v1/audit/tree-heads/key", "audit_tree_head_key"),
        get("/v1/audit/proofs/inclusion", "audit_inclusion_proof"),
        get("/v1/audit/proofs/consistency", "audit_consistency_proof"),
        Route("GET", "/v1/audit/log-export", Role.AUDITOR, "audit", "audit_log_export", streaming=True),
        get("/v1/audit/log-check", "audit_log_check"),
    ]


def _admin() -> list[Route]:
    return [
        Route("GET", "/v1/admin/projections", Role.ADMIN, "admin", "projection_statuses"),
        Route("GET", "/v1/admin/projections/{projection}", Role.ADMIN, "admin", "projection_status"),
        Route("POST", "/v1/admin/projections/{projection}/rebuild", Role.ADMIN, "admin", "rebuild_projection"),
        Route("POST", "/v1/admin/projections/{projection}/pause", Role.ADMIN, "admin", "pause_projection"),
        Route("POST", "/v1/admin/projections/{projection}/resume", Role.ADMIN, "admin", "resume_projection"),
        # Crypto-shredding (issue 12): answered by the command service, which owns the data keys.
        Route("POST", "/v1/admin/accounts/{account_id}/erasure", Role.ADMIN, "command", "erase_account_holder"),
    ]


ROUTES: tuple[Route, ...] = (*_commands(), *_queries(), *_audit(), *_admin())
