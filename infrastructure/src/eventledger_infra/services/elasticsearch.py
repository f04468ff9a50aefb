"""Elasticsearch from its `integ-test-zip` distribution on Maven Central, run by a dedicated non-root user."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

from eventledger_infra import artifacts, probes
from eventledger_infra.process import (
    ProvisioningError,
    as_user,
    chown_tree,
    ensure_system_user,
    ensure_traversable,
    require_free_port,
    run,
    stop_pid,
    wait_until,
)
from eventledger_infra.services.base import LocalServer, jdk_home

CONFIG = """\
cluster.name: eventledger-local
node.name: eventledger-1
discovery.type: single-node
network.host: {host}
http.port: {port}
transport.port: {transport_port}
path.data: {data}
path.logs: {logs}
# Local use only: loopback, no security, no disk watermarks (these machines can run low on disk).
xpack.security.enabled: false
cluster.routing.allocation.disk.threshold_enabled: false
action.destructive_requires_name: false
"""


class ElasticsearchServer(LocalServer):
    name = "elasticsearch"
    start_timeout = 120.0

    @property
    def home(self) -> Path:
        return self.settings.cache_dir / f"elasticsearch-{self.settings.es_version}"

    def java_home(self) -> Path:
        return jdk_home(self.settings.es_java_home, 21, f"Elasticsearch {self.settings.es_version}")

    @property
    def config_dir(self) -> Path:
        return self.state / "config"

    def install(self) -> None:
        self.java_home()

        def fetch(staging: Path) -> None:
            download = staging.with_name(staging.name + ".zip.d")
            shutil.rmtree(download, ignore_errors=True)
            artifacts.mvn(
                self.settings,
                "elasticsearch",
                [
                    f"-Delasticsearch.version={self.settings.es_version}",
                    "dependency:copy",
                    f"-DoutputDirectory={download}",
                ],
                "Elasticsearch",
            )
            archive = download / f"elasticsearch-{self.settings.es_version}.zip"
            try:
                _unzip_with_modes(archive, staging)
            except zipfile.BadZipFile:
                artifacts.forget_in_maven_cache([archive.name])
                raise ProvisioningError(
                    f"Elasticsearch: {archive.name} is corrupt; removed it from the Maven cache, run `up` again."
                ) from None
            finally:
                shutil.rmtree(download, ignore_errors=True)

        artifacts.materialise(self.home, fetch, "Elasticsearch")

    def _distribution_root(self) -> Path:
        return self.home / f"elasticsearch-{self.settings.es_version}"

    def _prepare_config(self, user: str | None) -> None:
        s = self.settings
        for sub in ("data", "logs", "tmp"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        if not (self.config_dir / "jvm.options").exists():
            shutil.copytree(self._distribution_root() / "config", self.config_dir, dirs_exist_ok=True)
        (self.config_dir / "elasticsearch.yml").write_text(
            CONFIG.format(
                host=s.host,
                port=s.es_port,
                transport_port=s.es_port + 100,
                data=self.state / "data",
                logs=self.state / "logs",
            )
        )
        options = self.config_dir / "jvm.options.d"
        options.mkdir(exist_ok=True)
        (options / "heap.options").write_text(f"-Xms{s.es_heap}\n-Xmx{s.es_heap}\n")
        ensure_traversable(self.state, user)
        ensure_traversable(self.home, user)
        chown_tree(self.state, user)

    def start(self) -> None:
        if self.running():
            return
        s = self.settings
        require_free_port("Elasticsearch", s.host, s.es_port, "EVENTLEDGER_ES_PORT")
        user = ensure_system_user(s.service_user)
        self._prepare_config(user)
        env = {
            **os.environ,
            "ES_JAVA_HOME": str(self.java_home()),
            "ES_PATH_CONF": str(self.config_dir),
            "ES_TMPDIR": str(self.state / "tmp"),
        }
        env.pop("JAVA_HOME", None)
        run(
            as_user(
                user,
                [
                    self._distribution_root() / "bin" / "elasticsearch",
                    "-d",
                    "-p",
                    self.pid_file,
                    "-E",
                    f"path.logs={self.state / 'logs'}",
                ],
            ),
            "elasticsearch start",
            env=env,
            cwd=self.state,
        )
        self._link_log()
        wait_until("Elasticsearch", self.ready, self.start_timeout, self.running, self.log_path)

    def _link_log(self) -> None:
        server_log = self.state / "logs" / "eventledger-local.log"
        if not self.log_path.is_symlink():
            self.log_path.unlink(missing_ok=True)
            self.log_path.symlink_to(server_log)

    def ready(self) -> bool:
        return probes.elasticsearch_health(self.settings) in {"green", "yellow"}

    def stop(self) -> bool:
        return stop_pid(self.pid_file, timeout=60.0)

    def address(self) -> str:
        return self.settings.elasticsearch_url

    def version(self) -> str:
        return probes.elasticsearch_version(self.settings)


def _unzip_with_modes(archive: Path, target: Path) -> None:
    """Extract keeping the Unix permission bits (zipfile drops them), so that bin/ stays executable."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            extracted = Path(zf.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(extracted, mode)
            elif extracted.is_file() and "/bin/" in info.filename:
                os.chmod(extracted, extracted.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)  # noqa: S103 - bin/ must be executable by the service user
