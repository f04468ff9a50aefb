"""kcat with Avro/Schema-Registry support, built from the vendored sources in ``third_party/`` (ADR 0028).

Debian's kcat is built without libserdes ("This build of kcat lacks Avro/Schema-Registry support") and Debian has no
libserdes package, so this module builds both from ``third_party/libserdes`` (the C library only) and
``third_party/kcat`` against Debian's libavro, librdkafka, jansson, libcurl and yajl:

1. the Debian build dependencies (:data:`BUILD_PACKAGES`) are installed when missing (root, as for HAProxy);
2. both trees are copied to a work folder beside the target (mklove's ``configure`` writes into its tree);
3. libserdes: ``./configure --prefix=<target> --no-download`` (never ``--install-deps``: nothing is downloaded),
   ``make -C src lib install``; its shared library is then removed so that kcat links the static ``libserdes.a``
   and the binary needs nothing from the cache folder but itself;
4. kcat: ``./configure`` finds libserdes through pkg-config (``PKG_CONFIG_PATH`` names the target's
   ``lib/pkgconfig``), ``--enable-avro`` and ``--enable-json`` make a missing library a failure rather than a
   silently smaller kcat; ``LIBS`` adds what the static libserdes needs (jansson, libcurl). kcat's bundled-deps
   build (``bootstrap.sh``) is not used and not vendored.

The result goes to ``$EVENTLEDGER_CACHE_DIR/kcat-<hash>/bin/kcat``, where the hash covers the vendored sources and
this recipe: an unchanged tree is never rebuilt, a changed one is built beside the old. A lock file serialises
concurrent builds (two test sessions, an analyst's shell). ``python -m eventledger_infra kcat`` prints the path.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from eventledger_infra import artifacts
from eventledger_infra.process import ProvisioningError, run
from eventledger_infra.services.base import apt_install
from eventledger_infra.settings import PROJECT_ROOT, Settings

THIRD_PARTY = PROJECT_ROOT / "third_party"
SOURCES = (THIRD_PARTY / "libserdes", THIRD_PARTY / "kcat")
KCAT_VERSION = "1.7.1-11-gab6ce8"
"""What kcat's own build would print for the vendored commit (``git describe --abbrev=6 --tags``): its configure asks
git, which in a copy outside the upstream repository would give its default, the unreleased ``1.8.0``."""
BUILD_PACKAGES = (
    "build-essential",
    "pkg-config",
    "libavro-dev",
    "librdkafka-dev",
    "libjansson-dev",
    "libcurl4-openssl-dev",
    "libyajl-dev",
)
"""Debian packages the build needs: a C (and, for libserdes' configure, C++) compiler and make, pkg-config, and the
development files of the libraries libserdes and kcat link."""
FEATURES = ("JSON", "Avro")
"""What ``kcat -V`` must list for the build to count."""


def source_hash() -> str:
    """A hash of every vendored file (path and content) and of this recipe."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for tree in SOURCES:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(THIRD_PARTY)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def home(settings: Settings) -> Path:
    return settings.cache_dir / f"kcat-{source_hash()}"


def binary(settings: Settings) -> Path:
    return home(settings) / "bin" / "kcat"


def missing_packages() -> list[str]:
    """The build packages dpkg does not report as installed (all of them where there is no dpkg)."""
    if shutil.which("dpkg-query") is None:
        return list(BUILD_PACKAGES)
    missing = []
    for package in BUILD_PACKAGES:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        ).stdout
        if "install ok installed" not in status:
            missing.append(package)
    return missing


def ensure(settings: Settings) -> Path:
    """The path of a kcat with Avro support, built first when this source tree has not been built yet."""
    target = home(settings)
    if (target / artifacts.MARKER).exists():
        return target / "bin" / "kcat"
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same tree: wait for it
        if not (target / artifacts.MARKER).exists():
            missing = missing_packages()
            if missing:
                apt_install(missing, "kcat with Avro support (its build)")
            began = time.monotonic()
            print(f"  kcat: building libserdes and kcat into {target} (about 20 s)", file=sys.stderr)
            artifacts.materialise(target, _build, "kcat")
            print(f"  kcat: built in {time.monotonic() - began:.0f} s", file=sys.stderr)
    return target / "bin" / "kcat"


def features(kcat: Path) -> str:
    """The version line of ``kcat -V`` (``Version 1.7.1-11-gab6ce8 (JSON, Avro, …, librdkafka 2.0.2 …)``)."""
    output = run([kcat, "-V"], "kcat -V")
    return next((line for line in output.splitlines() if line.startswith("Version ")), output.strip())


def _build(prefix: Path) -> None:
    work = prefix.with_name(prefix.name + ".build")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for tree in SOURCES:
        shutil.copytree(tree, work / tree.name)
    env = {
        **os.environ,
        "PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig"),
        # mklove's gitversion asks git: keep it from describing the repository the cache folder lies in.
        "GIT_CEILING_DIRECTORIES": str(work),
        "LC_ALL": "C",
    }
    configure = ["./configure", f"--prefix={prefix}", "--no-download", "--no-cache"]
    libserdes, kcat = work / "libserdes", work / "kcat"
    run(configure, "libserdes: configure", cwd=libserdes, env=env)
    run(["make", "-C", "src", "lib"], "libserdes: make", cwd=libserdes, env=env)
    run(["make", "-C", "src", "install"], "libserdes: make install", cwd=libserdes, env=env)
    for shared in (prefix / "lib").glob("libserdes.so*"):
        shared.unlink()  # kcat links the static library: the binary does not depend on this folder
    kcat_env = {**env, "LIBS": "-ljansson -lcurl"}
    run([*configure, "--enable-avro", "--enable-json"], "kcat: configure", cwd=kcat, env=kcat_env)
    config_h = kcat / "config.h"
    config_h.write_text(config_h.read_text().replace('KCAT_VERSION "1.8.0"', f'KCAT_VERSION "{KCAT_VERSION}"'))
    run(["make", "kcat"], "kcat: make", cwd=kcat, env=kcat_env)
    run(["make", "bin-install"], "kcat: make install", cwd=kcat, env=kcat_env)
    line = features(prefix / "bin" / "kcat")
    listed = [item.strip() for item in line.partition("(")[2].split(",")]
    lacking = [feature for feature in FEATURES if feature not in listed]
    if lacking:
        raise ProvisioningError(f"kcat was built without {', '.join(lacking)}: {line}")
    shutil.rmtree(work, ignore_errors=True)
