"""LeanHTTPSession (``aiokit._botocore.http11``): real HTTP/1.1 with a scripted raw server.

Every test talks to an asyncio server on 127.0.0.1 (port 0) whose answers are raw bytes the
test chooses, so framing, errors and connection reuse are seen from both ends: what the
client returns, and what the server received on which connection.
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import io
import ipaddress
import socket
import ssl
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiobotocore.awsrequest import AioAWSResponse
from botocore.awsrequest import AWSPreparedRequest, HeadersDict
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import aiokit
from aiokit._botocore.http11 import LeanHTTPSession

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

# A bound on waits for something that should happen at once; never a measured threshold.
PATIENCE = 5.0


# -- the scripted server ------------------------------------------------------------------


@dataclass(eq=False)
class Request:
    """One request as the server read it off the wire."""

    number: int  # its position among all the requests the server received
    connection: int  # the index of the connection it came on
    head: bytes  # the request line and headers, without the final CRLF CRLF
    body: bytes = b""

    @property
    def request_line(self) -> str:
        return self.head.decode("latin-1").split("\r\n")[0]

    @property
    def method(self) -> str:
        return self.request_line.split(" ")[0]

    @property
    def target(self) -> str:
        return self.request_line.split(" ")[1]

    @property
    def headers(self) -> list[tuple[str, str]]:
        pairs = []
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            pairs.append((name.strip(), value.strip()))
        return pairs

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass(eq=False)
class Conn:
    """One connection the server accepted."""

    index: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    requests: list[Request] = field(default_factory=list)
    ended: bool = False  # the server is done with it (it closed, or the client did)
    peer_closed: bool = False  # the client ended it (EOF or reset)

    async def send(self, *pieces: bytes) -> None:
        """Write each piece, draining after each."""
        for piece in pieces:
            self.writer.write(piece)
            await self.writer.drain()

    async def trickle(self, data: bytes) -> None:
        """Write one byte at a time, draining (and yielding) after each."""
        for i in range(len(data)):
            self.writer.write(data[i : i + 1])
            await self.writer.drain()
            await asyncio.sleep(0)

    def close(self) -> None:
        self.writer.close()

    async def wait_for_peer_close(self) -> None:
        """Read and discard until the client ends the connection."""
        try:
            while await self.reader.read(65536):
                pass
        except OSError:
            pass
        self.peer_closed = True


Handler = Callable[[Request, Conn], Awaitable[None]]


class ScriptedServer:
    """An HTTP/1.1 server on 127.0.0.1 whose every answer is scripted by the test.

    It reads each request (head, then a ``Content-Length`` body; answering an
    ``Expect: 100-continue`` with an interim ``100`` first, as servers do) and calls
    ``handler(request, conn)``, which writes whatever raw bytes it likes, may close the
    connection, or may never answer. It records the connections, the requests on each, and
    the number of connections open at once.
    """

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.connections: list[Conn] = []
        self.requests: list[Request] = []
        self.open_now = 0
        self.max_open = 0
        self.port = 0
        self.errors: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Event()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for _ in range(3):  # let a just-accepted connection's tasks start
            await asyncio.sleep(0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in self.connections:
            conn.writer.close()
            try:
                await asyncio.wait_for(conn.writer.wait_closed(), PATIENCE)
            except TimeoutError:
                conn.writer.transport.abort()
            except Exception:
                pass
        await self._server.wait_closed()
        if self.errors and exc_info[0] is None:
            raise AssertionError(f"the scripted server failed: {self.errors!r}")

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait (a few seconds at most) until ``predicate()`` holds for the server's state."""
        async with asyncio.timeout(PATIENCE):
            while not predicate():
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The connection is served by a task of the server's own, which it can cancel on exit
        # (cancelling asyncio's own callback task makes asyncio log an error).
        task = asyncio.create_task(self._converse(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(len(self.connections), reader, writer)
        self.connections.append(conn)
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        self._notify()
        try:
            while not writer.is_closing():
                request = await self._read_request(conn)
                if request is None:
                    conn.peer_closed = True
                    break
                conn.requests.append(request)
                self.requests.append(request)
                self._notify()
                await self.handler(request, conn)
        except (OSError, asyncio.IncompleteReadError):
            conn.peer_closed = True
        except Exception as error:  # a bug in a handler: reported when the server exits
            self.errors.append(error)
        finally:
            self.open_now -= 1
            conn.ended = True
            writer.close()
            self._notify()

    async def _read_request(self, conn: Conn) -> Request | None:
        try:
            head = await conn.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, OSError):
            return None
        request = Request(len(self.requests), conn.index, head[:-4])
        if [v.lower() for v in request.values("Expect")] == ["100-continue"]:
            await conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        lengths = request.values("Content-Length")
        if lengths:
            request.body = await conn.reader.readexactly(int(lengths[0]))
        return request


def answer(
    body: bytes = b"",
    status: str = "200 OK",
    headers: Sequence[str] = (),
    *,
    length: bool = True,
) -> bytes:
    """A raw HTTP/1.1 answer; with a ``Content-Length`` unless ``length`` is false."""
    lines = [f"HTTP/1.1 {status}", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def replying(make: Callable[[Request], bytes]) -> Handler:
    """A handler writing ``make(request)`` to every request."""

    async def handle(request: Request, conn: Conn) -> None:
        await conn.send(make(request))

    return handle


def numbered(request: Request) -> bytes:
    return answer(f"answer {request.number}".encode())


def prepared(
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: Any = None,
    stream_output: bool = False,
) -> AWSPreparedRequest:
    return AWSPreparedRequest(method, url, HeadersDict(headers or {}), body, stream_output)


async def fetch(session: LeanHTTPSession, url: str, **kwargs: Any) -> tuple[AioAWSResponse, bytes]:
    response = await session.send(prepared(url, **kwargs))
    return response, await response.content


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- 1. keep-alive ------------------------------------------------------------------------


async def test_sequential_requests_share_one_keep_alive_connection() -> None:
    def make(request: Request) -> bytes:
        body = f"answer {request.number} to {request.target}".encode()
        return answer(body, headers=[f"X-Answer-Number: {request.number}", "Content-Type: a/b"])

    async with ScriptedServer(replying(make)) as server:
        async with LeanHTTPSession() as session:
            for n in range(5):
                response, content = await fetch(session, f"{server.url}/item/{n}")
                assert not isinstance(response.raw, aiohttp.ClientResponse)  # aiokit's own
                assert response.status_code == 200
                assert content == f"answer {n} to /item/{n}".encode()
                names = list(response.headers)
                assert names == [name.lower() for name in names]
                assert {"x-answer-number", "content-type", "content-length"} <= set(names)
                assert response.headers["x-answer-number"] == str(n)
                assert response.headers["content-type"] == "a/b"
        assert len(server.requests) == 5
        assert len(server.connections) == 1
        assert [r.connection for r in server.requests] == [0] * 5


# -- 2. framing of the answer -------------------------------------------------------------


async def _content_length(conn: Conn) -> None:
    await conn.send(answer(b"hello, framed"))


async def _chunked_trickled(conn: Conn) -> None:
    await conn.trickle(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"8\r\n, chunks\r\n"
        b"0\r\nX-Trailer: yes\r\nX-Other-Trailer: also\r\n\r\n"
    )


async def _http10_until_eof(conn: Conn) -> None:
    await conn.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", b"until ", b"EOF")
    conn.close()


async def _connection_close(conn: Conn) -> None:
    # The server leaves the connection open: the client must not reuse it on its own.
    await conn.send(answer(b"last one", headers=["Connection: close"]))


async def _interim_continue(conn: Conn) -> None:
    await conn.send(b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n")
    await conn.send(answer(b"the real answer", headers=["X-Final: 1"]))


async def _head_with_length(conn: Conn) -> None:
    await conn.send(answer(b"", headers=["Content-Length: 1234"], length=False))


async def _no_content(conn: Conn) -> None:
    await conn.send(b"HTTP/1.1 204 No Content\r\nX-Empty: 1\r\n\r\n")


@dataclass
class Framing:
    id: str
    script: Callable[[Conn], Awaitable[None]]
    body: bytes
    connections: int  # after this answer and one more request
    method: str = "GET"
    status: int = 200
    peer_closes_first: bool = False  # the client must close the first connection itself


FRAMINGS = [
    Framing("content-length", _content_length, b"hello, framed", 1),
    Framing("chunked-trickled", _chunked_trickled, b"hello, chunks", 1),
    Framing("http1.0-until-eof", _http10_until_eof, b"until EOF", 2),
    Framing("connection-close", _connection_close, b"last one", 2, peer_closes_first=True),
    Framing("interim-100", _interim_continue, b"the real answer", 1),
    Framing("head-with-length", _head_with_length, b"", 1, method="HEAD"),
    Framing("204", _no_content, b"", 1, status=204),
]


@pytest.mark.parametrize("case", FRAMINGS, ids=[case.id for case in FRAMINGS])
async def test_answer_framing(case: Framing) -> None:
    async def handle(request: Request, conn: Conn) -> None:
        if request.number == 0:
            await case.script(conn)
        else:
            await conn.send(answer(b"second"))

    async with ScriptedServer(handle) as server:
        async with LeanHTTPSession() as session:
            response, content = await fetch(session, f"{server.url}/first", method=case.method)
            assert not isinstance(response.raw, aiohttp.ClientResponse)  # aiokit's own
            assert response.status_code == case.status
            assert content == case.body
            if case.id == "interim-100":
                assert response.headers.get("x-final") == "1"
                assert "x-interim" not in response.headers
            if case.id == "head-with-length":
                assert response.headers["content-length"] == "1234"
            second, second_content = await fetch(session, f"{server.url}/second")
            assert (second.status_code, second_content) == (200, b"second")
            assert len(server.connections) == case.connections
            assert [r.connection for r in server.requests] == [0, case.connections - 1]
            if case.peer_closes_first:
                await server.until(lambda: server.connections[0].ended)
                assert server.connections[0].peer_closed


# -- 3. the request on the wire -----------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "target"),
    [
        (
            "/bucket/some%20key?list-type=2&prefix=a%2Fb",
            "/bucket/some%20key?list-type=2&prefix=a%2Fb",
        ),
        ("/", "/"),
        ("", "/"),
        ("?Action=ListQueues", "/?Action=ListQueues"),
    ],
)
async def test_request_line_host_and_accept_encoding(suffix: str, target: str) -> None:
    async with ScriptedServer(replying(numbered)) as server:
        headers = {"Accept-Encoding": "gzip, deflate", "X-Amz-Date": "20250101T000000Z"}
        async with LeanHTTPSession() as session:
            response, content = await fetch(session, server.url + suffix, headers=headers)
        assert (response.status_code, content) == (200, b"answer 0")
        [request] = server.requests
        assert request.request_line == f"GET {target} HTTP/1.1"
        assert request.values("Host") == [f"127.0.0.1:{server.port}"]
        assert request.values("Accept-Encoding") == ["identity"]
        assert request.values("X-Amz-Date") == ["20250101T000000Z"]


@pytest.mark.parametrize(
    ("method", "body", "headers", "sent"),
    [
        ("PUT", b"\x00binary\xff\r\n", {"Content-Length": "10"}, b"\x00binary\xff\r\n"),
        ("PUT", b"lower-case header", {"content-length": "17"}, b"lower-case header"),
        (
            "POST",
            b"Action=ListQueues&Version=2012-11-05",
            {},
            b"Action=ListQueues&Version=2012-11-05",
        ),
        ("POST", bytearray(b"a bytearray"), {}, b"a bytearray"),
        ("POST", "h\u00e9llo w\u00f6rld \u2603", {}, "h\u00e9llo w\u00f6rld \u2603".encode()),
        ("POST", None, {}, b""),
        ("POST", b"", {}, b""),
    ],
    ids=["bytes+length", "lower-case-length", "bytes", "bytearray", "str", "none", "empty"],
)
async def test_request_body_on_the_wire(
    method: str, body: Any, headers: dict[str, str], sent: bytes
) -> None:
    async with ScriptedServer(replying(numbered)) as server:
        async with LeanHTTPSession() as session:
            response, content = await fetch(
                session, f"{server.url}/upload", method=method, headers=headers, body=body
            )
        assert (response.status_code, content) == (200, b"answer 0")
        [request] = server.requests
        assert request.request_line == f"{method} /upload HTTP/1.1"
        assert request.values("Content-Length") == [str(len(sent))]
        assert request.body == sent


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nX-Injected: 1", "a\rb"])
async def test_header_with_a_line_break_is_refused_before_sending(value: str) -> None:
    async with ScriptedServer(replying(numbered)) as server:
        async with LeanHTTPSession() as session:
            with pytest.raises(HTTPClientError):
                await session.send(prepared(f"{server.url}/bad", headers={"X-Bad": value}))
            assert server.connections == []
            assert server.requests == []
            _, content = await fetch(session, f"{server.url}/good")
        assert content == b"answer 0"
        assert [r.target for r in server.requests] == ["/good"]
        assert server.requests[0].values("X-Injected") == []


# -- 4. errors ----------------------------------------------------------------------------


async def test_closed_port_is_an_endpoint_connection_error() -> None:
    async with LeanHTTPSession() as session:
        with pytest.raises(EndpointConnectionError):
            await session.send(prepared(f"http://127.0.0.1:{closed_port()}/"))


async def test_unanswered_connect_is_a_connect_timeout() -> None:
    """The config's ``connect_timeout`` bounds the TCP handshake (botocore's
    ``ConnectTimeoutError``), not the request: a listener whose accept queue is full leaves
    the next SYN unanswered."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        fillers = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(address)
            async with LeanHTTPSession(timeout=(0.3, 30)) as session:
                with pytest.raises(ConnectTimeoutError):
                    async with asyncio.timeout(PATIENCE):  # not the session's: a failure
                        await session.send(prepared(f"http://127.0.0.1:{address[1]}/"))
        finally:
            for filler in fillers:
                filler.close()


async def test_socket_options_botocore_asks_for_are_set_on_each_connection() -> None:
    """botocore's ``socket_options`` (TCP_NODELAY, and SO_KEEPALIVE with the config's
    ``tcp_keepalive``) are set on every connection aiokit opens, as urllib3 sets them."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    async with ScriptedServer(replying(numbered)) as server:
        for asked, expected in ((None, 0), (options, 1)):
            async with LeanHTTPSession(socket_options=asked) as session:
                response, _ = await fetch(session, f"{server.url}/")
                assert response.status_code == 200
                (connection,) = session._open  # kept alive: the one connection
                sock = connection.transport.get_extra_info("socket")
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == expected


async def test_silent_server_is_a_read_timeout() -> None:
    async def handle(request: Request, conn: Conn) -> None:
        await conn.wait_for_peer_close()

    async with ScriptedServer(handle) as server:
        async with LeanHTTPSession(timeout=(2, 0.3)) as session:
            with pytest.raises(ReadTimeoutError):
                await session.send(prepared(f"{server.url}/slow"))
            # the client gave the connection up
            await server.until(lambda: server.connections[0].ended)
            assert server.connections[0].peer_closed


@pytest.mark.parametrize(
    "partial",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Len",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some of it",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly a few",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
    ],
    ids=["nothing", "mid-head", "head-only", "mid-body", "mid-chunk", "no-last-chunk"],
)
async def test_server_closing_mid_answer_is_connection_closed(partial: bytes) -> None:
    async def handle(request: Request, conn: Conn) -> None:
        await conn.send(partial)
        conn.close()

    async with ScriptedServer(handle) as server:
        async with LeanHTTPSession() as session:
            with pytest.raises(ConnectionClosedError):
                await session.send(prepared(f"{server.url}/cut"))
        assert len(server.connections) == 1  # a fresh connection's failure is not retried


