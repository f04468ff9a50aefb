"""The verifiable log's audit endpoints (role ``auditor``, checked by the gateway; ADR 0025): signed tree heads, the
key that signs them, inclusion and consistency proofs (RFC 9162), the export an auditor verifies offline with
``python -m eventledger_events.audit verify``, and the same check run here."""

from __future__ import annotations

from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from eventledger_command.api.problems import Problem
from eventledger_command.notary.service import NotInTree, VerifiableLog
from eventledger_events.audit.tree_head import key_id
from eventledger_events.bounds import MAX_POSITION

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Size = Annotated[int, Query(ge=1, le=MAX_POSITION)]
Leaf = Annotated[int, Query(ge=0, le=MAX_POSITION)]


def _log(request: Request) -> VerifiableLog:
    verifiable: VerifiableLog | None = request.app.state.container.verifiable_log
    if verifiable is None:
        raise Problem(
            503,
            "verifiable_log_unavailable",
            "Verifiable log unavailable",
            "this command service runs without the PostgreSQL event store, which keeps the verifiable log",
        )
    return verifiable


def _no_head() -> Problem:
    return Problem(404, "no_tree_head", "No tree head", "no tree head has been signed yet: the log may be empty")


@router.get("/tree-heads/latest")
def latest_tree_head(request: Request) -> dict[str, Any]:
    """The latest signed tree head."""
    head = _log(request).latest_head()
    if head is None:
        raise _no_head()
    return head.to_json()


@router.post("/tree-heads", status_code=201)
def sign_tree_head(request: Request) -> dict[str, Any]:
    """Sign the tree as it stands now (or answer the head of that size, already signed)."""
    verifiable = _log(request)
    if verifiable.tree.end()[0] == 0:
        raise _no_head()
    return verifiable.sign_now().to_json()


@router.get("/tree-heads/key")
def tree_head_key(request: Request) -> dict[str, Any]:
    """The public key that signs tree heads (verify it out of band before trusting it)."""
    raw = _log(request).public_key
    pem = Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"key_id": key_id(raw), "algorithm": "Ed25519", "public_key": raw.hex(), "public_key_pem": pem.decode()}


@router.get("/proofs/inclusion")
def inclusion_proof(request: Request, position: Size, tree_size: Size) -> dict[str, Any]:
    """That the event at ``position`` is a leaf of the tree of ``tree_size`` leaves (RFC 9162 §2.1.3)."""
    try:
        return _log(request).inclusion(position, tree_size)
    except NotInTree as exc:
        raise Problem(404, "not_in_tree", "Not in the tree", str(exc)) from None


@router.get("/proofs/consistency")
def consistency_proof(request: Request, first: Size, second: Size) -> dict[str, Any]:
    """That the tree of ``first`` leaves is a prefix of the tree of ``second`` leaves (RFC 9162 §2.1.4)."""
    if first > second:
        raise Problem(422, "validation_error", "Invalid request", "first must not exceed second")
    try:
        return _log(request).consistency(first, second)
    except NotInTree as exc:
        raise Problem(404, "not_in_tree", "Not in the tree", str(exc)) from None


@router.get("/log-export")
def export(
    request: Request, from_leaf: Leaf = 0, to_leaf: Leaf | None = None, tree_size: Leaf | None = None
) -> StreamingResponse:
    """Leaves ``[from_leaf, to_leaf)`` of the tree of ``tree_size`` leaves with the event rows as stored now, as JSON
    lines: what ``python -m eventledger_events.audit verify`` checks against a tree head of that size. ``to_leaf``
    defaults to the latest tree head's size, ``tree_size`` to ``to_leaf``. A range short of the whole tree is a
    partial export: it opens with the hashes of the tree's nodes outside the range."""
    verifiable = _log(request)
    if to_leaf is None:
        head = verifiable.latest_head()
        to_leaf = 0 if head is None else head.tree_size
    tree_size = to_leaf if tree_size is None else tree_size
    if from_leaf > to_leaf:
        raise Problem(422, "validation_error", "Invalid request", "from_leaf must not exceed to_leaf")
    if to_leaf > tree_size:
        raise Problem(422, "validation_error", "Invalid request", "to_leaf must not exceed tree_size")
    try:
        lines = verifiable.export(from_leaf, to_leaf, tree_size)
    except NotInTree as exc:
        raise Problem(404, "not_in_tree", "Not in the tree", str(exc)) from None
    return StreamingResponse(lines, media_type="application/x-ndjson")


@router.get("/log-check")
def check(request: Request) -> JSONResponse:
    """The offline verifier's check of the whole log against the latest tree head, run here: intact, or the first
    altered, missing, inserted or reordered event."""
    head, verdict = _log(request).check()
    if head is None or verdict is None:
        raise _no_head()
    problem = verdict.problem
    return JSONResponse(
        {
            "intact": verdict.intact,
            "tree_size": head.tree_size,
            "root_hash": head.root_hash.hex(),
            "events": verdict.events,
            "verdict": verdict.describe(),
            "problem": None
            if problem is None
            else {
                "kind": problem.kind,
                "detail": problem.detail,
                "position": problem.position,
                "stream_id": problem.stream_id,
                "stream_version": problem.stream_version,
                "leaf_index": problem.leaf_index,
            },
        }
    )
