"""Container images without Docker and without a registry (ADR 0030): buildah builds, podman runs.

* The base, ``localhost/debian-base:bookworm``, is made from Debian packages: ``mmdebstrap --variant=minbase`` writes
  a root file system tarball into the cache folder (made once), ``podman import`` turns it into an image.
* ``localhost/eventledger:<version>`` (the root pyproject's version) is built from the repository's ``Dockerfile``
  with ``buildah bud --format docker`` (the OCI format has no HEALTHCHECK) and the ``runc`` runtime (crun refuses
  this host's hybrid cgroups). pip's downloads are cached in the cache folder. The image carries a label with a
  hash of what goes into it: :func:`build` skips the build when the image exists with the same hash.
* Running needs ``--runtime runc`` and explicit ulimits here (:data:`RUN_FLAGS`; without them crun or runc cannot
  set RLIMIT_NOFILE); :func:`containers_conf` writes the same settings for podman's Docker-compatible service.

buildah, podman, runc and mmdebstrap come from Debian's packages, installed when missing (needs root, like HAProxy).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

from eventledger_infra.process import ProvisioningError, run
from eventledger_infra.services.base import apt_install
from eventledger_infra.settings import PROJECT_ROOT, Settings

TOOLS = {"buildah": "buildah", "podman": "podman", "runc": "runc", "mmdebstrap": "mmdebstrap"}
"""Each binary and the Debian package that brings it."""
SUITE = "bookworm"
BASE_IMAGE = f"localhost/debian-base:{SUITE}"
IMAGE_NAME = "localhost/eventledger"
SOURCE_HASH_LABEL = "org.eventledger.source-hash"
ULIMITS = ("nofile=20000:20000", "nproc=32768:32768")
RUN_FLAGS = ("--runtime", "runc", *(flag for limit in ULIMITS for flag in ("--ulimit", limit)))
"""What ``podman run`` needs on this host (INFRA-NOTES: crun fails on hybrid cgroups, and without explicit ulimits
the runtime cannot set RLIMIT_NOFILE)."""
IMAGE_SOURCES = (
    "Dockerfile",
    ".containerignore",
    "pyproject.toml",
    "events",
    "infrastructure",
    "command-side",
    "query-side",
    "projections",
    "gateway",
)
"""What the Dockerfile copies (and the Dockerfile itself): a change to any of them makes :func:`build` rebuild."""
_SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "build"}


BUILD_CA_BUNDLE = "/run/eventledger-host-ca.pem"
"""Where the build stage finds the host's certificate authorities (pip trusts them through ``PIP_CERT``): a host
behind a TLS-inspecting proxy trusts that proxy's authority, which the Debian base does not know. Only the build
stage sees it; the runtime image keeps Debian's authorities."""


def host_ca_bundle() -> Path:
    """The authorities this host's pip trusts: ``PIP_CERT``, ``SSL_CERT_FILE`` or OpenSSL's default file."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        ssl.get_default_verify_paths().cafile,
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ProvisioningError("no certificate authority bundle found for the image build (set PIP_CERT or SSL_CERT_FILE)")


def version() -> str:
    return str(tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"])


def reference() -> str:
    """``localhost/eventledger:<version>``: the name docker-compose.yml and the deployment manifests use."""
    return f"{IMAGE_NAME}:{version()}"


def ensure_tools() -> None:
    """buildah, podman, runc and mmdebstrap, installed from Debian's packages when one is missing."""
    missing = [package for binary, package in TOOLS.items() if shutil.which(binary) is None]
    if missing:
        apt_install(missing, "container images (buildah, podman, runc, mmdebstrap)")


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], capture_output=True, check=False).returncode == 0


def image_label(name: str, label: str) -> str | None:
    if not image_exists(name):
        return None
    template = '{{index .Labels "' + label + '"}}'
    value = run(["podman", "image", "inspect", "--format", template, name], f"podman image inspect {name}").strip()
    return None if value in {"", "<no value>"} else value