@pytest.mark.parametrize(
    "garbage",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    ],
    ids=["word", "no-status-code", "not-http", "bad-header-line"],
)
async def test_garbage_answer_is_connection_closed(garbage: bytes) -> None:
    async def handle(request: Request, conn: Conn) -> None:
        await conn.send(garbage)
        await conn.wait_for_peer_close()  # the client must give up on its own

    async with ScriptedServer(handle) as server:
        async with LeanHTTPSession() as session:
            with pytest.raises(ConnectionClosedError):
                await session.send(prepared(f"{server.url}/garbage"))


# -- 5. a kept-alive connection the server closed -----------------------------------------


async def test_idle_connection_closed_by_the_server_is_not_reused() -> None:
    async def handle(request: Request, conn: Conn) -> None:
        await conn.send(numbered(request))
        if request.number == 0:
            conn.close()  # no "Connection: close": the client cannot know in advance

    async with ScriptedServer(handle) as server:
        async with LeanHTTPSession() as session:
            _, first = await fetch(session, f"{server.url}/one")
            _, second = await fetch(session, f"{server.url}/two")
        assert (first, second) == (b"answer 0", b"answer 1")
        assert len(server.connections) == 2
        assert [r.connection for r in server.requests] == [0, 1]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_stale_connection_retries_only_idempotent_requests(method: str) -> None:
    """The server closes its idle connection just as the next request arrives on it, so the
    client sees that connection end before any byte of an answer."""

    async def handle(request: Request, conn: Conn) -> None:
        if conn.index == 0 and len(conn.requests) == 2:
            conn.close()
        else:
            await conn.send(numbered(request))

    async with ScriptedServer(handle) as server:
        async with LeanHTTPSession() as session:
            _, first = await fetch(session, f"{server.url}/one")
            assert first == b"answer 0"
            if method == "GET":
                response, content = await fetch(session, f"{server.url}/two")
                assert (response.status_code, content) == (200, b"answer 2")
                assert [(r.connection, r.target) for r in server.requests] == [
                    (0, "/one"),
                    (0, "/two"),
                    (1, "/two"),
                ]
            else:
                with pytest.raises(ConnectionClosedError):
                    await session.send(prepared(f"{server.url}/two", "POST", body=b"once"))
                assert [(r.connection, r.target) for r in server.requests] == [
                    (0, "/one"),
                    (0, "/two"),
                ]
                assert len(server.connections) == 1


