"""Process plumbing for the local servers: pid files, ports, users, waiting, log tails.

Servers are stopped through their own pid files, never by process name, so that nothing else on the machine
(another checkout's servers, the distribution's own PostgreSQL) is ever touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class ProvisioningError(RuntimeError):
    """A failure the operator must act on; the message says what happened and what to do."""


def is_root() -> bool:
    return os.geteuid() == 0


def write_pid(pid_file: Path, pid: int) -> None:
    """Record ``pid`` in ``pid_file`` atomically: a reader sees the old file or the new one, never an empty one
    (``write_text`` truncates first, and a fault test reading a restarted instance's pid once caught it empty)."""
    partial = pid_file.with_name(f".{pid_file.name}.{os.getpid()}")
    partial.write_text(f"{pid}\n")
    os.replace(partial, pid_file)


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` (first line) if that process is alive, else None."""
    try:
        text = pid_file.read_text().split()
    except (FileNotFoundError, PermissionError):
        return None
    if not text or not text[0].isdigit():
        return None
    pid = int(text[0])
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def require_free_port(service: str, host: str, port: int, variable: str) -> None:
    if port_in_use(host, port):
        raise ProvisioningError(
            f"{service}: port {host}:{port} is already taken by another process "
            f"(not one this project started). Stop that process or choose another port with {variable}=<port>."
        )


def wait_until(what: str, check: Callable[[], bool], timeout: float, alive: Callable[[], bool], log: Path) -> None:
    """Poll ``check`` until it is true; fail early with the log's tail when the process died."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        # Daemonising servers write their pid file a moment after they fork: give them a grace period.
        if time.monotonic() - started > 3.0 and not alive():
            raise ProvisioningError(f"{what} exited during start-up. Last lines of {log}:\n{tail(log)}")
        time.sleep(0.25)
    raise ProvisioningError(f"{what} did not answer within {timeout:.0f} s. Last lines of {log}:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"  (no log at {path})"
    return "\n".join("  " + line for line in content[-lines:])


def stop_pid(pid_file: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the process named by ``pid_file``, SIGKILL it after ``timeout``; True when something was stopped."""
    pid = read_pid(pid_file)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
            break
        time.sleep(0.1)
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()
    return True


def run(cmd: Sequence[str | os.PathLike[str]], what: str, **kwargs: object) -> str:
    """Run a command to completion; raise a readable error with its output when it fails."""
    result = subprocess.run(  # type: ignore[call-overload]
        [str(c) for c in cmd], capture_output=True, text=True, check=False, **kwargs
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-25:]
        raise ProvisioningError(f"{what} failed (exit {result.returncode}):\n  " + "\n  ".join(output))
    return str(result.stdout)


def as_user(user: str | None, cmd: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Prefix ``cmd`` so that it runs as ``user`` (only when we are root and a user is given)."""
    if user is None or not is_root():
        return [str(c) for c in cmd]
    return ["runuser", "-u", user, "--", *[str(c) for c in cmd]]


def ensure_system_user(user: str) -> str | None:
    """The user that must run servers which refuse root: ``user`` (created if missing) when root, else None."""
    if not is_root():
        return None
    try:
        pwd.getpwnam(user)
    except KeyError:
        run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
            f"creating the system user {user!r}",
        )
    return user


def chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def ensure_traversable(path: Path, user: str | None) -> None:
    """Let ``user`` reach ``path``: give o+x (search only, never read) to ancestors that lack it."""
    if user is None:
        return
    for ancestor in reversed(path.resolve().parents):
        mode = ancestor.stat().st_mode
        if not mode & 0o001:
            os.chmod(ancestor, mode | 0o001)
            print(f"  note: gave {ancestor} search permission (o+x) so that {user!r} can reach {path}")


def chown_user(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
