"""The tests import shared code only from ``tests/support``: no test module (nor conftest) imports another, so that
moving or deleting a test never breaks a test elsewhere, and a tier never depends on the folders of another."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_test_modules(path: Path) -> list[str]:
    """The ``tests.*`` modules ``path`` imports that are not under ``tests.support``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            names = [f"(relative) {'.' * node.level}{node.module or ''}"]
        found += [name for name in names if name.startswith(("tests.", "(relative)")) and not _support(name)]
    return found


def _support(name: str) -> bool:
    return name == "tests.support" or name.startswith("tests.support.")


def test_tests_and_benchmarks_import_shared_code_from_tests_support_only() -> None:
    offenders = {
        str(path.relative_to(ROOT)): modules
        for folder in ("tests", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (modules := imported_test_modules(path))
    }
    assert offenders == {}


def test_the_check_sees_an_import_of_another_test_module(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        "from tests.support.servers import Endpoints\n"
        "from tests.unit.gateway.conftest import bearer\n"
        "import tests.integration.projections.rig\n"
        "from .helpers import make\n"
    )
    assert imported_test_modules(module) == [
        "tests.unit.gateway.conftest",
        "tests.integration.projections.rig",
        "(relative) .helpers",
    ]