# -- 6. the pool bound --------------------------------------------------------------------


async def test_max_pool_connections_bounds_connections_in_use() -> None:
    release = asyncio.Event()

    async def handle(request: Request, conn: Conn) -> None:
        await release.wait()
        await conn.send(answer(f"for {request.target}".encode()))

    async with ScriptedServer(handle) as server:
        async with LeanHTTPSession(max_pool_connections=2) as session:
            tasks = [asyncio.create_task(fetch(session, f"{server.url}/r{i}")) for i in range(6)]
            try:
                await server.until(lambda: len(server.requests) >= 2)
                await asyncio.sleep(0.1)  # room for a third connection, were there one
                assert server.max_open == 2
                assert len(server.requests) == 2
                release.set()
                results = await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        assert [content for _, content in results] == [f"for /r{i}".encode() for i in range(6)]
        assert all(response.status_code == 200 for response, _ in results)
        assert sorted(r.target for r in server.requests) == sorted(f"/r{i}" for i in range(6))
        assert server.max_open == 2
        assert len(server.connections) == 2


# -- 7. keepalive_timeout -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("connector_args", "connections"),
    [({"keepalive_timeout": 0.2}, 2), (None, 1)],
    ids=["keepalive-0.2s", "default"],
)
async def test_keepalive_timeout_expires_idle_connections(
    connector_args: dict[str, Any] | None, connections: int
) -> None:
    async with ScriptedServer(replying(numbered)) as server:
        async with LeanHTTPSession(connector_args=connector_args) as session:
            _, first = await fetch(session, f"{server.url}/one")
            await asyncio.sleep(0.4)
            _, second = await fetch(session, f"{server.url}/two")
        assert (first, second) == (b"answer 0", b"answer 1")
        assert len(server.connections) == connections


