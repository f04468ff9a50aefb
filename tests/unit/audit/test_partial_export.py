"""A range of the log checked on its own: the root recomputed from the range's leaves and the nodes outside it, the
range's stream chains resumed from the links before it, every tamper inside the range still named at its event,
and nothing outside the export trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.audit_log import AuditLog, delete_row, edit_payload, make_audit_log, partial_export, swap_rows

from eventledger_events.audit import (
    ALTERED,
    MISSING,
    REORDERED,
    TREE_HEAD_MISMATCH,
    ConsistencyProof,
    ExportRange,
    InMemoryNodeSource,
    UnusableInput,
    Verdict,
    consistency_proof,
    leaf_hash,
    parse_export,
    range_nodes,
    root,
    root_of_range,
    sign_tree_head,
    verify_export,
)
from eventledger_events.audit.__main__ import main


def verdict(log: AuditLog, **options: object) -> Verdict:
    lines = parse_export(json.dumps(line) for line in log.lines)
    return verify_export(lines, log.head, log.public_key_pem, **options)  # type: ignore[arg-type]


def leaves(count: int) -> list[bytes]:
    return [leaf_hash(index.to_bytes(32, "big")) for index in range(count)]


def test_every_range_of_every_small_tree_gives_its_root_from_the_nodes_outside_it() -> None:
    for size in range(1, 34):
        hashes = leaves(size)
        source = InMemoryNodeSource(hashes)
        for start in range(size):
            for end in range(start + 1, size + 1):
                nodes = {(lo, hi): source.subtree_hash(lo, hi) for lo, hi in range_nodes(size, start, end)}
                assert root_of_range(size, start, hashes[start:end], nodes) == root(hashes), (size, start, end)
                assert len(nodes) <= 2 * size.bit_length()


def test_a_whole_tree_needs_no_node_and_a_missing_node_is_named() -> None:
    assert range_nodes(13, 0, 13) == []
    hashes = leaves(13)
    with pytest.raises(ValueError, match=r"node \[0, 8\)"):
        root_of_range(13, 8, hashes[8:], {})
    with pytest.raises(ValueError, match="no range"):
        range_nodes(13, 5, 5)


def test_a_range_of_an_untouched_log_is_intact() -> None:
    log = partial_export(make_audit_log(20), 7, 15)
    assert sum("chain_previous" in line for line in log.lines) == 3  # each of the three streams resumes
    result = verdict(log)
    assert result.intact, result.describe()
    assert result.describe() == f"intact: 8 events, tree size 20, root {log.head.root_hash.hex()}"


@pytest.mark.parametrize(("start", "end"), [(0, 9), (9, 20), (19, 20), (1, 2)])
def test_ranges_at_either_end_are_intact(start: int, end: int) -> None:
    assert verdict(partial_export(make_audit_log(20), start, end)).intact


def test_an_edited_payload_inside_the_range_is_altered_there() -> None:
    log = partial_export(make_audit_log(20), 7, 15)
    event = log.line_of_leaf(11)["event"]
    edit_payload(log, 11)
    result = verdict(log)
    assert result.problem is not None
    assert (result.problem.kind, result.problem.leaf_index, result.problem.position) == (
        ALTERED,
        11,
        event["position"],
    )


def test_a_deleted_row_and_a_swap_inside_the_range_are_named() -> None:
    deleted = partial_export(make_audit_log(20), 7, 15)
    delete_row(deleted, 9)
    assert verdict(deleted).problem is not None
    assert (verdict(deleted).problem.kind, verdict(deleted).problem.leaf_index) == (MISSING, 9)  # type: ignore[union-attr]
    swapped = partial_export(make_audit_log(20), 7, 15)
    swap_rows(swapped, 8, 12)
    assert (verdict(swapped).problem.kind, verdict(swapped).problem.leaf_index) == (REORDERED, 8)  # type: ignore[union-attr]


def test_a_forged_chain_link_is_caught_at_the_streams_first_event_in_the_range() -> None:
    log = partial_export(make_audit_log(20), 7, 15)
    first = next(line for line in log.lines if "chain_previous" in line)
    first["chain_previous"]["event_hash"] = "00" * 32
    problem = verdict(log).problem
    assert problem is not None
    assert (problem.kind, problem.leaf_index) == (ALTERED, first["leaf_index"])


def test_a_chain_link_in_a_full_export_is_ignored_every_chain_starts_at_genesis() -> None:
    log = make_audit_log(20)
    log.line_of_leaf(0)["chain_previous"] = {"stream_version": 7, "event_hash": "00" * 32}
    assert verdict(log).intact


def test_a_wrong_node_is_a_tree_head_mismatch_and_a_missing_one_unusable() -> None:
    log = partial_export(make_audit_log(20), 7, 15)
    log.lines[0]["range"]["nodes"][0]["hash"] = "11" * 32
    problem = verdict(log).problem
    assert problem is not None
    assert problem.kind == TREE_HEAD_MISMATCH
    log.lines[0]["range"]["nodes"].pop(0)
    with pytest.raises(UnusableInput, match="cannot give a root"):
        verdict(log)


def test_a_range_of_another_tree_or_out_of_order_is_unusable() -> None:
    full = make_audit_log(20)
    log = partial_export(full, 7, 15)
    smaller = sign_tree_head(full.private_key, 19, root(full.leaf_hashes()[:19]), full.head.timestamp)
    with pytest.raises(UnusableInput, match="tree of 20 leaves, the tree head signs 19"):
        verify_export(parse_export(json.dumps(line) for line in log.lines), smaller, full.public_key_pem)
    moved = partial_export(full, 7, 15)
    moved.lines.append(moved.lines.pop(0))
    with pytest.raises(UnusableInput, match="range line must come first"):
        parse_export(json.dumps(line) for line in moved.lines)
    short = partial_export(full, 7, 15)
    short.lines[0]["range"]["to_leaf"] = 16
    problem = verdict(short).problem
    assert problem is not None
    assert problem.detail == "the export holds 8 leaves, the range holds 9"


def test_a_range_is_linked_to_a_previous_head_by_the_proof_only() -> None:
    old = make_audit_log(12)
    grown = make_audit_log(20, private_key=old.private_key)
    # the first 12 events of a log of 20 are the log of 12 (make_audit_log is deterministic per count prefix)
    assert grown.leaf_hashes()[:12] == old.leaf_hashes()
    log = partial_export(grown, 14, 20)
    with pytest.raises(UnusableInput, match="consistency proof only"):
        verdict(log, previous_head=old.head)
    proof = ConsistencyProof(12, 20, consistency_proof(InMemoryNodeSource(grown.leaf_hashes()), 12))
    assert verdict(log, previous_head=old.head, consistency=proof).intact
    forged = ConsistencyProof(12, 20, [b"\x00" * 32, *proof.consistency_path[1:]])
    problem = verdict(log, previous_head=old.head, consistency=forged).problem
    assert problem is not None
    assert problem.kind == "inconsistent"


def test_the_range_line_parses_into_its_nodes() -> None:
    log = partial_export(make_audit_log(20), 7, 15)
    opening = parse_export([json.dumps(log.lines[0])])[0]
    assert isinstance(opening, ExportRange)
    assert (opening.tree_size, opening.from_leaf, opening.to_leaf) == (20, 7, 15)
    assert set(opening.nodes) == set(range_nodes(20, 7, 15))
    for bad in ({"tree_size": 20, "from_leaf": 7, "to_leaf": 7, "nodes": []}, {"tree_size": 20}):
        with pytest.raises(UnusableInput, match="export line 1"):
            parse_export([json.dumps({"range": bad})])


def test_the_command_line_checks_a_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = partial_export(make_audit_log(20), 3, 11)
    paths = log.write(tmp_path)
    command = ["verify", "--export", str(paths["export"]), "--tree-head", str(paths["tree_head"])]
    assert main([*command, "--public-key", str(paths["public_key"])]) == 0
    assert capsys.readouterr().out.startswith("intact: 8 events, tree size 20")
