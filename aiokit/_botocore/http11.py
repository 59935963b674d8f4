"""aiokit's HTTP session: plain requests over its own HTTP/1.1 keep-alive connections.

aiohttp's client costs a crawl about a sixth of its CPU per request: a ``ClientRequest``,
a ``ClientResponse``, a stream reader, timers and several callbacks per exchange, when an
AWS API call is one small request and one small, fully read answer. ``LeanHTTPSession``
sends those over plain asyncio connections (a ``Protocol`` that parses the answer as it
arrives) and hands everything else to aiobotocore's aiohttp session, unchanged:

- a streamed answer (``get_object``'s ``Body``, event streams), a streamed or file body,
  ``Expect: 100-continue``, a chunked upload;
- a proxy, a client certificate, ``verify=False``, or connector arguments other than
  ``keepalive_timeout`` and ``force_close``.

What it keeps of aiobotocore's session: the same errors (botocore's
``EndpointConnectionError``, ``ConnectTimeoutError``, ``ReadTimeoutError`` as an
inactivity timeout between reads, ``ConnectionClosedError``, ``SSLError``), the same
headers on the wire (``Accept-Encoding: identity``; the answer's header names lower-cased),
``max_pool_connections`` as the bound on connections in use, ``keepalive_timeout`` for
idle ones, one retry of an idempotent request whose reused connection the server had
already closed (as aiohttp does), and the ``socket_options`` botocore asks for (TCP
keep-alive), which aiohttp ignores. HTTPS verifies the certificate and the host name.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from aiobotocore._constants import DEFAULT_KEEPALIVE_TIMEOUT
from aiobotocore.awsrequest import AioAWSResponse
from botocore.httpsession import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
    get_cert_path,
)

from .._errors import InvalidParameterError
from .httpsession import SharedSSLHTTPSession, shared_ssl_context

__all__ = ["LeanHTTPSession"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
# The connector arguments this session honours itself; any other sends through aiohttp.
_HONOURED_CONNECTOR_ARGS = frozenset({"keepalive_timeout", "force_close"})


class _Route:
    """Where requests for one ``scheme://host:port`` go."""

    __slots__ = ("host", "host_header", "key", "origin_length", "port", "tls")

    def __init__(
        self, scheme: str, host: str, port: int, host_header: str, origin_length: int
    ) -> None:
        self.key = (scheme, host, port)
        self.origin_length = origin_length  # of "scheme://netloc", where the path starts
        self.host = host
        self.port = port
        self.host_header = host_header
        self.tls = scheme == "https"


class _Closed(Exception):
    """The connection ended, or sent something that is not HTTP, before a whole answer."""

    def __init__(self, message: str, *, received: bool = True, reused: bool = False) -> None:
        super().__init__(message)
        self.received = received  # whether any byte of an answer had arrived
        self.reused = reused  # whether the connection had carried an exchange before

    @property
    def stale(self) -> bool:
        """A kept-alive connection the server had closed before it read this request."""
        return self.reused and not self.received


class _ReadTimeout(Exception):
    """No byte arrived within the read timeout."""


