"""Redis 7 from Debian's packages, daemonised with its data and pid file under the state folder."""

from __future__ import annotations

import shutil

from eventledger_infra import probes
from eventledger_infra.process import require_free_port, run, stop_pid, wait_until
from eventledger_infra.services.base import LocalServer, apt_install


class RedisServer(LocalServer):
    name = "redis"
    start_timeout = 30.0

    def install(self) -> None:
        if shutil.which("redis-server") is None:
            apt_install(["redis-server"], "Redis")

    def start(self) -> None:
        if self.running():
            return
        require_free_port("Redis", self.settings.host, self.settings.redis_port, "EVENTLEDGER_REDIS_PORT")
        self.state.mkdir(parents=True, exist_ok=True)
        run(
            [
                "redis-server",
                "--bind",
                self.settings.host,
                "--port",
                str(self.settings.redis_port),
                "--dir",
                str(self.state),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pid_file),
                "--logfile",
                str(self.log_path),
                # Durable enough to survive a restart of the server in fault tests.
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--maxmemory",
                "512mb",
                "--maxmemory-policy",
                "noeviction",
            ],
            "redis-server",
        )
        wait_until("Redis", self.ready, self.start_timeout, self.running, self.log_path)

    def ready(self) -> bool:
        return probes.redis_ping(self.settings)

    def stop(self) -> bool:
        return stop_pid(self.pid_file)

    def address(self) -> str:
        return self.settings.redis_url

    def version(self) -> str:
        out = run(["redis-server", "--version"], "redis-server --version")
        return out.split("v=")[1].split()[0] if "v=" in out else out.strip()
