"""Apache Kafka 4.x in KRaft mode (one combined broker and controller), from Maven Central."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from eventledger_infra import artifacts, probes
from eventledger_infra.process import require_free_port, run, stop_pid, wait_until, write_pid
from eventledger_infra.services.base import LocalServer, jdk_home

# The broker logs to standard output, which goes to kafka.log together with anything the JVM itself prints
# (a bad heap size, a missing class), so that one file explains a failed start.
LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = console
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class KafkaServer(LocalServer):
    name = "kafka"
    start_timeout = 90.0

    @property
    def home(self) -> Path:
        return self.settings.cache_dir / f"kafka-{self.settings.kafka_version}"

    @property
    def java(self) -> Path:
        return jdk_home(self.settings.kafka_java_home, 17, "Kafka") / "bin" / "java"

    def install(self) -> None:
        self.java  # noqa: B018 - refuses early when no JDK is installed

        def fetch(staging: Path) -> None:
            artifacts.mvn(
                self.settings,
                "kafka",
                [
                    f"-Dkafka.version={self.settings.kafka_version}",
                    "dependency:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={staging / 'libs'}",
                ],
                "Kafka",
            )

        artifacts.materialise(self.home, fetch, "Kafka")

    def _properties(self) -> str:
        s = self.settings
        data = self.state / "data"
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={s.host}:{s.controller_port}",
                f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.controller_port}",
                f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={data}",
                f"num.partitions={s.kafka_partitions}",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=6",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "default.replication.factor=1",
                "min.insync.replicas=1",
                "group.initial.rebalance.delay.ms=0",
                # Topics are created by the services with their configured partition count, never by accident.
                "auto.create.topics.enable=false",
                "log.retention.hours=168",
                "",
            ]
        )

    def _java_command(self, main: str, *args: str | Path) -> list[str]:
        return [
            str(self.java),
            f"-Xms{self.settings.kafka_heap}",
            f"-Xmx{self.settings.kafka_heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.state / 'log4j2.properties'}",
            "-cp",
            f"{self.home / 'libs'}/*",
            main,
            *[str(a) for a in args],
        ]

    def _format_storage(self, properties: Path) -> None:
        if (self.state / "data" / "meta.properties").exists():
            return
        cluster_id = run(self._java_command("kafka.tools.StorageTool", "random-uuid"), "kafka-storage random-uuid")
        run(
            self._java_command(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id.strip().splitlines()[-1],
                "-c",
                properties,
                "--standalone",
            ),
            "kafka-storage format",
        )

    def start(self) -> None:
        if self.running():
            return
        s = self.settings
        require_free_port("Kafka", s.host, s.kafka_port, "EVENTLEDGER_KAFKA_PORT")
        require_free_port(
            "Kafka controller",
            s.host,
            s.controller_port,
            "EVENTLEDGER_KAFKA_PORT (the controller listens on the next port)",
        )
        self.state.mkdir(parents=True, exist_ok=True)
        properties = self.state / "server.properties"
        properties.write_text(self._properties())
        (self.state / "log4j2.properties").write_text(LOG4J2)
        self._format_storage(properties)
        with open(self.log_path, "ab") as out:
            process = subprocess.Popen(
                self._java_command("kafka.Kafka", properties),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.state,
                env={**os.environ, "LOG_DIR": str(self.state)},
            )
        write_pid(self.pid_file, process.pid)
        wait_until("Kafka", self.ready, self.start_timeout, self.running, self.log_path)

    def ready(self) -> bool:
        return probes.kafka_broker_count(self.settings) >= 1

    def stop(self) -> bool:
        return stop_pid(self.pid_file, timeout=60.0)

    def address(self) -> str:
        return self.settings.kafka_bootstrap

    def version(self) -> str:
        return self.settings.kafka_version
