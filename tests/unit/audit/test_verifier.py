"""The offline verifier on exports built in memory: intact, each tamper named at its place, a rewritten past caught
by the previous tree head, and unusable input refused with a message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.support.audit_log import (
    AuditLog,
    delete_row,
    edit_payload,
    export_of,
    insert_row,
    make_audit_log,
    make_events,
    rehash,
    rewrite_past,
    sign,
    swap_rows,
)

from eventledger_events import audit
from eventledger_events.audit import (
    ALTERED,
    BAD_SIGNATURE,
    INCONSISTENT,
    INSERTED,
    MISSING,
    REORDERED,
    TREE_HEAD_MISMATCH,
    ConsistencyProof,
    InMemoryNodeSource,
    Verdict,
    consistency_proof,
    parse_export,
    sign_tree_head,
    verify_export,
)
from eventledger_events.audit.__main__ import main


def verdict(log: AuditLog, **options: object) -> Verdict:
    lines = parse_export(json.dumps(line) for line in log.lines)
    return verify_export(lines, log.head, log.public_key_pem, **options)  # type: ignore[arg-type]


def where(result: Verdict) -> tuple[str | None, int | None, int | None, str | None, int | None]:
    problem = result.problem
    assert problem is not None, result.describe()
    return problem.kind, problem.leaf_index, problem.position, problem.stream_id, problem.stream_version


def event_of(log: AuditLog, leaf: int) -> dict[str, object]:
    event = log.line_of_leaf(leaf)["event"]
    assert isinstance(event, dict)
    return event


def test_an_untouched_log_is_intact() -> None:
    log = make_audit_log(12)
    result = verdict(log)
    assert result.intact
    assert result.describe() == f"intact: 12 events, tree size 12, root {log.head.root_hash.hex()}"


def test_an_empty_log_is_intact() -> None:
    log = make_audit_log(0)
    assert verdict(log).describe().startswith("intact: 0 events, tree size 0, root e3b0c442")


def test_an_edited_payload_is_altered_at_exactly_that_event() -> None:
    log = make_audit_log(12)
    edited = dict(event_of(log, 6))
    edit_payload(log, 6)
    assert where(verdict(log)) == (ALTERED, 6, edited["position"], edited["stream_id"], edited["stream_version"])


def test_an_edit_that_also_rewrites_the_event_hash_is_altered_at_that_event() -> None:
    log = make_audit_log(12)
    edit_payload(log, 6)
    log.line_of_leaf(6)["event"] = rehash([event_of(log, 6)])[0]  # a fresh hash, the stream's chain ignored
    assert where(verdict(log))[:2] == (ALTERED, 6)
    assert "not the notarized one" in verdict(log).describe()


def test_a_deleted_row_is_missing_at_its_leaf() -> None:
    log = make_audit_log(12)
    position = log.line_of_leaf(4)["position"]
    delete_row(log, 4)
    assert where(verdict(log)) == (MISSING, 4, position, None, None)


def test_an_inserted_row_is_inserted_at_its_position() -> None:
    log = make_audit_log(12)
    position = insert_row(log, after_leaf=5)
    assert where(verdict(log)) == (INSERTED, None, position, "account-9999", 1)


def test_a_row_inserted_after_the_last_leaf_waits_for_the_notary() -> None:
    log = make_audit_log(12)
    insert_row(log, after_leaf=11)
    assert verdict(log).intact


def test_two_swapped_rows_are_reordered_at_the_first_of_them() -> None:
    log = make_audit_log(12)
    moved = event_of(log, 8)
    position = log.line_of_leaf(3)["position"]
    swap_rows(log, 3, 8)
    result = verdict(log)
    assert where(result) == (REORDERED, 3, position, moved["stream_id"], moved["stream_version"])
    assert "notarized at leaf 8" in result.describe()


def test_a_leaf_whose_row_stands_elsewhere_is_reordered() -> None:
    log = make_audit_log(12)
    fifth, sixth = log.line_of_leaf(5), log.line_of_leaf(6)
    fifth["position"], sixth["position"] = sixth["position"], fifth["position"]
    result = verdict(log)
    assert where(result)[:3] == (REORDERED, 5, fifth["position"])
    assert f"stands at position {sixth['position']}" in result.describe()


def test_positions_that_go_back_in_leaf_order_are_reordered() -> None:
    log = make_audit_log(12)
    sixth = log.line_of_leaf(6)
    sixth["position"] = sixth["event"]["position"] = 4
    result = verdict(log)
    assert where(result)[:3] == (REORDERED, 6, 4)
    assert "does not follow" in result.describe()


def test_a_stream_version_gap_in_the_notarized_log_is_missing() -> None:
    key = Ed25519PrivateKey.generate()
    events = make_events(9)
    gap = events[4]  # account-0002 version 2, deleted before the notary saw it
    lines = export_of(rehash([event for event in events if event is not gap]))
    log = AuditLog(lines, sign(lines, key), key)
    follower = event_of(log, 6)
    assert (follower["stream_id"], follower["stream_version"]) == (gap["stream_id"], 3)
    assert where(verdict(log)) == (MISSING, 6, follower["position"], gap["stream_id"], 3)


def test_a_repeated_stream_version_in_the_notarized_log_is_inserted() -> None:
    key = Ed25519PrivateKey.generate()
    events = make_events(9)
    events[7] = {**events[7], "stream_version": events[4]["stream_version"]}
    lines = export_of(rehash(events))
    log = AuditLog(lines, sign(lines, key), key)
    assert where(verdict(log))[:2] == (INSERTED, 7)


def test_leaves_beyond_the_tree_head_are_left_for_a_later_head() -> None:
    log = make_audit_log(12)
    ten = [line for line in log.lines if line["leaf_index"] < 10]
    log.head = sign(ten, log.private_key)
    assert verdict(log).describe().startswith("intact: 10 events, tree size 10")


def test_a_head_signed_by_another_key_is_a_bad_signature() -> None:
    log = make_audit_log(6)
    log.head = sign(log.lines, Ed25519PrivateKey.generate())
    result = verdict(log)
    assert where(result)[0] == BAD_SIGNATURE
    assert result.describe() == "bad signature: the tree head is not signed by this key"


def test_leaves_that_do_not_give_the_signed_root_are_a_tree_head_mismatch() -> None:
    log = make_audit_log(6)
    log.head = sign_tree_head(log.private_key, 6, bytes(32), log.head.timestamp)
    assert where(verdict(log))[0] == TREE_HEAD_MISMATCH
    log = make_audit_log(6)
    log.lines.pop()
    assert verdict(log).describe() == "tree head mismatch: the export holds 5 leaves, the tree head signs 6"


def test_a_notary_leaf_changed_with_its_row_is_caught() -> None:
    log = make_audit_log(8)
    edit_payload(log, 2)
    rehashed = export_of(rehash([line["event"] for line in log.lines]))
    log.lines[2:] = rehashed[2:]  # rows and leaves from 2 on made anew, the old head kept
    assert where(verdict(log))[0] == TREE_HEAD_MISMATCH


def test_an_honest_extension_is_consistent_with_the_previous_head() -> None:
    log = make_audit_log(12)
    old = sign([line for line in log.lines if line["leaf_index"] < 7], log.private_key)
    proof = consistency_proof(InMemoryNodeSource(log.leaf_hashes()), 7)
    result = verdict(log, previous_head=old, consistency=ConsistencyProof(7, 12, proof))
    assert result.intact, result.describe()


def test_a_rewritten_past_is_caught_by_the_consistency_proof_against_the_old_head() -> None:
    log = make_audit_log(12)
    forged = rewrite_past(log, leaf=2)
    assert verdict(forged).intact  # internally consistent: the export alone cannot tell
    proof = consistency_proof(InMemoryNodeSource(forged.leaf_hashes()), 12, 12)
    result = verdict(forged, previous_head=log.head, consistency=ConsistencyProof(12, 12, proof))
    assert where(result)[0] == INCONSISTENT
    assert "consistency proof does not link" in result.describe()


def test_a_rewritten_and_extended_past_is_caught_with_or_without_a_proof() -> None:
    log = make_audit_log(9)
    forged = rewrite_past(make_audit_log(14, log.private_key), leaf=2)
    proof = ConsistencyProof(9, 14, consistency_proof(InMemoryNodeSource(forged.leaf_hashes()), 9))
    assert "consistency proof does not link" in verdict(forged, previous_head=log.head, consistency=proof).describe()
    assert "the past changed" in verdict(forged, previous_head=log.head).describe()


# ---------------------------------------------------------------- the command line


def run(log: AuditLog, folder: Path, *extra: str) -> list[str]:
    paths = log.write(folder)
    return [
        "verify",
        "--export",
        str(paths["export"]),
        "--tree-head",
        str(paths["tree_head"]),
        "--public-key",
        str(paths["public_key"]),
        *extra,
    ]


def test_the_command_line_says_intact_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = make_audit_log(12)
    assert main(run(log, tmp_path)) == 0
    assert capsys.readouterr().out == f"intact: 12 events, tree size 12, root {log.head.root_hash.hex()}\n"


def test_the_command_line_names_the_first_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = make_audit_log(12)
    event = event_of(log, 6)
    edit_payload(log, 6)
    assert main(run(log, tmp_path)) == 1
    assert capsys.readouterr().out == (
        f"altered: event at position {event['position']} (stream {event['stream_id']}, version "
        f"{event['stream_version']}, leaf 6): its content does not give its event hash\n"
    )


def test_the_command_line_checks_a_previous_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = make_audit_log(12)
    forged = rewrite_past(log, leaf=2)
    (tmp_path / "old.json").write_text(log.head.encode())
    proof = consistency_proof(InMemoryNodeSource(forged.leaf_hashes()), 12)
    (tmp_path / "proof.json").write_text(json.dumps(ConsistencyProof(12, 12, proof).to_json()))
    extra = ("--previous-tree-head", str(tmp_path / "old.json"), "--consistency-proof", str(tmp_path / "proof.json"))
    assert main(run(forged, tmp_path, *extra)) == 1
    assert capsys.readouterr().out.startswith("inconsistent: the consistency proof does not link")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda paths: paths["export"].unlink(), "cannot be read"),
        (lambda paths: paths["export"].write_text('{"leaf_index": 0\n'), "export line 1"),
        (lambda paths: paths["export"].write_bytes(b"\xff\xfe"), "cannot be read"),
        (lambda paths: paths["export"].write_text('{"leaf_index": 0, "position": 1}\n'), "missing leaf_hash"),
        (lambda paths: paths["tree_head"].write_text("{}"), "not a signed tree head"),
        (lambda paths: paths["public_key"].write_text("-----BEGIN nothing"), "not an Ed25519 public key"),
        (lambda paths: _drop_line(paths["export"], 0), "leaf 1 where leaf 0 belongs"),
        (
            lambda paths: paths["export"].write_text(
                f'{{"leaf_index":0,"position":{2**64},"leaf_hash":"{"0" * 64}","event":null}}\n'
            ),
            "not a 64-bit integer",
        ),
    ],
    ids=["no file", "bad json", "not utf-8", "missing field", "bad tree head", "bad key", "partial export", "huge"],
)
def test_unusable_input_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: object, message: str
) -> None:
    log = make_audit_log(5)
    argv = run(log, tmp_path)
    damage(log.write(tmp_path))  # type: ignore[operator]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("unusable input: ")
    assert message in captured.err


def _drop_line(path: Path, index: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    del lines[index]
    path.write_text("".join(lines))


def test_the_module_runs_as_a_program(tmp_path: Path) -> None:
    log = make_audit_log(4)
    delete_row(log, 2)
    program = [sys.executable, "-m", "eventledger_events.audit"]
    done = subprocess.run([*program, *run(log, tmp_path)], check=False, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("missing: event at position")
    broken = subprocess.run(
        [
            sys.executable,
            "-m",
            "eventledger_events.audit",
            "verify",
            "--export",
            str(tmp_path / "none.jsonl"),
            "--tree-head",
            str(tmp_path / "sth.json"),
            "--public-key",
            str(tmp_path / "key.pem"),
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert broken.returncode == 2
    assert "Traceback" not in broken.stderr


def test_an_auditor_runs_a_copy_of_the_package_without_the_rest_of_ours(tmp_path: Path) -> None:
    # The copy under another name, with pydantic, fastavro, orjson and eventledger_events made unimportable.
    shutil.copytree(Path(audit.__file__).parent, tmp_path / "ledger_audit")
    log = make_audit_log(6)
    edit_payload(log, 4)
    blocked = "import sys; sys.modules.update(dict.fromkeys(['pydantic', 'fastavro', 'orjson', 'eventledger_events']))"
    script = f"{blocked}; import runpy; runpy.run_module('ledger_audit', run_name='__main__', alter_sys=True)"
    done = subprocess.run(
        [sys.executable, "-c", script, *run(log, tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": os.environ.get("PATH", "")},
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("altered: event at position")