# -- 8. cancellation ----------------------------------------------------------------------


async def test_cancelled_exchange_closes_its_connection() -> None:
    async def handle(request: Request, conn: Conn) -> None:
        if request.target == "/hold":
            await conn.wait_for_peer_close()  # the answer is withheld
        else:
            await conn.send(answer(b"after"))

    async with ScriptedServer(handle) as server:
        async with LeanHTTPSession() as session:
            task = asyncio.create_task(session.send(prepared(f"{server.url}/hold")))
            await server.until(lambda: len(server.requests) == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            held = server.connections[0]
            await server.until(lambda: held.ended)
            assert held.peer_closed
            response, content = await fetch(session, f"{server.url}/next")
            assert (response.status_code, content) == (200, b"after")
            assert [r.connection for r in server.requests] == [0, 1]
        # closing the session closed its idle connection too
        await server.until(lambda: all(conn.ended for conn in server.connections))
        assert all(conn.peer_closed for conn in server.connections)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


# -- 9. what goes through aiohttp ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        ({"stream_output": True}, b""),
        ({"method": "PUT", "body": io.BytesIO(b"a file body")}, b"a file body"),
        (
            {"method": "PUT", "body": b"after continue", "headers": {"Expect": "100-continue"}},
            b"after continue",
        ),
    ],
    ids=["stream-output", "file-body", "expect-100-continue"],
)
async def test_delegated_to_aiohttp(kwargs: dict[str, Any], sent: bytes) -> None:
    async with ScriptedServer(replying(lambda r: answer(b"echo:" + r.body))) as server:
        async with LeanHTTPSession() as session:
            response = await session.send(prepared(f"{server.url}/delegated", **kwargs))
            assert isinstance(response.raw, aiohttp.ClientResponse)
            content = await response.content
        assert (response.status_code, content) == (200, b"echo:" + sent)
        [request] = server.requests
        assert request.body == sent
        assert request.values("Accept-Encoding") == ["identity"]
        if "headers" in kwargs:
            assert request.values("Expect") == ["100-continue"]


