"""Several projector processes of one read model in one consumer group, as a supervisor runs N instances of
``python -m eventledger_projections run <name>``: the same namespace (hence the same group, topics and store), and
per instance only its own ops port (``EVENTLEDGER_PROJECTION_OPS_PORT``). Used by the fault tier's rebalancing test
and by ``bench.bench_projection_scale``."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.http_service import local_get
from tests.support.processes import free_port, wait_for
from tests.support.projection_rig import ProjectorProcess, projector_env

_ASSIGNED = re.compile(r": assigned (.*)$")
_PARTITION = re.compile(r"(\S+)\[(\d+)\]@\d+")


@dataclass
class ProjectorGroup:
    """Members of the consumer group of read model ``name``, each a :class:`ProjectorProcess` logging to a folder of
    its own under ``log_dir``. :meth:`add` starts one more; the caller kills members as it likes."""

    name: str
    database: str
    namespace: str
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    members: list[ProjectorProcess] = field(default_factory=list)

    def add(self, count: int = 1, **extra: str) -> list[ProjectorProcess]:
        """Start ``count`` more members (each its own ops port and log folder, ``extra`` added to their environment),
        together; answers them once each one's /readyz answers 200."""
        started = []
        for _ in range(count):
            folder = self.log_dir / f"member-{len(self.members) + 1}"
            folder.mkdir(parents=True, exist_ok=True)
            env = projector_env(self.database, self.namespace, free_port(), **self.env, **extra)
            member = ProjectorProcess(self.name, env, folder)
            self.members.append(member)
            member.start()
            started.append(member)
        for member in started:
            wait_for(
                lambda m=member: local_get(m.ops_port, "/readyz")[0] == 200 or not m.alive(),
                60,
                f"{member.log_path.parent.name} to be ready",
            )
            assert member.alive(), member.log_tail()
        return started

    def alive(self) -> list[ProjectorProcess]:
        return [m for m in self.members if m.alive()]

    def status(self) -> dict[str, object]:
        """``GET /status`` of the first live member (every member reads the same store: the same figures)."""
        for member in self.alive():
            code, body = local_get(member.ops_port, "/status")
            if code == 200:
                answer: dict[str, object] = json.loads(body)
                return answer
        return {}

    def reflected(self) -> int:
        return int(str(self.status().get("reflected_position", 0)))

    def wait_until_reflected(self, position: int, timeout: float) -> None:
        wait_for(
            lambda: self.reflected() >= position,
            timeout,
            f"the group to reflect {position}:\n" + "\n".join(m.log_tail(8) for m in self.members),
        )

    def post(self, action: str) -> None:
        """``POST /<action>`` (pause, resume) to every live member."""
        for member in self.alive():
            with contextlib.suppress(OSError):
                _post(member.ops_port, f"/{action}")

    def stop(self) -> None:
        for member in self.members:
            member.stop()

    def kill(self) -> None:
        for member in self.members:
            member.kill()

    @contextlib.contextmanager
    def running(self) -> Iterator[ProjectorGroup]:
        try:
            yield self
        finally:
            self.kill()


def assignment(member: ProjectorProcess) -> set[tuple[str, int]]:
    """The partitions of the member's latest assignment, as its log tells (empty before the first one)."""
    found: set[tuple[str, int]] = set()
    for line in member.log_path.read_text(errors="replace").splitlines():
        matched = _ASSIGNED.search(line)
        if matched:
            found = {(t, int(p)) for t, p in _PARTITION.findall(matched.group(1))}
    return found


def assignments(member: ProjectorProcess) -> int:
    """How many assignments (rebalances it took part in) the member's log shows."""
    return sum(1 for line in member.log_path.read_text(errors="replace").splitlines() if _ASSIGNED.search(line))


def _post(port: int, path: str) -> int:
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)
