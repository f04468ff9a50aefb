"""The gateway's pooled HTTP/1.1 transport against small raw upstreams on loopback: connection reuse, what it does
with connections the upstream closed, when it repeats a request (only harmless ones), timeouts and streaming."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from tests.support.processes import free_port

from eventledger_gateway.transport import LeanHTTPTransport

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class RawUpstream:
    """Counts connections and requests; each connection is served by ``handler(reader, writer, index)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            0,
        )
        body = await reader.readexactly(length)
        self.requests.append(head.split(b"\r\n")[0])
        return head + body


@asynccontextmanager
async def upstream(handler: Handler) -> AsyncIterator[tuple[RawUpstream, httpx.AsyncClient]]:
    raw = RawUpstream(handler)
    port = free_port()
    server = await asyncio.start_server(raw.serve, "127.0.0.1", port)
    transport = LeanHTTPTransport(max_connections=4, idle_seconds=2.0)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=2)
    try:
        yield raw, client
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


def keep_alive(raw_getter: Callable[[], RawUpstream]) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while True:
            await raw_getter().read_request(reader)
            writer.write(OK)
            await writer.drain()

    return handler


async def test_sequential_requests_share_one_connection() -> None:
    holder: list[RawUpstream] = []
    async with upstream(keep_alive(lambda: holder[0])) as (raw, client):
        holder.append(raw)
        answers = [await client.get("/v1/x") for _ in range(5)]
        posted = await client.post("/v1/y", content=b'{"a":1}')
    assert [a.status_code for a in answers] == [200] * 5
    assert posted.json() == {"ok": True}
    assert raw.connections == 1
    assert len(raw.requests) == 6


async def test_an_answer_that_closes_the_connection_is_not_pooled() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await raw_box[0].read_request(reader)
        writer.write(OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length"))
        await writer.drain()

    raw_box: list[RawUpstream] = []
    async with upstream(handler) as (raw, client):
        raw_box.append(raw)
        assert (await client.get("/a")).status_code == 200
        assert (await client.get("/b")).status_code == 200
    assert raw.connections == 2


async def test_a_connection_the_upstream_closed_while_idle_is_not_used() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await raw_box[0].read_request(reader)
        writer.write(OK)
        await writer.drain()  # then close, as an upstream's keep-alive timeout does

    raw_box: list[RawUpstream] = []
    async with upstream(handler) as (raw, client):
        raw_box.append(raw)
        assert (await client.post("/a", content=b"{}")).status_code == 200
        await asyncio.sleep(0.2)
        assert (await client.post("/b", content=b"{}")).status_code == 200
    assert raw.connections == 2
    assert len(raw.requests) == 2  # the POST was never sent on the closed connection


def drops_second_request(raw_box: list[RawUpstream]) -> Handler:
    """Answers the first request of each connection; reads the second and hangs up without answering."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await raw_box[0].read_request(reader)
        writer.write(OK)
        await writer.drain()
        await raw_box[0].read_request(reader)

    return handler


@pytest.mark.parametrize(
    ("method", "headers"), [("GET", {}), ("POST", {"Idempotency-Key": "k-1"})], ids=["get", "post-with-key"]
)
async def test_a_harmless_request_is_sent_again_when_a_reused_connection_drops_it(
    method: str, headers: dict[str, str]
) -> None:
    raw_box: list[RawUpstream] = []
    async with upstream(drops_second_request(raw_box)) as (raw, client):
        raw_box.append(raw)
        assert (await client.get("/warm")).status_code == 200
        answer = await client.request(method, "/v1/deposits", content=b"{}", headers=headers)
    assert answer.status_code == 200
    assert raw.connections == 2
    assert [line.split(b" ")[0].decode() for line in raw.requests] == ["GET", method, method]


async def test_a_command_without_idempotency_key_is_never_sent_twice() -> None:
    raw_box: list[RawUpstream] = []
    async with upstream(drops_second_request(raw_box)) as (raw, client):
        raw_box.append(raw)
        assert (await client.get("/warm")).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/deposits", content=b"{}")
    assert [line.split(b" ")[0] for line in raw.requests] == [b"GET", b"POST"]


async def test_no_answer_in_time_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await raw_box[0].read_request(reader)
        await asyncio.sleep(5)

    raw_box: list[RawUpstream] = []
    async with upstream(silent) as (raw, client):
        raw_box.append(raw)
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/slow", timeout=httpx.Timeout(0.3))


async def test_nobody_listening_is_a_connect_error() -> None:
    transport = LeanHTTPTransport(max_connections=2)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}", transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/")


async def test_no_free_connection_in_time_is_a_pool_timeout() -> None:
    gate = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await raw_box[0].read_request(reader)
        await gate.wait()
        writer.write(OK)
        await writer.drain()

    raw_box: list[RawUpstream] = []
    raw = RawUpstream(slow)
    raw_box.append(raw)
    port = free_port()
    server = await asyncio.start_server(raw.serve, "127.0.0.1", port)
    transport = LeanHTTPTransport(max_connections=1)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport) as client:
        first = asyncio.create_task(client.get("/first", timeout=5))
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout):
            await client.get("/second", timeout=httpx.Timeout(5, pool=0.2))
        gate.set()
        assert (await first).status_code == 200
    server.close()
    await server.wait_closed()


async def test_a_chunked_answer_is_handed_over_chunk_by_chunk() -> None:
    gate = asyncio.Event()

    async def stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await raw_box[0].read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"d\r\ndata: first\n\n\r\n")
        await writer.drain()
        await gate.wait()
        writer.write(b"e\r\ndata: second\n\n\r\n0\r\n\r\n")
        await writer.drain()

    raw_box: list[RawUpstream] = []
    async with upstream(stream) as (raw, client):
        raw_box.append(raw)
        async with client.stream("GET", "/v1/stats/stream") as answer:
            chunks = answer.aiter_raw()
            assert await anext(chunks) == b"data: first\n\n"
            gate.set()
            assert await anext(chunks) == b"data: second\n\n"


async def test_idle_connections_are_retired_before_the_upstream_would_close_them() -> None:
    holder: list[RawUpstream] = []
    raw = RawUpstream(keep_alive(lambda: holder[0]))
    holder.append(raw)
    port = free_port()
    server = await asyncio.start_server(raw.serve, "127.0.0.1", port)
    transport = LeanHTTPTransport(max_connections=2, idle_seconds=0.1)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport) as client:
        assert (await client.get("/a")).status_code == 200
        await asyncio.sleep(0.2)
        assert (await client.get("/b")).status_code == 200
    server.close()
    await server.wait_closed()
    assert raw.connections == 2
