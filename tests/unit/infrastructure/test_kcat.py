"""The vendored libserdes and kcat (ADR 0028): what is kept, and the hash that decides whether the build is redone.

The build itself runs in tests/integration/test_schema_registry.py (it needs Debian's libraries and a compiler)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eventledger_infra import kcat
from eventledger_infra.settings import Settings


def test_the_vendored_trees_hold_the_c_build_and_the_licences_only() -> None:
    libserdes, kcat_tree = kcat.SOURCES
    for tree in kcat.SOURCES:
        assert (tree / "LICENSE").is_file()
        assert (tree / "configure").stat().st_mode & 0o111, "configure must stay executable"
        assert (tree / "mklove" / "Makefile.base").is_file()
        for left_out in ("debian", "rpm", ".github", "tests", "win32", "src-cpp", "bootstrap.sh"):
            assert not (tree / left_out).exists(), f"{tree.name}/{left_out} is not needed by the C build"
    assert "Apache License" in (libserdes / "LICENSE").read_text()
    assert (libserdes / "src" / "serdes-avro.h").is_file()
    assert (kcat_tree / "avro.c").is_file()
    readme = (kcat.THIRD_PARTY / "README.md").read_text()
    assert "8cf97f7395bf5131d14bacfe896c6a5731b1f0c8" in readme, "the upstream commit of libserdes"
    assert "ab6ce814fa2e435359e77a1d3813853248679206" in readme, "the upstream commit of kcat"
    assert kcat.KCAT_VERSION.rsplit("-g", 1)[1] in "ab6ce814fa2e435359e77a1d3813853248679206"


def test_the_build_folder_is_keyed_by_the_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "third_party"
    for tree in kcat.SOURCES:
        shutil.copytree(tree, copy / tree.name)
    monkeypatch.setattr(kcat, "THIRD_PARTY", copy)
    monkeypatch.setattr(kcat, "SOURCES", tuple(copy / tree.name for tree in kcat.SOURCES))
    settings = Settings(cache_dir=tmp_path / "cache")
    first = kcat.home(settings)
    assert first.parent == settings.cache_dir
    assert first.name.startswith("kcat-")
    assert kcat.home(settings) == first, "an unchanged tree is the same build"
    avro_c = copy / "kcat" / "avro.c"
    avro_c.write_text(avro_c.read_text() + "\n")
    second = kcat.home(settings)
    assert second != first, "a changed source is built anew"
    avro_c.rename(copy / "kcat" / "avro2.c")
    assert kcat.home(settings) not in {first, second}, "so is a renamed one"
