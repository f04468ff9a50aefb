"""The OpenAPI document of the public API (PRODUCT.md §3), built from the route table.

Contract: every route of :data:`~eventledger_gateway.routetable.ROUTES` is documented (a route without an
:data:`OPERATIONS` entry fails at start-up, so the table and the document cannot drift apart), with its role, its
path, query and header parameters, request and answer schemas with examples, and the problem answers it can give.
Every ``$ref`` points into ``components.schemas``. Security: a bearer JWT (``bearerAuth``) on every ``/v1`` route.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from eventledger_events.bounds import MAX_POSITION, MAX_VERSION, STORABLE_TEXT_PATTERN
from eventledger_gateway import schemas
from eventledger_gateway.routetable import ROUTES, Role, Route

REF = "#/components/schemas/{model}"
DESCRIPTION = """The EventLedger public API: an event-sourced, double-entry ledger.

Every `/v1` request needs `Authorization: Bearer <JWT>` whose `roles` claim holds the role the operation names:
`writer` (commands), `reader` (queries), `auditor` (audit), `admin` (operations). A machine client obtains one at
`POST /oauth/token` with its client id and secret (OAuth 2.0 client credentials); the keys that sign them are at
`/.well-known/jwks.json`. In development, a token is also printed by
`python -m eventledger_gateway token --role writer --role reader`.

