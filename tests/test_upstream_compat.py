"""Where a pool client once departed from an aiobotocore client (found by ``make compat``,
which runs aiobotocore's and botocore's own suites through aiokit), each pinned here.

Every test talks real HTTP on 127.0.0.1: a scripted loopback endpoint or a closed port.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiobotocore.config import AioConfig
from aiohttp import web
from botocore import exceptions as bce
from test_http import make_certificate, server_context

import aiokit
from aiokit._botocore.http11 import LeanHTTPSession
from aiokit.testing import TEST_CREDENTIALS, serve_on_loopback

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


def _pool(url: str, **kw: Any) -> aiokit.SessionPool:
    return aiokit.SessionPool(
        endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS, **kw
    )


class _Counter:
    """A loopback AWS that answers every request with one canned status, and counts."""

    def __init__(self, status: int = 500, body: bytes = b"") -> None:
        self.requests = 0
        self.status = status
        self.body = body or (
            b'<?xml version="1.0"?><Error><Code>InternalError</Code><Message>boom</Message></Error>'
        )

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests += 1
        return web.Response(status=self.status, body=self.body)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- a client's own retries are honoured, in the default shared mode too ------------------


@pytest.mark.parametrize(
    ("retries", "expected"),
    [
        pytest.param({"max_attempts": 0}, 1, id="max_attempts-0-one-request"),
        pytest.param({"mode": "standard", "max_attempts": 2}, 3, id="standard-2-retries"),
        pytest.param({"mode": "adaptive", "total_max_attempts": 2}, 2, id="adaptive-total-2"),
    ],
)
async def test_a_clients_own_retries_are_honoured(retries: dict[str, Any], expected: int) -> None:
    server = _Counter()
    async with serve_on_loopback(server.handle) as url, _pool(url) as pool:
        s3 = await pool.client("s3", config=AioConfig(retries=retries))
        assert s3.meta.config.retries == retries
        with pytest.raises(aiokit.AWSError):
            await s3.list_buckets()
    assert server.requests == expected


async def test_the_shared_mode_still_retries_clients_without_their_own_retries() -> None:
    server = _Counter()
    async with serve_on_loopback(server.handle) as url, _pool(url, retry=_fast_retry()) as pool:
        s3 = await pool.client("s3")
        with pytest.raises(aiokit.AWSError):
            await s3.list_buckets()
    assert server.requests == 3  # the shared limiter's max_attempts


def _fast_retry() -> aiokit.RetrySettings:
    return aiokit.RetrySettings(max_attempts=3, max_backoff=0.01)


# --- connection errors keep their botocore class ------------------------------------------


async def test_connection_refused_is_botocores_endpoint_connection_error_too() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    config = AioConfig(retries={"total_max_attempts": 1}, connect_timeout=2)
    async with _pool(url) as pool:
        s3 = await pool.client("s3", config=config)
        with pytest.raises(bce.EndpointConnectionError) as caught:
            await s3.list_buckets()
    error = caught.value
    assert isinstance(error, aiokit.EndpointError)
    assert isinstance(error, ConnectionError)
    assert error.service == "s3" and error.operation == "ListBuckets"
    assert error.kwargs["endpoint_url"].startswith(url)  # botocore's own attribute


async def _stall(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(5)
    return web.Response()


async def test_a_read_timeout_is_botocores_read_timeout_error_and_logs_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = AioConfig(read_timeout=0.3, retries={"total_max_attempts": 1})
    caplog.set_level(logging.DEBUG, logger="aiokit")
    async with serve_on_loopback(_stall) as url, _pool(url) as pool:
        s3 = await pool.client("s3", config=config)
        with pytest.raises(bce.ReadTimeoutError) as caught:
            await s3.list_buckets()
    assert isinstance(caught.value, aiokit.EndpointError)
    assert "ReadTimeoutError" in caplog.text  # the debug record was written, not a crash


# --- only transient failures are retried --------------------------------------------------


class _BrokenSession(LeanHTTPSession):  # type: ignore[misc]
    """An HTTP session with a bug: every send raises a plain RuntimeError."""

    sends = 0

    async def send(self, request: Any) -> Any:
        type(self).sends += 1
        raise RuntimeError("a bug in a custom HTTP session")


async def test_an_exception_that_is_not_a_connection_error_is_not_retried() -> None:
    _BrokenSession.sends = 0
    async with serve_on_loopback(_Counter(200).handle) as url, _pool(url) as pool:
        s3 = await pool.client("s3", config=AioConfig(http_session_cls=_BrokenSession))
        with anyio.fail_after(5), pytest.raises(RuntimeError, match="a bug"):
            await s3.list_buckets()
    assert _BrokenSession.sends == 1


# --- verify= per client, as boto3's --------------------------------------------------------


_BUCKETS = (
    b'<?xml version="1.0"?><ListAllMyBucketsResult><Buckets/>'
    b"<Owner><ID>x</ID></Owner></ListAllMyBucketsResult>"
)


async def test_verify_false_and_a_ca_bundle_per_client(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path, dns=["localhost"], ips=["127.0.0.1"])
    tls = server_context(cert, key)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=_BUCKETS)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"https://127.0.0.1:{port}"
        once = AioConfig(retries={"total_max_attempts": 1})
        async with _pool(url) as pool:
            strict = await pool.client("s3", config=once)
            with pytest.raises(aiokit.EndpointError):
                await strict.list_buckets()
            for verify in (False, str(cert)):
                s3 = await pool.client("s3", config=once, verify=verify)
                assert (await s3.list_buckets())["Buckets"] == [], verify
    finally:
        await runner.cleanup()


def test_botocores_transient_classification_is_where_aiokit_reads_it() -> None:
    """aiokit's shared retry reads botocore's own lists of what is transient."""
    from botocore.retries.standard import TransientRetryableChecker

    assert TransientRetryableChecker._TRANSIENT_STATUS_CODES == [500, 502, 503, 504]
    assert set(TransientRetryableChecker._TRANSIENT_EXCEPTION_CLS) == {
        bce.ConnectionError,
        bce.HTTPClientError,
    }
    assert "RequestTimeout" in TransientRetryableChecker._TRANSIENT_ERROR_CODES


async def test_verify_of_the_wrong_type_is_refused_by_name(aiokit_pool: aiokit.SessionPool) -> None:
    with pytest.raises(aiokit.InvalidParameterError, match="verify must be True, False"):
        await aiokit_pool.client("s3", verify=1)  # type: ignore[arg-type]
