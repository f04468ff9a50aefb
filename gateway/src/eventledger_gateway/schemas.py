"""The public API's bodies, for the OpenAPI document only.

The gateway forwards bodies unread (the command and query services validate them; ADR 0008), so these types
describe the contract of PRODUCT.md §3 to clients and are never used to parse a request. They are the gateway's own
types: it imports nothing from the services.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from eventledger_events.bounds import MAX_POSITION, STORABLE_TEXT_PATTERN

Amount = Annotated[int, Field(gt=0, le=10**15, description="Minor units (cents); an integer, never a float.")]
Text = Annotated[str, Field(pattern=STORABLE_TEXT_PATTERN, description="Any text but the NUL character.")]
HolderName = Annotated[
    Text, Field(min_length=1, max_length=200, description="Surrounding blanks are removed; what is left is not empty.")
]
Description = Annotated[Text, Field(max_length=500, description="Free text shown on statements and searched.")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.", examples=["EUR"])]
Position = Annotated[int, Field(ge=0, le=MAX_POSITION, description="Global log position (use it as X-Min-Position).")]
ValueDate = Annotated[
    datetime | None,
    Field(
        description=(
            "When the money counts (RFC 3339 instant with a time zone); default: now. An earlier one back-dates the "
            "movement (recorded as such) within the back-dating window; outside it, or in the future beyond a few "
            "minutes, the answer is 422 `invalid_value_date` with the `earliest` and `latest` allowed."
        )
    ),
]
ACCOUNT_ID = "0b7f2a8e-5f55-4c11-9d0e-8a4c2f0d9b10"
OTHER_ACCOUNT_ID = "5d1c9f0a-2b8e-4e7d-a6c3-1f9e8d7c6b5a"
TRANSFER_ID = "7c0e1d2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f"


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


# ---------------------------------------------------------------- commands (role writer)
class OpenAccountRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"holder_name": "Ada Lovelace", "currency": "EUR", "overdraft_limit": 0}]},
    )
    holder_name: HolderName
    currency: Currency
    overdraft_limit: Annotated[int, Field(ge=0, le=10**15)] = 0


class MovementRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"account_id": ACCOUNT_ID, "amount": 2500, "description": "top-up"}]},
    )
    account_id: UUID
    amount: Amount
    description: Description = ""
    value_date: ValueDate = None


class TransferRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "from_account_id": ACCOUNT_ID,
                    "to_account_id": OTHER_ACCOUNT_ID,
                    "amount": 1250,
                    "description": "rent share",
                    "pending": True,
                    "timeout_seconds": 3600,
                }
            ]
        },
    )
    from_account_id: UUID
    to_account_id: UUID
    amount: Amount
    description: Description = ""
    pending: bool = Field(default=False, description="Hold the amount until posted, voided or expired.")
    timeout_seconds: Annotated[int, Field(ge=1, le=30 * 24 * 3600)] | None = Field(
        default=None, description="Required with pending=true: the hold expires after this many seconds."
    )
    value_date: ValueDate = Field(default=None, description="For posted transfers only (both legs); see deposits.")


class AccountCommandAnswer(BaseModel):
    model_config = _example({"account_id": ACCOUNT_ID, "version": 1, "position": 42})
    account_id: UUID
    version: int = Field(description="The account stream's version after this command.")
    position: Position


class TransferCommandAnswer(BaseModel):
    model_config = _example({"transfer_id": TRANSFER_ID, "status": "posted", "position": 43})
    transfer_id: UUID
    status: Literal["posted", "pending", "voided", "expired"]
    position: Position


# ---------------------------------------------------------------- queries (role reader)
ACCOUNT_EXAMPLE: dict[str, Any] = {
    "account_id": ACCOUNT_ID,
    "holder_name": "Ada Lovelace",
    "currency": "EUR",
    "status": "open",
    "balance": 10000,
    "available": 8750,
    "overdraft_limit": 0,
    "version": 4,
    "updated_at": "2026-11-25T12:00:00Z",
}
STATEMENT_LINE_EXAMPLE: dict[str, Any] = {
    "transfer_id": TRANSFER_ID,
    "amount": -1250,
    "balance_after": 8750,
    "description": "rent share",
    "posted_at": "2026-11-25T12:00:00Z",
    "position": 43,
}


class AccountView(BaseModel):
    model_config = _example(ACCOUNT_EXAMPLE)
    account_id: UUID
    holder_name: str
    currency: Currency
    status: Literal["open", "frozen", "closed"]
    balance: int = Field(description="Credits minus debits of posted transfers, in minor units.")
    available: int = Field(description="balance + overdraft_limit - open holds.")
    overdraft_limit: int
    version: int
    updated_at: datetime


class AccountPage(BaseModel):
    model_config = _example({"items": [ACCOUNT_EXAMPLE], "next_cursor": "eyJhZnRlciI6IjBiN2YyYThlIn0"})
    items: list[AccountView]
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null on the last page.")


class StatementLine(BaseModel):
    model_config = _example(STATEMENT_LINE_EXAMPLE)
    transfer_id: UUID
    amount: int = Field(description="Signed: credits positive, debits negative.")
    balance_after: int
    description: str
    posted_at: datetime
    position: Position


class StatementPage(BaseModel):
    model_config = _example({"items": [STATEMENT_LINE_EXAMPLE], "next_cursor": None})
    items: list[StatementLine]
    next_cursor: str | None


TRANSFER_EXAMPLE: dict[str, Any] = {
    "transfer_id": TRANSFER_ID,
    "from_account_id": ACCOUNT_ID,
    "to_account_id": OTHER_ACCOUNT_ID,
    "amount": 1250,
    "currency": "EUR",
    "status": "posted",
    "description": "rent share",
    "created_at": "2026-11-25T12:00:00Z",
    "position": 43,
}


class TransferView(BaseModel):
    model_config = _example(TRANSFER_EXAMPLE)
    transfer_id: UUID
    from_account_id: UUID
    to_account_id: UUID
    amount: int
    currency: Currency
    status: Literal["posted", "pending", "voided", "expired"]
    description: str
    created_at: datetime
    position: Position


class FacetCount(BaseModel):
    value: str
    count: int


class TransferSearchHit(BaseModel):
    """One search hit (Elasticsearch read model): the transfer with its holders' names."""

    model_config = ConfigDict(extra="allow")
    transfer_id: UUID
    kind: str = Field(description="transfer, deposit or withdrawal.")
    status: Literal["posted", "pending", "voided", "expired"]
    from_account_id: UUID
    from_holder_name: str | None
    to_account_id: UUID
    to_holder_name: str | None
    amount: int
    currency: Currency
    description: str
    created_at: datetime
    updated_at: datetime | None
    expires_at: datetime | None
    position: Position