Errors are RFC 9457 `application/problem+json` with a stable `type`. Each client (the token's subject) has a rate
limit; over it the answer is 429 with `Retry-After`. Every answer carries `X-Request-Id` and `X-Correlation-Id`;
commands record the correlation id in their events.
"""


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    example: Any = None
    required: bool = False


@dataclass(frozen=True)
class OperationDoc:
    summary: str
    answer_status: int
    answer: type[BaseModel] | None
    request: type[BaseModel] | None = None
    query: tuple[Param, ...] = ()
    problems: tuple[int, ...] = ()
    event_stream: bool = False
    media_type: str | None = None
    """An answer that is not one JSON document (``answer`` is then None): its media type."""


_UUID = {"type": "string", "format": "uuid"}
_LIMIT = Param("limit", "Page size (default 50).", {"type": "integer", "minimum": 1, "maximum": 200}, 50)
_AUDIT_LIMIT = Param("limit", "Page size (default 100).", {"type": "integer", "minimum": 1, "maximum": 1000}, 100)
_CURSOR = Param("cursor", "The next_cursor of the previous page.")
_PATH_PARAMS = {
    "account_id": Param("account_id", "The account's id.", _UUID, schemas.ACCOUNT_ID),
    "transfer_id": Param("transfer_id", "The transfer's id.", _UUID, schemas.TRANSFER_ID),
    "stream_id": Param(
        "stream_id",
        "A stream id, e.g. account-<uuid>.",
        {"type": "string", "maxLength": 200, "pattern": STORABLE_TEXT_PATTERN},
        f"account-{schemas.ACCOUNT_ID}",
    ),
    "projection": Param("projection", "A projection's name.", example="accounts-postgres"),
}
_TIME = {"type": "string", "format": "date-time"}
_POSITION = {"type": "integer", "minimum": 0, "maximum": MAX_POSITION}
_FIRST = {"type": "integer", "minimum": 1, "maximum": MAX_VERSION}
_SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_POSITION}
_LEAF = {"type": "integer", "minimum": 0, "maximum": MAX_POSITION}
_IDEMPOTENCY_KEY = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]{1,255}$"}


def _text(max_length: int, *, min_length: int = 0) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": STORABLE_TEXT_PATTERN}


def _command(
    summary: str, status: int, answer: type[BaseModel], request: type[BaseModel] | None = None
) -> OperationDoc:
    return OperationDoc(
        summary, status, answer, request, problems=(404, 409, 422) if request is None else (409, 410, 422)
    )


OPERATIONS: dict[str, OperationDoc] = {
    "open_account": _command("Open an account", 201, schemas.AccountCommandAnswer, schemas.OpenAccountRequest),
    "freeze_account": _command("Freeze an account (no debits, no new holds)", 200, schemas.AccountCommandAnswer),
    "unfreeze_account": _command("Unfreeze a frozen account", 200, schemas.AccountCommandAnswer),
    "close_account": _command("Close an account (balance 0, no open hold)", 200, schemas.AccountCommandAnswer),
    "deposit": _command("Deposit: money in from outside", 201, schemas.TransferCommandAnswer, schemas.MovementRequest),
    "withdraw": _command("Withdraw: money out", 201, schemas.TransferCommandAnswer, schemas.MovementRequest),
    "make_transfer": _command(
        "Transfer between two accounts (at once or pending)",
        201,
        schemas.TransferCommandAnswer,
        schemas.TransferRequest,
    ),
    "post_transfer": _command("Post a pending transfer", 200, schemas.TransferCommandAnswer),
    "void_transfer": _command("Void a pending transfer", 200, schemas.TransferCommandAnswer),
    "list_accounts": OperationDoc(
        "List accounts",
        200,
        schemas.AccountPage,
        query=(
            Param("status", "Filter by status.", {"type": "string", "enum": ["open", "frozen", "closed"]}),
            Param("currency", "Filter by currency.", {"type": "string", "pattern": "^[A-Z]{3}$"}, "EUR"),
            Param("holder", "Filter by holder name (prefix).", _text(200, min_length=1), "Ada"),
            _LIMIT,
            _CURSOR,
        ),
        problems=(422,),
    ),
    "get_account": OperationDoc("An account's balance and status", 200, schemas.AccountView, problems=(404, 422)),
    "get_statement": OperationDoc(
        "An account's statement",
        200,
        schemas.StatementPage,
        query=(
            Param("from", "Lines posted at or after.", _TIME),
            Param("to", "Lines posted before.", _TIME),
            _LIMIT,
            _CURSOR,
        ),
        problems=(404, 422),
    ),
    "get_transfer": OperationDoc("A transfer", 200, schemas.TransferView, problems=(404, 422)),
    "search_transfers": OperationDoc(
        "Search transfers (full text and filters, with facets)",
        200,
        schemas.TransferSearchResult,
        query=(
            Param("q", "Full-text query over descriptions and holders.", _text(500), "rent"),
            Param("currency", "Filter by currency.", {"type": "string", "pattern": "^[A-Z]{3}$"}),
            Param("min_amount", "Smallest amount (minor units).", {"type": "integer", "minimum": 0, "maximum": 10**15}),
            Param("max_amount", "Largest amount (minor units).", {"type": "integer", "minimum": 0, "maximum": 10**15}),
            Param(
                "status", "Filter by status.", {"type": "string", "enum": ["pending", "posted", "voided", "expired"]}
            ),
            Param("from", "Created at or after.", _TIME),
            Param("to", "Created before.", _TIME),
            Param("limit", "Page size (default 20).", {"type": "integer", "minimum": 1, "maximum": 200}, 20),
        ),
        problems=(422,),
    ),
    "stats_overview": OperationDoc("Live figures for dashboards", 200, schemas.StatsOverview),
    "stats_stream": OperationDoc(
        "Live figures pushed as Server-Sent Events", 200, schemas.StatsOverview, event_stream=True
    ),
    "audit_stream_events": OperationDoc(
        "A stream's events with full metadata (from the event store)",
        200,
        schemas.StreamHistory,
        query=(Param("from_version", "First version (default 1).", _FIRST, 1), _AUDIT_LIMIT),
        problems=(404, 422),
    ),
    "audit_global_log": OperationDoc(
        "The global log, in order (from the event store)",
        200,
        schemas.GlobalLogPage,
        query=(
            Param("from_position", "First position (default 1).", _FIRST, 1),
            _AUDIT_LIMIT,
        ),
        problems=(422,),
    ),
    "audit_account_state": OperationDoc(
        "An account as it stood at a time or version, rebuilt by replay",
        200,
        schemas.AccountStateAt,
        query=(
            Param("at", "An RFC 3339 instant (give exactly one of at and version).", _TIME, "2026-11-25T12:00:00Z"),
            Param("version", "A stream version (give exactly one of at and version).", _FIRST),
        ),
        problems=(404, 422),
    ),
    "audit_account_balance": OperationDoc(
        "An account's balance at a value time, as known at a recording time (bitemporal; from the event store)",
        200,
        schemas.AccountBalanceAt,
        query=(
            Param(
                "value_time",
                "Count the money whose value date is at or before it.",
                _TIME,
                "2026-03-31T23:59:59Z",
                required=True,
            ),
            Param(
                "known_at",
                "Count only what was recorded at or before it (default: everything).",
                _TIME,
                "2026-04-01T00:00:00Z",
            ),
        ),
        problems=(404, 422),
    ),
    "audit_account_statement": OperationDoc(
        "An account's statement for a value period, as known at a recording time (bitemporal; from the event store)",
        200,
        schemas.AccountStatementAt,
        query=(
            Param(
                "value_from",
                "First value time of the period (inclusive).",
                _TIME,
                "2026-03-01T00:00:00Z",
                required=True,
            ),
            Param("value_to", "End of the period (exclusive).", _TIME, "2026-04-01T00:00:00Z", required=True),
            Param(
                "known_at",
                "Count only what was recorded at or before it (default: everything).",
                _TIME,
                "2026-04-01T00:00:00Z",
            ),
        ),
        problems=(404, 422),
    ),
    "audit_latest_tree_head": OperationDoc(
        "The latest signed tree head of the verifiable log", 200, schemas.TreeHead, problems=(404,)
    ),
    "audit_sign_tree_head": OperationDoc(
        "Sign the tree of the global log as it stands now", 201, schemas.TreeHead, problems=(404,)
    ),
    "audit_tree_head_key": OperationDoc(
        "The Ed25519 public key that signs tree heads (check it out of band)", 200, schemas.TreeHeadKey
    ),
    "audit_inclusion_proof": OperationDoc(
        "Proof that the event at a position is in the tree of a given size (RFC 9162)",
        200,
        schemas.InclusionProof,
        query=(
            Param("position", "The event's position.", _SIZE, 1, required=True),
            Param("tree_size", "A signed tree size.", _SIZE, 1, required=True),
        ),
        problems=(404, 422),
    ),
    "audit_consistency_proof": OperationDoc(
        "Proof that an older tree is a prefix of a newer one (RFC 9162)",
        200,
        schemas.ConsistencyProof,
        query=(
            Param("first", "The older tree size.", _SIZE, 1, required=True),
            Param("second", "The newer tree size.", _SIZE, 1, required=True),
        ),
        problems=(404, 422),
    ),
    "audit_log_export": OperationDoc(
        "The log's leaves with the event rows as stored now, as JSON lines, for the offline verifier",
        200,
        None,
        query=(
            Param("from_leaf", "First leaf index (default 0).", _LEAF, 0),
            Param("to_leaf", "Leaf index after the last (default: the latest tree head's size).", _LEAF),
            Param(
                "tree_size",
                "The size of the tree the export is checked against (default: to_leaf); a range short of it is a "
                "partial export, opening with the hashes of the nodes outside the range.",
                _LEAF,
            ),
        ),
        problems=(404, 422),
        media_type="application/x-ndjson",
    ),
    "audit_log_check": OperationDoc(
        "The offline verifier's check of the whole log against the latest head, run on the server",
        200,
        schemas.LogCheck,
        problems=(404,),
    ),
    "projection_statuses": OperationDoc(
        "Every projection's position, lag and state, with its instances", 200, schemas.ProjectionStatusList
    ),
    "projection_status": OperationDoc(
        "One projection's position, lag and state, with its instances", 200, schemas.ProjectionStatus, problems=(404,)
    ),
    "rebuild_projection": OperationDoc(
        "Rebuild a projection beside the live one, then switch", 202, schemas.RebuildStarted, problems=(404, 409)
    ),
    "pause_projection": OperationDoc(
        "Pause every live instance of a projector between batches", 200, schemas.ProjectionStatus, problems=(404,)
    ),
    "resume_projection": OperationDoc(
        "Resume every live instance of a paused projector", 200, schemas.ProjectionStatus, problems=(404,)
    ),
    "erase_account_holder": OperationDoc(
        "Erase an account holder's personal data (its data key is destroyed; names and descriptions read "
        "`[erased]`); a repeat answers the first erasure",
        200,
        schemas.ErasureAnswer,
        schemas.ErasureRequest,
        problems=(404, 422),
    ),
}


def _link(operation: str, description: str, **how: Any) -> dict[str, Any]:
    return {"operationId": operation, "description": description, **how}


def _read_and_audit(kind: str, read: str, by_path: dict[str, str]) -> dict[str, Any]:
    """Reading what a command made, once the read model reflects it, and its audit stream (``<kind>-<id>``)."""
    entity = next(iter(by_path.values()))
    return {
        f"Get{kind.capitalize()}": _link(
            read,
            f"Read the {kind} once the read model reflects the command.",
            parameters={**by_path, "header.X-Min-Position": "$response.body#/position"},
        ),
        "AuditStream": _link(
            "audit_stream_events", "Its events.", parameters={"path.stream_id": f"{kind}-{{{entity}}}"}
        ),
    }


def _account_links(source: str) -> dict[str, Any]:
    """What an account id answered by ``source`` feeds: every operation on that account."""
    account = f"$response.body#/{source}"
    by_path = {"path.account_id": account}
    return {
        **_read_and_audit("account", "get_account", by_path),
        "GetStatement": _link("get_statement", "The account's statement.", parameters=by_path),
        "Deposit": _link("deposit", "Put money in.", requestBody={"account_id": account}),
        "Withdraw": _link("withdraw", "Take money out.", requestBody={"account_id": account}),
        "TransferFrom": _link("make_transfer", "Move money from it.", requestBody={"from_account_id": account}),
        "TransferTo": _link("make_transfer", "Move money to it.", requestBody={"to_account_id": account}),
        "Freeze": _link("freeze_account", "Freeze it.", parameters=by_path),
        "Unfreeze": _link("unfreeze_account", "Unfreeze it.", parameters=by_path),
        "Close": _link("close_account", "Close it.", parameters=by_path),
        "AuditState": _link("audit_account_state", "Replay it to a version.", parameters=by_path),
    }


def _transfer_links() -> dict[str, Any]:
    """What a transfer id answered by a movement feeds: reading it, posting or voiding it, its audit stream."""
    by_path = {"path.transfer_id": "$response.body#/transfer_id"}
    return {
        **_read_and_audit("transfer", "get_transfer", by_path),
        "PostTransfer": _link("post_transfer", "Post it (when pending).", parameters=by_path),
        "VoidTransfer": _link("void_transfer", "Void it (when pending).", parameters=by_path),
    }


LINKS: dict[str, dict[str, Any]] = {
    "open_account": _account_links("account_id"),
    "freeze_account": _account_links("account_id"),
    "unfreeze_account": _account_links("account_id"),
    **{name: _transfer_links() for name in ("deposit", "withdraw", "make_transfer", "post_transfer", "void_transfer")},
}
"""OpenAPI links: how an answer's ids feed other operations (clients and the fuzz tier's stateful phase follow them)."""


_TAGS = {Role.WRITER: "commands", Role.READER: "queries", Role.AUDITOR: "audit", Role.ADMIN: "operations"}
_PROBLEM_TEXT = {
    401: "Missing, malformed or invalid token (see WWW-Authenticate)",
    403: "The token lacks the role this operation needs",
    404: "Unknown id",
    409: "Refused by a business rule (insufficient funds, frozen or closed account, currency mismatch, conflict)",
    410: "The account holder's personal data was erased: a holder name or description about it cannot be recorded",
    422: "Invalid request; each bad field is named in `errors`",
    429: "Rate limit used up; see Retry-After",
    502: "An upstream service failed; nothing of its error is shown",
    503: "A service is unavailable (or its circuit is open), or a read model has not reached X-Min-Position in time; "
    "see Retry-After",
    504: "An upstream service did not answer in time",
}
_ALWAYS = (401, 403, 429, 502, 503, 504)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The whole document: FastAPI's description of the operations endpoints plus the public routes."""
    missing = [route.name for route in ROUTES if route.name not in OPERATIONS]
    if missing:
        raise RuntimeError(f"routes without documentation: {missing}")
    document = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
    _, definitions = models_json_schema(
        [(model, "validation") for model in schemas.DOCUMENTED_MODELS], ref_template=REF
    )
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(definitions.get("$defs", {}))
    components["securitySchemes"] = {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A JWT with `roles`."},
        "clientBasic": {
            "type": "http",
            "scheme": "basic",
            "description": "client_id:client_secret, each form-encoded (RFC 6749 §2.3.1)",
        },
    }
    paths = document.setdefault("paths", {})
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, OPERATIONS[route.name])
    document["tags"] = [
        {"name": "commands", "description": "Role `writer`. Each answers the resulting position in the global log."},
        {"name": "queries", "description": "Role `reader`. Each answer carries X-Read-Position."},
        {"name": "audit", "description": "Role `auditor`. Served from the event store itself."},
        {"name": "operations", "description": "Role `admin`, and the unauthenticated health and metrics endpoints."},
        {"name": "authorization", "description": "OAuth 2.0 client credentials: tokens, revocation, metadata, keys."},
    ]
    return document


