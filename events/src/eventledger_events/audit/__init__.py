"""The verifiable log: EventLedger's events under a Merkle tree in RFC 9162 form, and an offline verifier.

This subpackage imports the standard library and ``cryptography`` only, nothing else of ours, so that an auditor can
run it alone (an import-linter contract keeps it so). The formats are the contract between the event store, the
notary, the audit API and this verifier; each module's docstring states its part:

- :mod:`.hashing`: the content digest and the per-stream event hash chain;
- :mod:`.merkle`: leaf and node hashes, roots, inclusion and consistency proofs and their verification;
- :mod:`.tree_head`: the Ed25519-signed tree head;
- :mod:`.verify`: the export's form and the checks (``python -m eventledger_events.audit verify``).

``python -m eventledger_events.audit`` loads the parent package, and with it pydantic, fastavro and orjson. An auditor
who wants none of that copies this folder under any name (its imports are relative) and runs ``python -m <name>
verify ...`` with only ``cryptography`` installed.
"""

from .hashing import (
    EPOCH,
    GENESIS_HASH,
    canonical_json,
    content_digest,
    event_hash,
    exported_content_digest,
    format_timestamp,
    parse_timestamp,
    to_micros,
)
from .merkle import (
    EMPTY_ROOT,
    InMemoryNodeSource,
    NodeSource,
    consistency_proof,
    fold_perfect_subtrees,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    range_nodes,
    root,
    root_of_range,
    verify_consistency,
    verify_inclusion,
)
from .tree_head import (
    MalformedTreeHead,
    TreeHead,
    key_id,
    load_public_key,
    parse_tree_head,
    sign_tree_head,
    signed_bytes,
    verify_tree_head,
)
from .verify import (
    ALTERED,
    BAD_SIGNATURE,
    INCONSISTENT,
    INSERTED,
    MISSING,
    REORDERED,
    TREE_HEAD_MISMATCH,
    ConsistencyProof,
    ExportLine,
    ExportRange,
    Problem,
    UnusableInput,
    Verdict,
    parse_consistency_proof,
    parse_export,
    parse_export_line,
    parse_export_range,
    verify_export,
)

__all__ = [
    "ALTERED",
    "BAD_SIGNATURE",
    "EMPTY_ROOT",
    "EPOCH",
    "GENESIS_HASH",
    "INCONSISTENT",
    "INSERTED",
    "MISSING",
    "REORDERED",
    "TREE_HEAD_MISMATCH",
    "ConsistencyProof",
    "ExportLine",
    "ExportRange",
    "InMemoryNodeSource",
    "MalformedTreeHead",
    "NodeSource",
    "Problem",
    "TreeHead",
    "UnusableInput",
    "Verdict",
    "canonical_json",
    "consistency_proof",
    "content_digest",
    "event_hash",
    "exported_content_digest",
    "fold_perfect_subtrees",
    "format_timestamp",
    "inclusion_proof",
    "key_id",
    "leaf_hash",
    "load_public_key",
    "node_hash",
    "parse_consistency_proof",
    "parse_export",
    "parse_export_line",
    "parse_export_range",
    "parse_timestamp",
    "parse_tree_head",
    "perfect_subtrees",
    "range_nodes",
    "root",
    "root_of_range",
    "sign_tree_head",
    "signed_bytes",
    "to_micros",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
    "verify_tree_head",
]