SEARCH_HIT_EXAMPLE: dict[str, Any] = {
    **TRANSFER_EXAMPLE,
    "kind": "transfer",
    "from_holder_name": "Ada Lovelace",
    "to_holder_name": "Grace Hopper",
    "updated_at": "2026-11-25T12:00:00Z",
    "expires_at": None,
}


class TransferSearchResult(BaseModel):
    model_config = _example(
        {
            "total": 1,
            "items": [SEARCH_HIT_EXAMPLE],
            "facets": {"currency": [{"value": "EUR", "count": 1}], "status": [{"value": "posted", "count": 1}]},
        }
    )
    total: int
    items: list[TransferSearchHit]
    facets: dict[Literal["currency", "status"], list[FacetCount]]


class AccountVolume(BaseModel):
    account_id: UUID
    holder_name: str | None = Field(description="The account's holder (null while the read model lacks it).")
    currency: Currency
    volume: int


class LastHour(BaseModel):
    """The stream job's one-minute windows of the last hour, in columns (one value per minute of ``starts``)."""

    window: str = Field(description="The window family: `tumbling-1m`.")
    step_seconds: int
    starts: list[int] = Field(description="Each minute's start (epoch seconds), oldest first, the current one last.")
    transfers: dict[str, list[int]] = Field(description="Transfers posted in each minute, per currency.")
    volume: dict[str, list[int]] = Field(description="Volume posted in each minute, per currency, in minor units.")


class StatsOverview(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "open_accounts": 1204,
                    "accounts_by_status": {"open": 1204, "frozen": 3, "closed": 17},
                    "volume_per_currency": {"EUR": 1250000, "USD": 830000},
                    "transfers_per_currency": {"EUR": 5120, "USD": 2210},
                    "transfers_per_minute": 37,
                    "windows": {"transfers_per_minute": 37},
                    "last_hour": {
                        "window": "tumbling-1m",
                        "step_seconds": 60,
                        "starts": [1780308060, 1780308120, 1780308180],
                        "transfers": {"EUR": [0, 4, 2]},
                        "volume": {"EUR": [0, 125000, 9900]},
                    },
                    "top_accounts": [
                        {"account_id": ACCOUNT_ID, "holder_name": "Ada Lovelace", "currency": "EUR", "volume": 250000}
                    ],
                    "position": 98231,
                }
            ]
        },
    )
    open_accounts: int
    accounts_by_status: dict[str, int]
    volume_per_currency: dict[str, int] = Field(description="Posted volume per currency, in minor units.")
    transfers_per_currency: dict[str, int]
    transfers_per_minute: float = Field(description="From the stream-processing job's windows.")
    windows: dict[str, Any]
    last_hour: LastHour = Field(description="For charts: the last 60 minutes, minute by minute (ADR 0029).")
    top_accounts: list[AccountVolume]
    position: Position


