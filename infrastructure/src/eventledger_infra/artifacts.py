"""Maven Central artifacts (Kafka, Elasticsearch, Apicurio Registry) copied into the cache folder by `mvn`.

Maven's local repository (~/.m2) is the download cache; the project's cache folder holds the unpacked result.
A folder is complete only once its marker file exists: an interrupted copy is thrown away and made again, and a
corrupt archive in ~/.m2 is deleted so that Maven fetches it anew.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from eventledger_infra.process import ProvisioningError, run
from eventledger_infra.settings import PROJECT_ROOT, Settings

MARKER = ".complete"
MAVEN_REPOSITORY = Path.home() / ".m2" / "repository"


def pom(settings: Settings, name: str) -> Path:
    return PROJECT_ROOT / "infrastructure" / "local" / "maven" / name / "pom.xml"


def corrupt_archives(folder: Path) -> list[Path]:
    """Archives (.jar, .zip) under ``folder`` whose entries fail their CRC check or that are not archives."""
    bad = []
    for archive in [*folder.rglob("*.jar"), *folder.rglob("*.zip")]:
        try:
            with zipfile.ZipFile(archive) as zf:
                if zf.testzip() is not None:
                    bad.append(archive)
        except (zipfile.BadZipFile, OSError):
            bad.append(archive)
    return bad


def forget_in_maven_cache(names: list[str]) -> None:
    for name in names:
        for cached in MAVEN_REPOSITORY.rglob(name):
            cached.unlink()


def materialise(target: Path, fetch: Callable[[Path], None], what: str) -> Path:
    """Make ``target`` by ``fetch(staging)`` unless it is already complete; retry once after a corrupt download."""
    if (target / MARKER).exists():
        return target
    staging = target.with_name(target.name + ".partial")
    for attempt in (1, 2):
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        fetch(staging)
        bad = corrupt_archives(staging)
        if not bad:
            break
        forget_in_maven_cache([b.name for b in bad])
        if attempt == 2:
            raise ProvisioningError(
                f"{what}: corrupt download even after fetching again: {', '.join(b.name for b in bad)}"
            )
        print(f"  {what}: corrupt download ({', '.join(b.name for b in bad)}); fetching it again")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    (target / MARKER).write_text("ok\n")
    return target


def mvn(settings: Settings, pom_name: str, goals: list[str], what: str) -> None:
    if shutil.which("mvn") is None:
        raise ProvisioningError(f"{what}: Maven (mvn) is not installed; `apt-get install maven` brings it.")
    run(["mvn", "-q", "-B", "-f", pom(settings, pom_name), *goals], f"{what}: mvn {' '.join(goals)}")


def mvn_in(folder: Path, arguments: list[str]) -> None:
    """Run Maven in ``folder`` (a module copied to a staging folder, built there)."""
    if shutil.which("mvn") is None:
        raise ProvisioningError("Apicurio Registry: Maven (mvn) is not installed; `apt-get install maven` brings it.")
    run(["mvn", "-q", "-B", *arguments], f"mvn {' '.join(a for a in arguments if not a.startswith('-'))}", cwd=folder)
