"""Apicurio Registry 2.4.2.Final, the schema registry (Confluent-compatible API under ``/apis/ccompat/v7``).

Built once from its Maven artifacts with the Quarkus Maven plugin (ADR 0028; the 3.x line does not resolve from Maven
Central): the Maven module in ``infrastructure/local/maven/apicurio`` is copied to a staging folder, the app jar's own
``application.properties`` is put beside it (the Quarkus build needs the application's configuration, and the app
jar carries no Jandex index, so the index is asked for), and ``mvn package`` leaves a runner jar and its ``lib/``.

Storage is H2 in file mode under the state folder: schema ids are written into every Kafka message, so they must
survive a restart (an in-memory H2, Apicurio's default, would hand out new ids).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from eventledger_infra import artifacts, probes
from eventledger_infra.process import require_free_port, stop_pid, wait_until, write_pid
from eventledger_infra.services.base import LocalServer, jdk_home

APP = ("io", "apicurio", "apicurio-registry-app")
INDEX_THE_APP = """
# The app jar carries no Jandex index: Quarkus must index it to find its beans and REST resources.
quarkus.index-dependency.registry-app.group-id=io.apicurio
quarkus.index-dependency.registry-app.artifact-id=apicurio-registry-app
"""


class SchemaRegistryServer(LocalServer):
    name = "registry"
    start_timeout = 120.0

    @property
    def home(self) -> Path:
        return self.settings.cache_dir / f"apicurio-registry-{self.settings.registry_version}"

    @property
    def java(self) -> Path:
        return jdk_home(self.settings.registry_java_home, 17, "Apicurio Registry") / "bin" / "java"

    def install(self) -> None:
        self.java  # noqa: B018 - refuses early when no JDK is installed
        module = artifacts.pom(self.settings, "apicurio").parent
        version = self.settings.registry_version

        def build(staging: Path) -> None:
            work = staging.with_name(staging.name + ".build")
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(module, work)
            maven = ["-s", str(work / "settings.xml"), "-f", str(work / "pom.xml")]
            artifact = f"{APP[0]}.{APP[1]}:{APP[2]}:{version}"
            artifacts.mvn_in(work, [*maven, "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={work}"])
            resources = work / "src" / "main" / "resources"
            resources.mkdir(parents=True)
            with zipfile.ZipFile(work / f"{APP[2]}-{version}.jar") as app:
                properties = app.read("application.properties").decode()
            (resources / "application.properties").write_text(properties + INDEX_THE_APP)
            artifacts.mvn_in(work, [*maven, f"-Dapicurio.version={version}", "package"])
            shutil.move(work / "target" / "eventledger-registry-runner.jar", staging / "registry-runner.jar")
            shutil.move(work / "target" / "lib", staging / "lib")
            shutil.rmtree(work, ignore_errors=True)

        artifacts.materialise(self.home, build, "Apicurio Registry")

    def command(self) -> list[str]:
        s = self.settings
        database = self.state / "data" / "registry"
        return [
            str(self.java),
            f"-Xmx{s.registry_heap}",
            "-XX:+UseSerialGC",
            f"-Dquarkus.http.host={s.host}",
            f"-Dquarkus.http.port={s.registry_port}",
            # H2 in file mode: the ids live on across restarts. The JDBC pool of the prod profile (20 to 100
            # connections) is far more than one local registry needs.
            f"-Dquarkus.datasource.jdbc.url=jdbc:h2:file:{database}",
            "-Dquarkus.datasource.jdbc.initial-size=2",
            "-Dquarkus.datasource.jdbc.min-size=2",
            "-Dquarkus.datasource.jdbc.max-size=10",
            "-jar",
            str(self.home / "registry-runner.jar"),
        ]

    def start(self) -> None:
        if self.running():
            return
        s = self.settings
        require_free_port("Apicurio Registry", s.host, s.registry_port, "EVENTLEDGER_REGISTRY_PORT")
        (self.state / "data").mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            process = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.state,
                env={**os.environ},
            )
        write_pid(self.pid_file, process.pid)
        wait_until("Apicurio Registry", self.ready, self.start_timeout, self.running, self.log_path)

    def ready(self) -> bool:
        """The registry lists its subjects over the Confluent-compatible API (storage is up)."""
        probes.registry_subjects(self.settings)
        return True

    def stop(self) -> bool:
        return stop_pid(self.pid_file, timeout=30.0)

    def address(self) -> str:
        return self.settings.registry_url

    def version(self) -> str:
        return self.settings.registry_version