def _operation(route: Route, doc: OperationDoc) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": doc.summary,
        "description": f"Role: `{route.role.value}`.",
        "tags": [_TAGS[route.role]],
        "security": [{"bearerAuth": []}],
        "parameters": _parameters(route, doc),
        "responses": _responses(route, doc),
    }
    if doc.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(model=doc.request.__name__)},
                    "example": _first_example(doc.request),
                }
            },
        }
    return operation


def _parameters(route: Route, doc: OperationDoc) -> list[dict[str, Any]]:
    parameters = [_param(_PATH_PARAMS[name], "path", required=True) for name in _path_names(route.path)]
    parameters += [_param(param, "query", required=param.required) for param in doc.query]
    if route.role is Role.WRITER:
        parameters.append(
            _param(
                Param(
                    "Idempotency-Key",
                    "Same key + same body = the original answer, done once. 1 to 255 visible ASCII characters.",
                    _IDEMPOTENCY_KEY,
                ),
                "header",
            )
        )
    if route.role is Role.READER:
        parameters.append(
            _param(
                Param(
                    "X-Min-Position",
                    "Wait (bounded) until the read model reflects this position, else 503.",
                    _POSITION,
                ),
                "header",
            )
        )
    parameters.append(_param(Param("X-Correlation-Id", "A UUID tying this request to others.", _UUID), "header"))
    parameters.append(_param(Param("X-Request-Id", "Your id for this request, echoed back."), "header"))
    return parameters


