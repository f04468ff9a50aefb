"""The tools that render and scan the Kubernetes manifests in ``deploy/kubernetes/`` (ADR 0031), provisioned on
demand like HAProxy and Prometheus, so that a fresh machine running the tests gets them.

- **kustomize**: ``kubectl kustomize`` when kubectl is installed (it carries kustomize, and renders offline);
  otherwise the ``kustomize`` program built once from its Go module (:data:`KUSTOMIZE_MODULE`) with the machine's
  Go toolchain, its binary and module cache kept under the cache folder.
- **checkov**: in a virtualenv of its own under the cache folder, never in the project's: its pins (``packaging``,
  ``python-dateutil`` among some sixty dependencies) would move packages the project resolved for itself.

Standard library only, like the rest of the provisioning tool.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from eventledger_infra.process import ProvisioningError, run

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = PROJECT_ROOT / "deploy" / "kubernetes"
OVERLAYS = ("development", "production")

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.7.1"
CHECKOV_VERSION = "3.3.30"


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One installer at a time per cache folder: two test runs sharing it wait for each other, never half-install."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def kustomize_command(cache_dir: Path) -> list[str]:
    """The command that renders a kustomization directory given as its last argument."""
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        return [kubectl, "kustomize"]
    home = cache_dir / "kustomize" / KUSTOMIZE_VERSION
    binary = home / "bin" / "kustomize"
    with _exclusive(cache_dir / "kustomize" / ".lock"):
        if not binary.exists():
            _build_kustomize(home)
    return [str(binary), "build"]


def _build_kustomize(home: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise ProvisioningError(
            "rendering the Kubernetes manifests needs kubectl, or Go to build kustomize "
            f"({KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}); neither is installed"
        )
    env = {
        **os.environ,
        "GOBIN": str(home / "bin"),
        "GOPATH": str(home / "gopath"),
        "GOFLAGS": "-modcacherw",  # a module cache the cache folder's owner can delete
    }
    run([go, "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"], "building kustomize", env=env, timeout=900)


def render(overlay: str, cache_dir: Path) -> str:
    """The whole rendered output of one overlay (a multi-document YAML stream)."""
    if overlay not in OVERLAYS:
        raise ProvisioningError(f"no overlay {overlay!r}: one of {', '.join(OVERLAYS)}")
    return run([*kustomize_command(cache_dir), str(MANIFESTS / "overlays" / overlay)], f"rendering {overlay}")


def checkov(cache_dir: Path) -> Path:
    """The ``checkov`` program of its own virtualenv, made when missing (a marker file says the install finished)."""
    home = cache_dir / f"checkov-{CHECKOV_VERSION}"
    binary, done = home / "bin" / "checkov", home / ".installed"
    with _exclusive(cache_dir / f"checkov-{CHECKOV_VERSION}.lock"):
        if done.exists() and binary.exists():
            return binary
        shutil.rmtree(home, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(home)], "creating checkov's virtualenv")
        run(
            [home / "bin" / "python", "-m", "pip", "install", "-q", f"checkov=={CHECKOV_VERSION}"],
            "installing checkov",
            timeout=1800,
        )
        done.write_text(f"checkov=={CHECKOV_VERSION}\n")
    return binary