# ---------------------------------------------------------------- audit (role auditor)
AUDIT_EVENT_EXAMPLE: dict[str, Any] = {
    "position": 42,
    "stream_id": f"account-{ACCOUNT_ID}",
    "stream_version": 1,
    "event_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "event_type": "account.opened",
    "schema_version": 1,
    "stored_schema_version": 1,
    "occurred_at": "2026-11-25T12:00:00Z",
    "recorded_at": "2026-11-25T12:00:00Z",
    "actor": "alice",
    "correlation_id": "3f2e1d0c-9b8a-4f6e-8d5c-4b3a2f1e0d9c",
    "causation_id": None,
    "payload": {"holder_name": "Ada Lovelace", "currency": "EUR", "overdraft_limit": 0},
}


class AuditEvent(BaseModel):
    model_config = _example(AUDIT_EVENT_EXAMPLE)
    position: Position
    stream_id: str
    stream_version: int
    event_id: UUID
    event_type: str
    schema_version: int = Field(description="The payload's version as answered (upcast to the current one).")
    stored_schema_version: int = Field(description="The version the event was stored with.")
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: UUID
    causation_id: UUID | None
    payload: dict[str, Any]


class StreamHistory(BaseModel):
    model_config = _example(
        {"stream_id": f"account-{ACCOUNT_ID}", "items": [AUDIT_EVENT_EXAMPLE], "next_from_version": None}
    )
    stream_id: str
    items: list[AuditEvent]
    next_from_version: int | None = Field(description="Pass as from_version for the next page; null at the end.")


class GlobalLogPage(BaseModel):
    model_config = _example({"items": [AUDIT_EVENT_EXAMPLE], "next_from_position": 43})
    items: list[AuditEvent]
    next_from_position: int = Field(description="Pass as from_position for the next page.")


class AccountStateAt(BaseModel):
    model_config = _example(
        {
            "account_id": ACCOUNT_ID,
            "holder_name": "Ada Lovelace",
            "currency": "EUR",
            "status": "open",
            "balance": 2500,
            "available": 2500,
            "overdraft_limit": 0,
            "held": 0,
            "version": 2,
            "as_of": "2026-11-25T12:00:00Z",
        }
    )
    account_id: UUID
    holder_name: str
    currency: Currency
    status: Literal["open", "frozen", "closed"]
    balance: int
    available: int
    overdraft_limit: int
    held: int = Field(description="Open holds (pending transfers out).")
    version: int = Field(description="The account stream's version the state was rebuilt up to.")
    as_of: datetime


class AccountBalanceAt(BaseModel):
    model_config = _example(
        {
            "account_id": ACCOUNT_ID,
            "currency": "EUR",
            "value_time": "2026-03-31T23:59:59Z",
            "known_at": "2026-04-01T00:00:00Z",
            "balance": 2500,
            "movements": 3,
            "backdated_movements": 0,
            "last_position": 42,
        }
    )
    account_id: UUID
    currency: Currency
    value_time: datetime
    known_at: datetime | None = Field(description="Null: everything recorded so far.")
    balance: int = Field(description="Credits minus debits whose value date is at or before value_time.")
    movements: int = Field(description="How many movements were counted.")
    backdated_movements: int = Field(description="How many of them were back-dated.")
    last_position: int = Field(description="The last position of the account's stream that was known.")


BITEMPORAL_LINE_EXAMPLE: dict[str, Any] = {
    "transfer_id": TRANSFER_ID,
    "amount": 2500,
    "balance_after": 2500,
    "description": "March rent",
    "counterparty_account_id": OTHER_ACCOUNT_ID,
    "value_date": "2026-03-20T10:00:00Z",
    "recorded_at": "2026-04-05T09:00:00Z",
    "backdated": True,
    "position": 42,
}


class BitemporalStatementLine(BaseModel):
    model_config = _example(BITEMPORAL_LINE_EXAMPLE)
    transfer_id: UUID
    amount: int = Field(description="Signed: credits positive, debits negative.")
    balance_after: int = Field(description="Running balance in value order.")
    description: str
    counterparty_account_id: UUID
    value_date: datetime = Field(description="When the money counts.")
    recorded_at: datetime = Field(description="When the ledger recorded it.")
    backdated: bool
    position: Position


