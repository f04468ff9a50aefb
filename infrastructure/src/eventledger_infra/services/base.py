"""The contract every locally provisioned server fulfils."""

from __future__ import annotations

import shutil
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path

from eventledger_infra.process import ProvisioningError, is_root, read_pid
from eventledger_infra.settings import JVM_DIR, Settings, java_home


class LocalServer(ABC):
    """A server that runs as a local process with its state under ``settings.state_dir / name``.

    Contract:
    - ``install()`` is idempotent: a second call downloads nothing; a half-finished install is repaired.
    - ``start()`` refuses a port taken by a foreign process, does nothing when already running, and returns only
      once ``ready()`` is true (or raises :class:`ProvisioningError` with the tail of the server's log).
    - ``ready()`` asks the server a real question.
    - ``stop()`` stops the process named by the server's own pid file, never by process name.
    """

    name: str
    start_timeout: float = 90.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = settings.state_dir / self.name

    @property
    def log_path(self) -> Path:
        return self.state / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.state / f"{self.name}.pid"

    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def running(self) -> bool:
        return self.pid() is not None

    @abstractmethod
    def install(self) -> None: ...

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def ready(self) -> bool: ...

    @abstractmethod
    def stop(self) -> bool: ...

    @abstractmethod
    def address(self) -> str: ...

    def version(self) -> str:
        return "?"

    def resident_mb(self) -> float | None:
        """Resident memory of the server process (and its children, for forking servers), in MiB."""
        pid = self.pid()
        if pid is None:
            return None
        return _tree_rss_kb(pid) / 1024


def _tree_rss_kb(pid: int) -> int:
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return total
    return total + sum(_tree_rss_kb(int(child)) for child in children)


def apt_install(packages: list[str], reason: str) -> None:
    """Install Debian packages; a readable refusal when we cannot (not root, no apt)."""
    if not is_root():
        raise ProvisioningError(
            f"{reason}: the Debian packages {' '.join(packages)} are missing and installing them needs root. "
            f"Run `sudo apt-get install -y {' '.join(packages)}` and try again."
        )
    if shutil.which("apt-get") is None:
        raise ProvisioningError(f"{reason}: apt-get is not available; install {' '.join(packages)} by hand.")
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        # The package lists may be missing or stale on a fresh machine: refresh once and retry.
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise ProvisioningError(f"{reason}: apt-get install {' '.join(packages)} failed:\n{result.stderr[-2000:]}")


def jdk_home(given: Path | None, minimum: int, server: str) -> Path:
    """The JDK a Java server runs on (:func:`~eventledger_infra.settings.java_home`), or a readable refusal."""
    home = java_home(given, minimum)
    if home is None or not (home / "bin" / "java").exists():
        raise ProvisioningError(f"{server} needs a JDK {minimum} or newer under {JVM_DIR}: none was found")
    return home
