"""Readiness probes that ask each server a real question, not merely whether a port is open."""

from __future__ import annotations

import json
import socket
import struct
import urllib.request

from eventledger_infra.settings import Settings


def redis_ping(settings: Settings, timeout: float = 2.0) -> bool:
    """PING → +PONG over RESP."""
    with socket.create_connection((settings.host, settings.redis_port), timeout=timeout) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def kafka_broker_count(settings: Settings, timeout: float = 2.0) -> int:
    """Send a Metadata v1 request (all topics) and return how many brokers the cluster reports.

    A broker answers Metadata with itself listed only once it has joined the KRaft quorum and is serving.
    """
    client_id = b"eventledger-probe"
    header = struct.pack(">hhih", 3, 1, 1, len(client_id)) + client_id  # api_key=Metadata, v1, correlation 1
    body = struct.pack(">i", -1)  # null array: every topic
    request = header + body
    with socket.create_connection((settings.host, settings.kafka_port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        payload = _recv_exact(sock, size)
    _correlation, broker_count = struct.unpack(">ii", payload[:8])
    return int(broker_count)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks.extend(chunk)
    return bytes(chunks)


def elasticsearch_health(settings: Settings, timeout: float = 2.0) -> str | None:
    """The cluster health status ('green', 'yellow', 'red'), or None when it does not answer."""
    url = f"{settings.elasticsearch_url}/_cluster/health?timeout=1s"
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed loopback URL
        status = json.loads(response.read())["status"]
    return str(status)


def elasticsearch_version(settings: Settings, timeout: float = 2.0) -> str:
    """The node's version. (The integ-test-zip distribution has no `GET /` handler: it lacks the rest-root module.)"""
    url = f"{settings.elasticsearch_url}/_nodes/_local?filter_path=nodes.*.version"
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed loopback URL
        nodes = json.loads(response.read())["nodes"]
    return str(next(iter(nodes.values()))["version"])


def registry_subjects(settings: Settings, timeout: float = 2.0) -> list[str]:
    """The schema registry's subjects (its Confluent-compatible API answers only once its storage is up)."""
    with urllib.request.urlopen(f"{settings.registry_url}/subjects", timeout=timeout) as response:  # noqa: S310
        subjects = json.loads(response.read())
    return [str(subject) for subject in subjects]
