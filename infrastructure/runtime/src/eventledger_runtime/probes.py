"""Readiness probes the services put behind ``/readyz``: they ask a server a real question, not whether a port is
open. Standard library only.

The provisioning tool has its own probes (``eventledger_infra.probes``) for the servers it starts, because it runs
before this package is installed (ADR 0013).
"""

from __future__ import annotations

import socket
import struct


def kafka_broker_count(host: str, port: int, timeout: float = 2.0) -> int:
    """Send a Metadata v1 request (all topics) and return how many brokers the cluster reports.

    A broker answers Metadata with itself listed only once it has joined the KRaft quorum and is serving.
    """
    client_id = b"eventledger-probe"
    header = struct.pack(">hhih", 3, 1, 1, len(client_id)) + client_id  # api_key=Metadata, v1, correlation 1
    request = header + struct.pack(">i", -1)  # null array: every topic
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        payload = _recv_exact(sock, size)
    _correlation, broker_count = struct.unpack(">ii", payload[:8])
    return int(broker_count)


def kafka_answers(host: str, port: int) -> bool:
    """True when at least one broker serves; False (never an exception) otherwise."""
    try:
        return kafka_broker_count(host, port) >= 1
    except OSError:
        return False


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks.extend(chunk)
    return bytes(chunks)