def _responses(route: Route, doc: OperationDoc) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "X-Request-Id": {"schema": {"type": "string"}},
        "X-Correlation-Id": {"schema": _UUID},
    }
    if route.upstream == "query":
        headers["X-Read-Position"] = {"schema": {"type": "integer"}, "description": "Position the answer reflects."}
    if route.role is Role.WRITER:
        headers["Idempotent-Replayed"] = {"schema": {"type": "string"}, "description": "true on a replayed answer."}
    success: dict[str, Any] = {"description": doc.summary, "headers": headers}
    if doc.answer is not None:
        reference = {"$ref": REF.format(model=doc.answer.__name__)}
        if doc.event_stream:
            success["content"] = {
                "text/event-stream": {
                    "schema": {"type": "string", "description": "Each `data:` line holds a StatsOverview document."},
                    "example": 'id: 98231\nevent: figures\ndata: {"open_accounts": 1204, "position": 98231}\n\n',
                }
            }
        else:
            success["content"] = {"application/json": {"schema": reference, "example": _first_example(doc.answer)}}
    if doc.media_type is not None:
        success["content"] = {
            doc.media_type: {
                "schema": {"type": "string", "description": "One JSON document per line."},
                "example": '{"leaf_index": 0, "position": 1, "leaf_hash": "9e1c…", "event": {"position": 1, …}}\n',
            }
        }
    if route.name in LINKS:
        # A copy: a reader of the document (schemathesis adds the links it infers) must not change the constant.
        success["links"] = copy.deepcopy(LINKS[route.name])
    responses: dict[str, Any] = {str(doc.answer_status): success}
    for status in sorted(set(doc.problems) | set(_ALWAYS)):
        problem: dict[str, Any] = {
            "description": _PROBLEM_TEXT[status],
            "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="ProblemDetails")}}},
        }
        if status in {429, 503}:
            problem["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
        if status == 401:
            problem["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        responses[str(status)] = problem
    return responses


def _param(param: Param, location: str, *, required: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": param.name,
        "in": location,
        "required": required,
        "description": param.description,
        "schema": param.schema,
    }
    if param.example is not None:
        document["example"] = param.example
    return document


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _first_example(model: type[BaseModel]) -> Any:
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return examples[0] if isinstance(examples, list) and examples else None
