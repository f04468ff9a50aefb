"""``python -m eventledger_events.audit verify --export log.jsonl --tree-head sth.json --public-key key.pem``.

Prints ``intact: ...`` and exits 0, or prints the first problem and exits 1; unusable input (a file that cannot be
read, text that is not of the contract's form) exits 2 with a message on standard error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .tree_head import MalformedTreeHead, TreeHead, load_public_key, parse_tree_head
from .verify import ConsistencyProof, UnusableInput, Verdict, parse_consistency_proof, parse_export, verify_export

INTACT, PROBLEM, UNUSABLE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventledger_events.audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check an export of the log against a signed tree head")
    verify.add_argument("--export", required=True, type=Path, help="the export, JSON lines in leaf order")
    verify.add_argument("--tree-head", required=True, type=Path, help="the signed tree head (JSON)")
    verify.add_argument("--public-key", required=True, type=Path, help="the notary's Ed25519 public key (PEM)")
    verify.add_argument("--previous-tree-head", type=Path, help="an older signed tree head the log must extend")
    verify.add_argument("--consistency-proof", type=Path, help="the proof from the older tree head to the new one")
    arguments = parser.parse_args(argv)
    try:
        verdict = _run(arguments)
    except UnusableInput as error:
        print(f"unusable input: {error}", file=sys.stderr)
        return UNUSABLE
    print(verdict.describe())
    return INTACT if verdict.intact else PROBLEM


def _run(arguments: argparse.Namespace) -> Verdict:
    if arguments.consistency_proof is not None and arguments.previous_tree_head is None:
        raise UnusableInput("--consistency-proof needs --previous-tree-head")
    head = _tree_head(arguments.tree_head)
    try:
        key = load_public_key(_read(arguments.public_key).encode("utf-8"))
    except (ValueError, TypeError) as error:
        raise UnusableInput(f"{arguments.public_key}: not an Ed25519 public key ({error})") from error
    previous = None if arguments.previous_tree_head is None else _tree_head(arguments.previous_tree_head)
    proof: ConsistencyProof | None = None
    if arguments.consistency_proof is not None:
        proof = parse_consistency_proof(_read(arguments.consistency_proof))
    try:
        lines = parse_export(_read(arguments.export).splitlines())
    except UnusableInput as error:
        raise UnusableInput(f"{arguments.export}: {error}") from error
    return verify_export(lines, head, key, previous_head=previous, consistency=proof)


def _tree_head(path: Path) -> TreeHead:
    try:
        return parse_tree_head(_read(path))
    except MalformedTreeHead as error:
        raise UnusableInput(f"{path}: not a signed tree head ({error})") from error


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UnusableInput(f"{path}: cannot be read ({error})") from error


if __name__ == "__main__":
    sys.exit(main())