async def test_proxy_goes_through_aiohttp() -> None:
    async with (
        ScriptedServer(replying(lambda r: answer(b"from the proxy"))) as proxy,
        ScriptedServer(replying(lambda r: answer(b"from the origin"))) as origin,
    ):
        async with LeanHTTPSession(proxies={"http": proxy.url}) as session:
            response, content = await fetch(session, f"{origin.url}/path?q=1")
        assert isinstance(response.raw, aiohttp.ClientResponse)
        assert (response.status_code, content) == (200, b"from the proxy")
        [request] = proxy.requests
        assert request.request_line == f"GET {origin.url}/path?q=1 HTTP/1.1"
        assert origin.connections == []


# -- 10. TLS ------------------------------------------------------------------------------


def make_certificate(
    directory: Path, *, dns: Sequence[str], ips: Sequence[str] = ()
) -> tuple[Path, Path]:
    """A self-signed certificate (no CA) for these names; returns (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0])])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{dns[0]}.pem"
    key_path = directory / f"{dns[0]}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


async def test_https_verifies_against_the_given_bundle(tmp_path: Path) -> None:
    cert_path, key_path = make_certificate(tmp_path, dns=["localhost"], ips=["127.0.0.1"])
    tls = server_context(cert_path, key_path)
    async with ScriptedServer(replying(numbered), tls=tls) as server:
        assert server.url.startswith("https://127.0.0.1:")
        async with LeanHTTPSession(verify=str(cert_path)) as session:
            first, first_content = await fetch(session, f"{server.url}/secure")
            assert not isinstance(first.raw, aiohttp.ClientResponse)  # aiokit's own path
            _, second_content = await fetch(session, f"{server.url}/again")
        assert (first.status_code, first_content, second_content) == (
            200,
            b"answer 0",
            b"answer 1",
        )
        assert server.requests[0].values("Host") == [f"127.0.0.1:{server.port}"]
        assert len(server.connections) == 1


@pytest.mark.parametrize("case", ["other-name", "system-bundle"])
async def test_https_refuses_an_unverifiable_certificate(tmp_path: Path, case: str) -> None:
    if case == "other-name":
        cert_path, key_path = make_certificate(tmp_path, dns=["example.invalid"])
        verify: bool | str = str(cert_path)  # trusted, but not for 127.0.0.1
    else:
        cert_path, key_path = make_certificate(tmp_path, dns=["localhost"], ips=["127.0.0.1"])
        verify = True  # the default bundle, which does not hold it
    tls = server_context(cert_path, key_path)
    async with ScriptedServer(replying(numbered), tls=tls) as server:
        async with LeanHTTPSession(verify=verify) as session:
            with pytest.raises(SSLError):
                await session.send(prepared(f"{server.url}/secure"))
        assert server.requests == []


async def test_a_client_certificate_is_presented(tmp_path: Path) -> None:
    """With ``client_cert`` (mutual TLS) the request goes through aiobotocore's session, whose
    SSL context holds the certificate: neither aiokit's connections nor its shared SSL
    context (one per CA bundle, no client certificate) may take it."""
    cert_path, key_path = make_certificate(tmp_path, dns=["localhost"], ips=["127.0.0.1"])
    client_cert, client_key = make_certificate(tmp_path, dns=["client.invalid"])
    tls = server_context(cert_path, key_path)
    tls.verify_mode = ssl.CERT_REQUIRED  # no certificate from the client: no handshake
    tls.load_verify_locations(client_cert)
    async with ScriptedServer(replying(numbered), tls=tls) as server:
        async with LeanHTTPSession(
            verify=str(cert_path), client_cert=(str(client_cert), str(client_key))
        ) as session:
            response, content = await fetch(session, f"{server.url}/mutual")
        assert isinstance(response.raw, aiohttp.ClientResponse)
        assert (response.status_code, content) == (200, b"answer 0")


# -- 11. end to end, on moto --------------------------------------------------------------


async def test_pool_client_on_moto(aiokit_pool: aiokit.SessionPool) -> None:
    s3 = await aiokit_pool.client("s3")
    http_session = s3._endpoint.http_session
    assert isinstance(http_session, LeanHTTPSession)
    await s3.create_bucket(Bucket="lean")
    empty = await s3.list_objects_v2(Bucket="lean")
    assert empty["KeyCount"] == 0
    # aiobotocore's aiohttp sessions, made on first use: none so far, all went the lean way
    assert http_session._sessions == {}
    # botocore sends a bytes Body as a file with "Expect: 100-continue": through aiohttp
    await s3.put_object(Bucket="lean", Key="a/b.txt", Body=b"hello, lean")
    listing = await s3.list_objects_v2(Bucket="lean")
    assert [(o["Key"], o["Size"]) for o in listing["Contents"]] == [("a/b.txt", 11)]
    got = await s3.get_object(Bucket="lean", Key="a/b.txt")
    assert isinstance(got["Body"].__wrapped__, aiohttp.ClientResponse)  # streamed: aiohttp
    assert await got["Body"].read() == b"hello, lean"
    assert got["ContentLength"] == 11