class _Body:
    """The ``raw`` of a fully read answer: ``AioAWSResponse.content`` reads it."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, amt: int | None = None) -> bytes:
        data, self._data = self._data, b""
        return data


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection carrying one exchange at a time.

    The answer is parsed as bytes arrive: the head once ``CRLF CRLF`` is in, then a body
    framed by ``Content-Length``, by chunks, or (HTTP/1.0 style) by the end of the
    connection.
    """

    def __init__(self, on_lost: Callable[[_Connection], None]) -> None:
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, dict[str, str], bytes]] | None = None
        self._no_body = False
        self._last_read = 0.0
        self._timeout: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._reset()

    def _reset(self) -> None:
        self._head_end = -1
        self._status = 0
        self._headers: dict[str, str] = {}
        self._length = -1  # bytes of body still to come; -1: chunked or until EOF
        self._chunked = False
        self._chunks: list[bytes] = []
        self._keep_alive = True
        self._received = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._received = True
        waiter = self._waiter
        if waiter is None:  # bytes nobody asked for: this connection is not reusable
            self._keep_alive = False
            return
        self._last_read = waiter.get_loop().time()
        try:
            answer = self._parse()
        except _Closed as error:
            self._fail(error)
            return
        if answer is not None:
            self._settle(answer)

    def eof_received(self) -> bool:
        if self._waiter is not None and self._head_end >= 0 and self._length < 0:
            if not self._chunked:  # a body that runs until the connection ends
                answer = (self._status, self._headers, bytes(self._buffer[self._head_end :]))
                self._buffer.clear()
                self._keep_alive = False
                self._settle(answer)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._on_lost(self)
        if self._waiter is not None:
            reason = f"connection closed before the whole answer ({exc or 'EOF'})"
            self._fail(_Closed(reason, received=self._received, reused=self.reused))

    # -- one exchange ----------------------------------------------------------------------

    def start(
        self,
        waiter: asyncio.Future[Any],
        data: bytes,
        body: bytes,
        head: bool,
        timeout: float | None,
    ) -> None:
        """Send one request; ``waiter`` gets ``(status, headers, body)``, or an error when the
        connection ends first or nothing arrives for ``timeout`` seconds."""
        assert self.transport is not None
        self._reset()
        self._no_body = head
        self._waiter = waiter
        loop = waiter.get_loop()
        self._last_read = loop.time()
        self._timeout = timeout
        if timeout:
            self._timer = loop.call_at(self._last_read + timeout, self._check_timeout)
        if body and len(body) > 65536:
            self.transport.write(data)
            self.transport.write(body)
        else:
            self.transport.write(data + body if body else data)

    @property
    def reusable(self) -> bool:
        return self._keep_alive and not self.closed and not self._buffer

    def _check_timeout(self) -> None:
        waiter, timeout = self._waiter, self._timeout
        if waiter is None or not timeout:
            return
        due = self._last_read + timeout
        if due > waiter.get_loop().time():  # something arrived meanwhile: look again then
            self._timer = waiter.get_loop().call_at(due, self._check_timeout)
            return
        self._fail(_ReadTimeout(f"no data for {timeout:g} s"))
        self.close()

    def close(self) -> None:
        self._keep_alive = False
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort(self) -> None:
        self._keep_alive = False
        self._settle(None)
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def _fail(self, error: Exception) -> None:
        self._keep_alive = False
        self._settle(error)

    def _settle(self, outcome: tuple[int, dict[str, str], bytes] | Exception | None) -> None:
        """End the exchange: its answer, its error, or (None) nobody waits any more."""
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is None or waiter.done() or outcome is None:
            return
        if isinstance(outcome, Exception):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)

    def _parse(self) -> tuple[int, dict[str, str], bytes] | None:
        buffer = self._buffer
        while self._head_end < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > 65536:
                    raise _Closed("the answer's head is longer than 64 KiB")
                return None
            self._read_head(bytes(buffer[:end]))
            if 100 <= self._status < 200:  # an interim answer: the real one follows
                del buffer[: end + 4]
                continue
            self._head_end = end + 4
        if self._length >= 0:
            end = self._head_end + self._length
            if len(buffer) < end:
                return None
            body = bytes(buffer[self._head_end : end])
            del buffer[:end]
            return self._status, self._headers, body
        if self._chunked:
            return self._parse_chunks()
        return None  # until the connection ends: see eof_received

    def _read_head(self, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        lines = text.split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise _Closed(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        self._status = int(code)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise _Closed(f"malformed header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        self._headers = headers
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            self._keep_alive = "keep-alive" in connection
        else:
            self._keep_alive = "close" not in connection
        if self._no_body or self._status in (204, 304):
            self._length = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
            self._length = -1
        elif "content-length" in headers:
            try:
                self._length = int(headers["content-length"])
            except ValueError:
                raise _Closed("invalid Content-Length") from None
            if self._length < 0:
                raise _Closed("invalid Content-Length")
        else:
            self._length = -1  # until the connection ends
            self._keep_alive = False

    def _parse_chunks(self) -> tuple[int, dict[str, str], bytes] | None:
        buffer = self._buffer
        position = self._head_end
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                break
            size_text = bytes(buffer[position:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _Closed(f"invalid chunk size {size_text[:20]!r}") from None
            start = line_end + 2
            if size == 0:  # the last chunk, then trailers up to an empty line
                if buffer[start : start + 2] == b"\r\n":
                    end = start + 2
                else:
                    trailers = buffer.find(b"\r\n\r\n", start)
                    if trailers < 0:
                        break
                    end = trailers + 4
                del buffer[:end]
                body = b"".join(self._chunks)
                return self._status, self._headers, body
            if len(buffer) < start + size + 2:
                break
            if buffer[start + size : start + size + 2] != b"\r\n":
                raise _Closed("a chunk does not end with CRLF")
            self._chunks.append(bytes(buffer[start : start + size]))
            position = start + size + 2
        # keep only what is not parsed yet, so a long answer is not scanned again and again
        del buffer[self._head_end : position]
        return None


class LeanHTTPSession(SharedSSLHTTPSession):
    """aiobotocore's HTTP session, sending plain requests over aiokit's own connections.

    See the module docstring for what goes through aiohttp instead, and what is kept.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        connector_args = self._connector_args or {}
        self._lean = (
            not self._cert_file
            and bool(self._verify)
            and set(connector_args) <= _HONOURED_CONNECTOR_ARGS
        )
        keepalive = connector_args.get("keepalive_timeout", DEFAULT_KEEPALIVE_TIMEOUT)
        self._keepalive_timeout = float(keepalive)
        self._force_close = bool(connector_args.get("force_close"))
        self._connect_timeout: float | None = self._timeout.sock_connect
        self._read_timeout: float | None = self._timeout.sock_read
        self._routes: dict[str, _Route | None] = {}
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._slots: asyncio.Semaphore | None = None
        self._ssl_context: ssl.SSLContext | None = None

    async def __aexit__(self, *exc_info: Any) -> None:
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()
        await super().__aexit__(*exc_info)

    async def send(self, request: Any) -> Any:
        route = self._route(request)
        if route is None:
            return await super().send(request)
        body = request.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        elif isinstance(body, bytearray):
            body = bytes(body)
        try:
            data = self._head(request, route, body)
        except ValueError as error:  # as aiobotocore's session reports what aiohttp refuses
            raise HTTPClientError(error=error) from None
        head = request.method == "HEAD"
        url = request.url
        try:
            try:
                status, headers, content = await self._exchange(route, data, body, head)
            except _Closed as error:
                if not (error.stale and request.method in _IDEMPOTENT):
                    raise
                # the server had closed the kept-alive connection: once more, on a new one
                status, headers, content = await self._exchange(route, data, body, head, True)
        except _Closed as error:
            raise ConnectionClosedError(error=error, request=request, endpoint_url=url) from None
        except _ReadTimeout as error:
            raise ReadTimeoutError(endpoint_url=url, error=error) from None
        except ssl.SSLError as error:  # before OSError: it is one
            raise SSLError(endpoint_url=url, error=error) from None
        except TimeoutError as error:
            raise ConnectTimeoutError(endpoint_url=url, error=error) from None
        except OSError as error:
            raise EndpointConnectionError(endpoint_url=url, error=error) from None
        return AioAWSResponse(url, status, headers, _Body(content))

    def _route(self, request: Any) -> _Route | None:
        """The route for a request this session sends itself, or None for aiohttp."""
        if request.stream_output or not self._lean:
            return None
        body = request.body
        if body is not None and not isinstance(body, (bytes, bytearray, str)):
            return None
        headers = request.headers
        if "Expect" in headers or "Transfer-Encoding" in headers:
            return None
        url: str = request.url
        scheme, sep, rest = url.partition("://")
        netloc = rest.partition("/")[0].partition("?")[0]
        origin = url[: len(scheme) + len(sep) + len(netloc)]
        try:
            return self._routes[origin]
        except KeyError:
            pass
        route = None
        proxy = self._proxy_config.proxy_url_for(url)
        if scheme in _DEFAULT_PORTS and "@" not in netloc and not proxy:
            default = _DEFAULT_PORTS[scheme]
            host, port = _split_netloc(netloc, default)
            if host:
                # as botocore signs it: the host in lower case, the port unless the default
                name = f"[{host}]" if netloc.startswith("[") else host
                host_header = name if port == default else f"{name}:{port}"
                route = _Route(scheme, host, port, host_header, len(origin))
        if len(self._routes) >= 256:
            self._routes.clear()
        self._routes[origin] = route
        return route

    @staticmethod
    def _head(request: Any, route: _Route, body: bytes) -> bytes:
        """The request line and headers, as aiohttp would send them for this request."""
        url: str = request.url
        target = url[route.origin_length :]  # path and query, as the request URL has them
        if not target.startswith("/"):
            target = "/" + target
        lines = [f"{request.method} {target} HTTP/1.1"]
        headers = request.headers
        if "Host" not in headers:
            lines.append(f"Host: {route.host_header}")
        has_length = False
        for name, value in headers.items():
            if type(value) is bytes:
                value = value.decode("utf-8")
            lowered = name.lower()
            if lowered == "accept-encoding":
                continue
            if lowered == "content-length":
                has_length = True
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
                raise InvalidParameterError(f"a line break in the value of HTTP header {name!r}")
            lines.append(f"{name}: {value}")
        lines.append("Accept-Encoding: identity")
        if not has_length and (body or request.method not in _NO_BODY_METHODS):
            lines.append(f"Content-Length: {len(body)}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8")

    async def _exchange(
        self, route: _Route, data: bytes, body: bytes, head: bool, fresh: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        slots = self._slots
        if slots is None:
            slots = self._slots = asyncio.Semaphore(self._max_pool_connections)
        async with slots:
            loop = asyncio.get_running_loop()
            connection = None if fresh else self._take_idle(route, loop.time())
            if connection is None:
                connection = await self._connect(route)
            waiter: asyncio.Future[tuple[int, dict[str, str], bytes]] = loop.create_future()
            done = False
            try:
                connection.start(waiter, data, body, head, self._read_timeout)
                answer = await waiter
                done = True
            finally:
                if not done:  # failed or cancelled mid-exchange: the connection is spent
                    connection.abort()  # it leaves _open when the transport reports it lost
            if connection.reusable and not self._force_close:
                connection.idle_since = loop.time()
                connection.reused = True
                self._idle.setdefault(route.key, []).append(connection)
            else:
                connection.close()
            return answer

    def _take_idle(self, route: _Route, now: float) -> _Connection | None:
        idle = self._idle.get(route.key)
        while idle:
            connection = idle.pop()
            if connection.reusable and now - connection.idle_since < self._keepalive_timeout:
                return connection
            connection.close()
        return None

    async def _connect(self, route: _Route) -> _Connection:
        loop = asyncio.get_running_loop()
        context = None
        if route.tls:
            context = self._ssl_context
            if context is None:
                verify = get_cert_path(self._verify)
                context = await loop.run_in_executor(None, shared_ssl_context, verify)
                self._ssl_context = context
        async with asyncio.timeout(self._connect_timeout):
            _, protocol = await loop.create_connection(
                lambda: _Connection(self._open.discard),
                route.host,
                route.port,
                ssl=context,
                server_hostname=route.host if context is not None else None,
            )
        connection: _Connection = protocol
        self._open.add(connection)
        assert connection.transport is not None
        sock = connection.transport.get_extra_info("socket")
        if sock is not None:
            for option in self._socket_options:
                try:
                    sock.setsockopt(*option)
                except OSError:
                    pass  # an option this platform lacks: as urllib3 would, go on without
        return connection


def _split_netloc(netloc: str, default_port: int) -> tuple[str, int]:
    """``(host, port)`` of ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = netloc.partition(":")
    host = host.lower()
    if not port_text:
        return host, default_port
    if not port_text.isdigit():
        return "", 0
    return host, int(port_text)
