"""`eventledger-infra` — provision, start, stop and inspect the local servers.

up [SERVICE...] [--backup]
                     install what is missing, start, wait until each answers a real query; --backup turns on
                     PostgreSQL's continuous backup (WAL archived and streamed synchronously, ADR 0033)
backup               a base backup of PostgreSQL (needs continuous backup on)
restore [--to TIME]  rebuild PostgreSQL's data directory from the backups, to TIME (ISO 8601 with a zone) or to
                     the latest acknowledged commit (the default), then promote it
down [SERVICE...]    stop what this project started (by its own pid files)
status               which servers run, where, their memory
logs [SERVICE] [-n]  the tail of each server's log
reset                stop everything and wipe the state folder (data is lost; downloads stay cached)
run -- COMMAND...    start the servers that are not running, run COMMAND, stop only those it started
kcat [--version]     the path of a kcat that decodes Avro through the schema registry, built from third_party/
                     on first use (ADR 0028); --version prints its `kcat -V` line too
image [--force]       build localhost/eventledger:<version> with buildah (ADR 0030); skipped when up to date
system up|down|status [--replicas N] [--prometheus]
                     the whole system under a supervisor: N instances of each service behind HAProxy,
                     and Prometheus scraping every process with --prometheus
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from eventledger_infra import backup, images, kcat, system
from eventledger_infra.process import ProvisioningError, tail
from eventledger_infra.services.base import LocalServer, apt_install
from eventledger_infra.services.elasticsearch import ElasticsearchServer
from eventledger_infra.services.kafka import KafkaServer
from eventledger_infra.services.postgres import PostgresServer
from eventledger_infra.services.redis import RedisServer
from eventledger_infra.services.registry import SchemaRegistryServer
from eventledger_infra.settings import Settings

SERVICE_TYPES: dict[str, type[LocalServer]] = {
    "postgres": PostgresServer,
    "redis": RedisServer,
    "kafka": KafkaServer,
    "elasticsearch": ElasticsearchServer,
    "registry": SchemaRegistryServer,
}


def servers(settings: Settings, names: list[str]) -> list[LocalServer]:
    unknown = [n for n in names if n not in SERVICE_TYPES]
    if unknown:
        raise ProvisioningError(f"unknown service {', '.join(unknown)}; choose from {', '.join(SERVICE_TYPES)}")
    return [SERVICE_TYPES[n](settings) for n in (names or list(SERVICE_TYPES))]


def _bring_up(server: LocalServer) -> tuple[str, float, bool]:
    began = time.monotonic()
    was_running = server.running()
    server.install()
    server.start()
    return server.name, time.monotonic() - began, was_running


def up(settings: Settings, names: list[str], *, continuous_backup: bool = False) -> int:
    chosen = servers(settings, names)
    if continuous_backup:
        _enable_continuous_backup(settings)
    began = time.monotonic()
    failures: list[str] = []
    # Installs and starts run side by side: the JVMs take most of the time and barely contend on 2 cores.
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        futures = {pool.submit(_bring_up, server): server for server in chosen}
        for future, server in futures.items():
            try:
                name, seconds, was_running = future.result()
            except ProvisioningError as exc:
                failures.append(f"{server.name}: {exc}")
                continue
            state = "already running" if was_running else f"ready in {seconds:.1f} s"
            print(f"  {name:<14} {state:<22} {server.address()}")
    if failures:
        print("\n".join(["", "up failed:", *failures]), file=sys.stderr)
        return 1
    print(f"all ready in {time.monotonic() - began:.1f} s")
    return 0


def _enable_continuous_backup(settings: Settings) -> None:
    postgres = PostgresServer(settings)
    if postgres.running() and not postgres.continuous_backup:
        raise ProvisioningError(
            "PostgreSQL is running without continuous backup, which takes effect at a start: stop it "
            "(`python -m eventledger_infra down postgres`) and run this again"
        )
    postgres.enable_continuous_backup()


def take_backup(settings: Settings) -> int:
    taken = backup.take_base_backup(PostgresServer(settings))
    print(f"  base backup    {taken.folder} (consistent at {taken.consistent_at.isoformat()})")
    return 0


def restore(settings: Settings, target_text: str) -> int:
    target = backup.parse_target(target_text)
    done = backup.restore(PostgresServer(settings), target)
    print(f"  restored       from {done.backup.folder} to {done.target.isoformat() if done.target else 'latest'}")
    if done.set_aside is not None:
        print(f"  set aside      the data directory found: {done.set_aside} (delete it once the restore is checked)")
    print(f"  promoted in    {done.seconds:.1f} s; take a new base backup now (`make backup`)")
    return 0


def down(settings: Settings, names: list[str]) -> int:
    for server in reversed(servers(settings, names)):
        stopped = server.stop()
        print(f"  {server.name:<14} {'stopped' if stopped else 'was not running'}")
    return 0


def status(settings: Settings, names: list[str]) -> int:
    all_up = True
    for server in servers(settings, names):
        pid = server.pid()
        if pid is None:
            all_up = False
            print(f"  {server.name:<14} stopped")
            continue
        try:
            answering = server.ready()
        except Exception:
            answering = False
        all_up &= answering
        memory = server.resident_mb()
        print(
            f"  {server.name:<14} {'ready' if answering else 'NOT ANSWERING':<14} pid {pid:<8} "
            f"{memory or 0:7.0f} MiB  {server.address()}"
        )
        if isinstance(server, PostgresServer) and server.continuous_backup:
            receiver = server.receiver_pid()
            all_up &= receiver is not None
            state = f"pid {receiver}" if receiver else "NOT RUNNING: every commit waits for it"
            print(f"  {'wal receiver':<14} {state}  {server.backup.root}")
    return 0 if all_up else 3


def logs(settings: Settings, names: list[str], lines: int) -> int:
    for server in servers(settings, names):
        print(f"==> {server.log_path} <==")
        print(tail(server.log_path, lines))
    return 0


def reset(settings: Settings) -> int:
    down(settings, [])
    shutil.rmtree(settings.state_dir, ignore_errors=True)
    print(f"  wiped {settings.state_dir}")
    return 0


def run_with_servers(settings: Settings, command: list[str]) -> int:
    """Run ``command`` with every server up; afterwards stop the servers that this call started."""
    if not command:
        raise ProvisioningError("run needs a command after --")
    started_here = [server.name for server in servers(settings, []) if not server.running()]
    try:
        if up(settings, []) != 0:
            return 1
        return subprocess.call(command)
    finally:
        if started_here:
            down(settings, started_here)


def _system(settings: Settings, action: str, replicas: int, prometheus: bool) -> int:
    if action == "up":
        return system.start(settings, replicas, prometheus) or system.seed_and_print(settings)
    if action == "down":
        return system.stop(settings)
    return system.status(settings)


def install_browser() -> int:
    """Debian's chromium (the end-to-end tests drive it with Playwright; Playwright's own download is not used)."""
    if shutil.which("chromium") is None:
        apt_install(["chromium"], "the dashboard's browser test")
    print("  chromium       " + (shutil.which("chromium") or "missing"))
    return 0


def print_kcat(settings: Settings, show_version: bool) -> int:
    """Build kcat when this source tree has not been built yet; print its path (progress goes to stderr)."""
    path = kcat.ensure(settings)
    print(path)
    if show_version:
        print(kcat.features(path))
    return 0


def print_env(settings: Settings) -> int:
    print(f"EVENTLEDGER_PG_DSN={settings.postgres_dsn}")
    print(f"EVENTLEDGER_REDIS_URL={settings.redis_url}")
    print(f"EVENTLEDGER_KAFKA_BOOTSTRAP={settings.kafka_bootstrap}")
    print(f"EVENTLEDGER_ES_URL={settings.elasticsearch_url}")
    print(f"EVENTLEDGER_REGISTRY_URL={settings.registry_url}")
    return 0


def _replicas(text: str) -> int:
    """An argparse type: a whole number of instances within the supervisor's bound (else exit 2 with a message)."""
    try:
        return system.check_replicas(int(text))
    except (ValueError, ProvisioningError) as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of replicas from 1 to {system.MAX_REPLICAS}"
        ) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="eventledger-infra", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "status"):
        commands.add_parser(name).add_argument("services", nargs="*")
    commands.choices["up"].add_argument(
        "--backup", action="store_true", help="PostgreSQL with continuous backup (kept for later starts)"
    )
    commands.add_parser("backup", help="a base backup of PostgreSQL")
    restore_parser = commands.add_parser("restore", help="restore PostgreSQL to a time or to the latest commit")
    restore_parser.add_argument(
        "--to", default="latest", help="ISO 8601 time with a zone (2026-12-06T01:02:03Z), or latest (the default)"
    )
    logs_parser = commands.add_parser("logs")
    logs_parser.add_argument("services", nargs="*")
    logs_parser.add_argument("-n", "--lines", type=int, default=40)
    commands.add_parser("reset")
    run_parser = commands.add_parser("run")
    run_parser.add_argument("argv", nargs=argparse.REMAINDER)
    commands.add_parser("env", help="print the settings as environment variables")
    system_parser = commands.add_parser("system")
    system_parser.add_argument("action", choices=["up", "down", "status"])
    system_parser.add_argument(
        "--replicas", type=_replicas, default=1, help=f"instances of each service (1 to {system.MAX_REPLICAS})"
    )
    system_parser.add_argument(
        "--prometheus", action="store_true", help="also run Prometheus, scraping every process (ADR 0026)"
    )
    supervise_parser = commands.add_parser("supervise", help=argparse.SUPPRESS)
    supervise_parser.add_argument("--replicas", type=_replicas, default=1)
    supervise_parser.add_argument("--prometheus", action="store_true")
    image_parser = commands.add_parser("image", help="build the services' image (buildah; ADR 0030)")
    image_parser.add_argument("--force", action="store_true", help="rebuild even when the sources did not change")
    kcat_parser = commands.add_parser("kcat", help="print the path of kcat with Avro support (built when missing)")
    kcat_parser.add_argument("--version", action="store_true", help="also print its version and features")
    commands.add_parser("browser", help="install Debian's chromium for the dashboard's browser test if missing")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: invalid settings: {exc}\n")
    actions: dict[str, Callable[[], int]] = {
        "up": lambda: up(settings, args.services, continuous_backup=args.backup),
        "backup": lambda: take_backup(settings),
        "restore": lambda: restore(settings, args.to),
        "down": lambda: down(settings, args.services),
        "status": lambda: status(settings, args.services),
        "logs": lambda: logs(settings, args.services, args.lines),
        "reset": lambda: reset(settings),
        "run": lambda: run_with_servers(settings, args.argv[1:] if args.argv[:1] == ["--"] else args.argv),
        "env": lambda: print_env(settings),
        "system": lambda: _system(settings, args.action, args.replicas, args.prometheus),
        "supervise": lambda: system.Supervisor(
            settings, system.supervised(settings, args.replicas, args.prometheus)
        ).run(),
        "browser": install_browser,
        "kcat": lambda: print_kcat(settings, args.version),
        "image": lambda: print(images.build(settings, force=args.force)) or 0,
    }
    try:
        return actions[args.command]()
    except ProvisioningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