def base_rootfs(settings: Settings) -> Path:
    """The Debian root file system tarball (``mmdebstrap --variant=minbase``), made once into the cache folder."""
    tarball = settings.cache_dir / "images" / f"debian-{SUITE}-minbase.tar"
    if tarball.exists():
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_name(tarball.name + ".partial")
    partial.unlink(missing_ok=True)
    print(f"  debian base      mmdebstrap --variant=minbase {SUITE} (once; cached in {tarball.parent})")
    run(["mmdebstrap", "--variant=minbase", "--format=tar", "--quiet", SUITE, partial], "mmdebstrap")
    partial.rename(tarball)
    return tarball


def ensure_base(settings: Settings) -> str:
    """``localhost/debian-base:bookworm``, imported from the cached root file system when missing."""
    if not image_exists(BASE_IMAGE):
        tarball = base_rootfs(settings)
        run(["podman", "import", tarball, BASE_IMAGE], f"podman import {tarball.name}")
    return BASE_IMAGE


def _source_files(root: Path) -> Iterator[Path]:
    for name in IMAGE_SOURCES:
        top = root / name
        if top.is_file():
            yield top
            continue
        for path in sorted(top.rglob("*")):
            relative = path.relative_to(root).parts
            if (
                path.is_file()
                and path.suffix != ".pyc"
                and not _SKIPPED_PARTS.intersection(relative)
                and not any(part.endswith(".egg-info") for part in relative)
            ):
                yield path


def source_hash(root: Path = PROJECT_ROOT) -> str:
    """SHA-256 over the path and content of every file the image is built from."""
    digest = hashlib.sha256()
    for path in sorted(_source_files(root)):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build(settings: Settings, force: bool = False) -> str:
    """Build ``localhost/eventledger:<version>`` unless it exists with the same source hash; answers its name."""
    pip_cache = settings.cache_dir / "images" / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    extra = [
        "--volume",
        f"{pip_cache}:/root/.cache/pip:rw",
        "--volume",
        f"{host_ca_bundle()}:{BUILD_CA_BUNDLE}:ro",
        "--build-arg",
        f"PIP_CERT={BUILD_CA_BUNDLE}",
    ]
    return _build(settings, reference(), PROJECT_ROOT / "Dockerfile", PROJECT_ROOT, source_hash(), extra, force)


POSTGRES_IMAGE = "localhost/eventledger-postgres:15"
POSTGRES_CONTEXT = PROJECT_ROOT / "infrastructure" / "images" / "postgres"


def build_postgres(settings: Settings, force: bool = False) -> str:
    """``localhost/eventledger-postgres:15``: PostgreSQL from Debian's packages with the official image's interface,
    for the tests' testcontainers path where no registry serves ``postgres:15``."""
    digest = hashlib.sha256()
    for path in sorted(POSTGRES_CONTEXT.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    context = POSTGRES_CONTEXT
    return _build(settings, POSTGRES_IMAGE, context / "Dockerfile", context, digest.hexdigest(), [], force)


def _build(
    settings: Settings, name: str, dockerfile: Path, context: Path, wanted: str, extra: list[str], force: bool
) -> str:
    """``buildah bud`` on the Debian base, skipped when ``name`` exists labelled with the same ``wanted`` hash."""
    ensure_tools()
    base = ensure_base(settings)
    if not force and image_label(name, SOURCE_HASH_LABEL) == wanted:
        print(f"  {name:<34} up to date (sources {wanted[:12]})")
        return name
    began = time.monotonic()
    command: list[str | Path] = [
        "buildah",
        "bud",
        "--format",
        "docker",  # the OCI format has no HEALTHCHECK
        "--runtime",
        "runc",
        *(flag for limit in ULIMITS for flag in ("--ulimit", limit)),
        "--network",
        "host",
        "--layers",
        *extra,
        "--build-arg",
        f"BASE={base}",
        "--label",
        f"{SOURCE_HASH_LABEL}={wanted}",
        "--tag",
        name,
        "--file",
        dockerfile,
        context,
    ]
    print(f"  {name:<34} building (buildah bud; the first build takes minutes)")
    run(command, f"buildah bud {name}")
    print(f"  {name:<34} built in {time.monotonic() - began:.0f} s (sources {wanted[:12]})")
    return name
