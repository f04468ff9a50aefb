"""docs/security.md names real tests: every pytest node id it cites is collected by pytest, and every risk of the
OWASP API Security Top 10 (2023) has a row citing at least one. (That the cited tests pass is for their own tiers
to show: the page's "How to check" runs them all.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "docs" / "security.md"
CITED = re.compile(r"`(tests/[^`\s]+\.py::[^`]+)`")
RISKS = [f"API{n}:2023" for n in range(1, 11)]


def _rows() -> dict[str, list[str]]:
    """Each risk's cited node ids."""
    rows: dict[str, list[str]] = {}
    for line in MATRIX.read_text(encoding="utf-8").splitlines():
        risk = re.match(r"\| \*\*(API\d+:2023) ", line)
        if risk:
            rows[risk.group(1)] = CITED.findall(line)
    return rows


@cache
def _collected() -> frozenset[str]:
    """The node ids pytest collects from every file the matrix cites that exists."""
    files = sorted({node.split("::")[0] for ids in _rows().values() for node in ids})
    present = [name for name in files if (ROOT / name).is_file()]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *present],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return frozenset(line.strip() for line in run.stdout.splitlines() if "::" in line)


def _is_collected(node: str) -> bool:
    """A node id names a collected test, or a parametrized function whose cases were collected."""
    collected = _collected()
    return node in collected or any(item.startswith(node + "[") for item in collected)


def test_every_risk_has_a_row_that_cites_tests() -> None:
    rows = _rows()
    assert list(rows) == RISKS, "one row per risk, in order"
    for risk, ids in rows.items():
        assert ids, f"{risk} cites no test"


def test_every_cited_node_id_is_collected() -> None:
    cited = [node for ids in _rows().values() for node in ids]
    assert len(cited) > 50, "the page cites far fewer tests than it did: is the pattern still right?"
    missing = [node for node in cited if not _is_collected(node)]
    assert missing == [], "docs/security.md cites tests pytest does not collect"