class AccountStatementAt(BaseModel):
    model_config = _example(
        {
            "account_id": ACCOUNT_ID,
            "currency": "EUR",
            "value_from": "2026-03-01T00:00:00Z",
            "value_to": "2026-04-01T00:00:00Z",
            "known_at": None,
            "opening_balance": 0,
            "closing_balance": 2500,
            "items": [BITEMPORAL_LINE_EXAMPLE],
            "last_position": 42,
        }
    )
    account_id: UUID
    currency: Currency
    value_from: datetime
    value_to: datetime
    known_at: datetime | None = Field(description="Null: everything recorded so far.")
    opening_balance: int = Field(description="Balance of the movements valued before value_from.")
    closing_balance: int = Field(description="Balance of the movements valued before value_to.")
    items: list[BitemporalStatementLine]
    last_position: int


# ---------------------------------------------------------------- operations (role admin)
INSTANCE_EXAMPLE: dict[str, Any] = {
    "instance_id": "postgres-3f9a1c2e",
    "address": "127.0.0.1:18101",
    "pid": 41230,
    "started_at": "2026-12-04T09:12:03.512+00:00",
    "state": "running",
    "position": 1200,
    "lag_events": 2,
    "lag_seconds": 0.04,
    "heartbeat_age_seconds": 0.4,
    "partitions": [
        {"topic": "eventledger.accounts.v1", "partition": 0, "offset": 412, "lag": 2},
        {"topic": "eventledger.transfers.v1", "partition": 0, "offset": 198, "lag": 0},
    ],
}
PROJECTION_EXAMPLE: dict[str, Any] = {
    "projection": "postgres",
    "head_position": 1203,
    "position": 1200,
    "lag_events": 3,
    "lag_seconds": 0.04,
    "state": "running",
    "instances": [INSTANCE_EXAMPLE],
}


class PartitionProgress(BaseModel):
    topic: str
    partition: int
    offset: int | None = Field(description="the next offset the instance applies (null until it knows)")
    lag: int | None = Field(description="messages below the high watermark not applied yet")


class ProjectorInstance(BaseModel):
    """One process running the projection, as it last said in the instance registry (a heartbeat every second)."""

    model_config = _example(INSTANCE_EXAMPLE)
    instance_id: str
    address: str = Field(description="host:port of its operations endpoint (pause, resume, /metrics)")
    pid: int
    started_at: datetime
    state: str = Field(
        description="`running`, `paused`, `stalled` (see `reason`), or `stale`: no heartbeat for 5 s, the process is"
        " gone (listed for 10 minutes after its last heartbeat)"
    )
    reason: str | None = Field(default=None, description="why the instance is stalled")
    position: Position = Field(description="the position its read model reflected at its last refresh")
    lag_events: int = Field(description="messages waiting in its assigned partitions")
    lag_seconds: float
    heartbeat_age_seconds: float
    partitions: list[PartitionProgress] = Field(description="the partitions its consumer group assigned to it")


class ProjectionStatus(BaseModel):
    model_config = _example(PROJECTION_EXAMPLE)
    projection: str
    head_position: Position
    position: Position | None = Field(description="what the read model reflects (what X-Min-Position waits for)")
    lag_events: int | None
    lag_seconds: float | None
    state: str = Field(
        description="`running`, `paused` (every live instance), `partly paused`, `stalled` (an instance is behind its"
        " head and not moving: it restarts itself; see `reason`) or `unreachable` (no live instance)"
    )
    reason: str | None = Field(default=None, description="why the projector is stalled")
    instances: list[ProjectorInstance] = Field(description="every registered instance, stale ones included")


class ProjectionStatusList(BaseModel):
    model_config = _example({"items": [PROJECTION_EXAMPLE]})
    items: list[ProjectionStatus]


class RebuildStarted(BaseModel):
    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"name": "accounts-postgres", "state": "rebuilding"}]}
    )
    name: str
    state: str


class ErasureRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "the holder asked to be forgotten (ticket 4711)"}]}
    )
    reason: Annotated[
        Text, Field(min_length=1, max_length=500, description="Why the holder is erased; recorded in the event.")
    ]


