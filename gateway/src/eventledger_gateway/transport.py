"""A lean HTTP/1.1 keep-alive transport for ``httpx.AsyncClient`` to one upstream origin.

Why: httpcore's pool checks every pooled connection (a readability syscall each) twice per request; at the
gateway's concurrency that cost more than everything else the gateway does (ADR 0008). This transport keeps idle
connections on a stack, checks only the one it takes, and speaks HTTP/1.1 with h11 (the parser httpcore uses).

Contract (that of ``httpx.AsyncBaseTransport``):
- at most ``max_connections`` requests are in flight; waiting longer than the pool timeout raises
  ``httpx.PoolTimeout``;
- failures raise httpx's exceptions: ``ConnectError``/``ConnectTimeout`` (nothing was sent),
  ``WriteError``/``WriteTimeout``, ``ReadError``/``ReadTimeout`` (per read, so a stream may stay open while data
  flows), ``RemoteProtocolError`` (the upstream closed or broke the protocol);
- a connection goes back to the pool only after a complete exchange that both sides keep alive; an idle
  connection is dropped after ``idle_seconds`` (below the upstream's keep-alive timeout: uvicorn's is 5 s) or
  when the upstream has closed it;
- a request sent on a reused connection that the upstream closed before answering a single byte is sent again
  once on a new connection, but only when repeating it is harmless: a GET, or a request with an
  ``Idempotency-Key`` (the rule of Go's net/http). Anything else surfaces as ``RemoteProtocolError``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx

_READ_SIZE = 65536


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reused: bool = False) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = h11.Connection(h11.CLIENT)
        self.idle_since = time.monotonic()
        self.reused = reused
        self.answered = False  # whether any byte of the current answer arrived

    def usable(self, idle_seconds: float) -> bool:
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.monotonic() - self.idle_since < idle_seconds
        )

    def reusable(self) -> bool:
        return self.protocol.our_state is h11.DONE and self.protocol.their_state is h11.DONE

    def close(self) -> None:
        self.writer.close()

    async def send(self, request: httpx.Request, seconds: float | None) -> None:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        try:
            async with asyncio.timeout(seconds):
                target = request.url.raw_path
                headers = [(name, value) for name, value in request.headers.raw]
                data = self.protocol.send(h11.Request(method=request.method, target=target, headers=headers)) or b""
                if body:
                    data += self.protocol.send(h11.Data(data=body)) or b""
                data += self.protocol.send(h11.EndOfMessage()) or b""
                self.writer.write(data)
                await self.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("writing the request timed out", request=request) from None
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from None
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from None

    async def next_event(self, request: httpx.Request, seconds: float | None) -> Any:
        while True:
            try:
                event = self.protocol.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from None
            if event is not h11.NEED_DATA:
                return event
            try:
                async with asyncio.timeout(seconds):
                    data = await self.reader.read(_READ_SIZE)
            except TimeoutError:
                raise httpx.ReadTimeout("the upstream did not answer in time", request=request) from None
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from None
            if data:
                self.answered = True
            self.protocol.receive_data(data)


class LeanHTTPTransport(httpx.AsyncBaseTransport):
    """Pooled HTTP/1.1 to the origin of the requests it is given (one upstream per transport)."""

    def __init__(self, *, max_connections: int, idle_seconds: float = 2.0) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []
        self._idle_seconds = idle_seconds
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no upstream connection came free in time", request=request) from None
        try:
            return await self._exchange(request, timeouts)
        except BaseException:
            self._slots.release()
            raise

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    async def _exchange(self, request: httpx.Request, timeouts: dict[str, float | None]) -> httpx.Response:
        connection = await self._connection(request, timeouts.get("connect"))
        try:
            return await self._send(connection, request, timeouts)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            if not (connection.reused and not connection.answered and _replayable(request)):
                raise
        connection = await self._connect(request, timeouts.get("connect"))
        return await self._send(connection, request, timeouts)

    async def _send(
        self, connection: _Connection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> httpx.Response:
        """One request on ``connection``; on any failure the connection is closed (never pooled again)."""
        try:
            await connection.send(request, timeouts.get("write"))
            head = await connection.next_event(request, timeouts.get("read"))
            while isinstance(head, h11.InformationalResponse):
                head = await connection.next_event(request, timeouts.get("read"))
            if not isinstance(head, h11.Response):
                raise httpx.RemoteProtocolError("the upstream closed the connection without answering", request=request)
        except BaseException:
            connection.close()
            raise
        return httpx.Response(
            head.status_code,
            headers=head.headers,
            stream=_Body(self, connection, request, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
        )

    async def _connection(self, request: httpx.Request, seconds: float | None) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(self._idle_seconds):
                connection.reused = True
                connection.answered = False
                return connection
            connection.close()
        return await self._connect(request, seconds)

    async def _connect(self, request: httpx.Request, seconds: float | None) -> _Connection:
        host, port = request.url.host, request.url.port or (443 if request.url.scheme == "https" else 80)
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol("the gateway reaches its upstreams over plain HTTP", request=request)
        try:
            async with asyncio.timeout(seconds):
                reader, writer = await asyncio.open_connection(host, port, limit=_READ_SIZE)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from None
        return _Connection(reader, writer)

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and connection.reusable() and not self._closed:
            connection.protocol.start_next_cycle()
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
            if len(self._idle) > 1 and not self._idle[0].usable(self._idle_seconds):
                self._idle.pop(0).close()  # the oldest idle connection: close it before the upstream does
        else:
            connection.close()
        self._slots.release()


class _Body(httpx.AsyncByteStream):
    def __init__(
        self, transport: LeanHTTPTransport, connection: _Connection, request: httpx.Request, seconds: float | None
    ) -> None:
        self._transport = transport
        self._connection = connection
        self._request = request
        self._seconds = seconds
        self._complete = False
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self._complete:
            event = await self._connection.next_event(self._request, self._seconds)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._complete = True
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("the upstream closed the connection mid-answer", request=self._request)

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            self._transport._release(self._connection, self._complete)


def _replayable(request: httpx.Request) -> bool:
    return request.method in {"GET", "HEAD", "OPTIONS"} or "idempotency-key" in request.headers
