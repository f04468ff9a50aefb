"""Downloads: a second run fetches nothing, a half-finished copy is redone, a corrupt archive is fetched again."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from eventledger_infra import artifacts
from eventledger_infra.process import ProvisioningError


def _good_jar(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")


class Fetcher:
    def __init__(self, corrupt_times: int = 0) -> None:
        self.calls = 0
        self.corrupt_times = corrupt_times

    def __call__(self, staging: Path) -> None:
        self.calls += 1
        jar = staging / "libs" / "kafka.jar"
        jar.parent.mkdir(parents=True)
        if self.calls <= self.corrupt_times:
            jar.write_bytes(b"PK\x03\x04 truncated")
        else:
            _good_jar(jar)


@pytest.fixture(autouse=True)
def _no_maven_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(artifacts, "MAVEN_REPOSITORY", tmp_path / "m2")


def test_second_materialise_fetches_nothing(tmp_path: Path) -> None:
    fetch = Fetcher()
    target = tmp_path / "kafka-4.1.1"
    artifacts.materialise(target, fetch, "Kafka")
    artifacts.materialise(target, fetch, "Kafka")
    assert fetch.calls == 1
    assert (target / "libs" / "kafka.jar").exists()


def test_an_interrupted_copy_without_marker_is_redone(tmp_path: Path) -> None:
    target = tmp_path / "kafka-4.1.1"
    (target / "libs").mkdir(parents=True)
    (target / "libs" / "half.jar").write_bytes(b"")
    fetch = Fetcher()
    artifacts.materialise(target, fetch, "Kafka")
    assert fetch.calls == 1
    assert not (target / "libs" / "half.jar").exists()


def test_a_corrupt_download_is_forgotten_in_the_maven_cache_and_fetched_again(tmp_path: Path) -> None:
    cached = tmp_path / "m2" / "org" / "apache" / "kafka" / "kafka.jar"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    fetch = Fetcher(corrupt_times=1)
    artifacts.materialise(tmp_path / "kafka", fetch, "Kafka")
    assert fetch.calls == 2
    assert not cached.exists()


def test_a_download_that_stays_corrupt_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ProvisioningError, match=r"corrupt download even after fetching again: kafka\.jar"):
        artifacts.materialise(tmp_path / "kafka", Fetcher(corrupt_times=2), "Kafka")
    assert not (tmp_path / "kafka" / artifacts.MARKER).exists()