class ErasureAnswer(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": ACCOUNT_ID,
                    "key_id": "0123456789abcdef0123456789abcdef",
                    "erased_by": "support-tool",
                    "erased_at": "2026-12-06T04:00:00+00:00",
                    "reason": "the holder asked to be forgotten (ticket 4711)",
                    "version": 7,
                }
            ]
        }
    )
    account_id: UUID
    key_id: str = Field(description="The destroyed data key's id.")
    erased_by: str = Field(description="Who erased: the authenticated client of the first erasure.")
    erased_at: datetime
    reason: str
    version: int = Field(description="The account stream's version holding the erasure event.")


# ---------------------------------------------------------------- errors
class ValidationIssue(BaseModel):
    field: str = Field(examples=["body.amount"])
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; extension members vary by type."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://eventledger.dev/problems/insufficient-funds",
                    "title": "Insufficient funds",
                    "status": 409,
                    "detail": "the account's available amount does not cover 2500",
                    "instance": "/v1/withdrawals",
                }
            ]
        },
    )
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ValidationIssue] | None = Field(default=None, description="On 422: each bad field and why.")


# ---------------------------------------------------------------- the verifiable log (role auditor, ADR 0025)
_ROOT = "5d7ac2b1" + "0" * 56


class TreeHead(BaseModel):
    model_config = _example(
        {
            "tree_size": 1204,
            "root_hash": _ROOT,
            "timestamp": 1796512800000,
            "key_id": "3f1a9b0c2d4e5f60",
            "signature": "MEUCIQ…",
        }
    )
    tree_size: int = Field(description="Leaves: the events of the global log, in position order.")
    root_hash: str = Field(description="RFC 9162 Merkle tree hash, hex.")
    timestamp: int = Field(description="Milliseconds since the Unix epoch.")
    key_id: str = Field(description="The first 16 hex digits of SHA-256 of the raw Ed25519 public key.")
    signature: str = Field(description="Base64 Ed25519 signature (ADR 0025 gives the signed bytes).")


class TreeHeadKey(BaseModel):
    model_config = _example(
        {
            "key_id": "3f1a9b0c2d4e5f60",
            "algorithm": "Ed25519",
            "public_key": "8a" * 32,
            "public_key_pem": "-----BEGIN PUBLIC KEY-----\n…",
        }
    )
    key_id: str
    algorithm: str
    public_key: str = Field(description="The raw 32-byte key, hex.")
    public_key_pem: str


class InclusionProof(BaseModel):
    model_config = _example(
        {
            "position": 98231,
            "leaf_index": 97012,
            "tree_size": 98000,
            "leaf_hash": _ROOT,
            "inclusion_path": [_ROOT],
            "root_hash": _ROOT,
        }
    )
    position: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    inclusion_path: list[str] = Field(description="RFC 9162 §2.1.3 audit path, bottom-up, hex.")
    root_hash: str


class ConsistencyProof(BaseModel):
    model_config = _example(
        {
            "tree_size_1": 900,
            "tree_size_2": 1204,
            "consistency_path": [_ROOT],
            "first_root_hash": _ROOT,
            "second_root_hash": _ROOT,
        }
    )
    tree_size_1: int
    tree_size_2: int
    consistency_path: list[str] = Field(description="RFC 9162 §2.1.4 consistency proof, hex.")
    first_root_hash: str
    second_root_hash: str


class LogProblem(BaseModel):
    kind: Literal["altered", "missing", "inserted", "reordered", "tree head mismatch", "bad signature", "inconsistent"]
    detail: str
    position: int | None
    stream_id: str | None
    stream_version: int | None
    leaf_index: int | None


class LogCheck(BaseModel):
    model_config = _example(
        {
            "intact": True,
            "tree_size": 1204,
            "root_hash": _ROOT,
            "events": 1204,
            "verdict": "intact: 1204 events, tree size 1204, root 5d7a…",
            "problem": None,
        }
    )
    intact: bool
    tree_size: int
    root_hash: str
    events: int
    verdict: str
    problem: LogProblem | None


DOCUMENTED_MODELS: tuple[type[BaseModel], ...] = (
    OpenAccountRequest,
    MovementRequest,
    TransferRequest,
    AccountCommandAnswer,
    TransferCommandAnswer,
    AccountView,
    AccountPage,
    StatementPage,
    TransferView,
    TransferSearchResult,
    StatsOverview,
    StreamHistory,
    GlobalLogPage,
    AccountStateAt,
    AccountBalanceAt,
    AccountStatementAt,
    TreeHead,
    TreeHeadKey,
    InclusionProof,
    ConsistencyProof,
    LogCheck,
    ProjectionStatus,
    ProjectionStatusList,
    RebuildStarted,
    ErasureRequest,
    ErasureAnswer,
    ProblemDetails,
)
