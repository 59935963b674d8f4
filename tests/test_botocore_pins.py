"""Pins on the botocore / aiobotocore internals aiokit relies on (see ``aiokit/_botocore.py``).

Each test fails when upstream changes the behaviour an override depends on.
"""

from __future__ import annotations

import inspect
import sys
import threading
from typing import Any

import aiohttp
import pytest
from aiobotocore.client import AioBaseClient
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.signers import AioRequestSigner

import aiokit
from aiokit._botocore import SharedSSLHTTPSession, merge_config, shared_ssl_context

pytestmark = pytest.mark.anyio


def test_signer_honours_per_request_credentials() -> None:
    source = inspect.getsource(AioRequestSigner.sign)
    assert "request_credentials" in source
    params = inspect.signature(AioRequestSigner.get_auth_instance).parameters
    assert "request_credentials" in params


def test_make_api_call_signature_and_before_call_context() -> None:
    assert list(inspect.signature(AioBaseClient._make_api_call).parameters) == [
        "self",
        "operation_name",
        "api_params",
    ]
    assert "before-call" in inspect.getsource(AioBaseClient._make_api_call)


def test_http_session_connector_hook_is_where_we_expect() -> None:
    params = list(inspect.signature(AIOHTTPSession._create_connector).parameters)
    assert params == ["self", "proxy_url"]
    session = SharedSSLHTTPSession(max_pool_connections=7)
    for name in ("_cert_file", "_verify", "_max_pool_connections", "_connector_args"):
        assert hasattr(session, name), name


async def test_shared_session_reuses_one_ssl_context() -> None:
    a = SharedSSLHTTPSession(max_pool_connections=3)._create_connector(None)
    b = SharedSSLHTTPSession(max_pool_connections=3)._create_connector(None)
    try:
        assert isinstance(a, aiohttp.TCPConnector)
        assert a._ssl is b._ssl
        assert a.limit == 3
    finally:
        await a.close()
        await b.close()


def test_merge_config_keeps_session_class_and_connector_args() -> None:
    base = AioConfig(connector_args={"keepalive_timeout": 3}, http_session_cls=SharedSSLHTTPSession)
    merged = merge_config(base, AioConfig(read_timeout=7, connector_args={"ttl_dns_cache": 5}))
    assert merged.http_session_cls is SharedSSLHTTPSession
    assert merged.connector_args == {"keepalive_timeout": 3, "ttl_dns_cache": 5}
    assert merged.read_timeout == 7
    assert "_user_provided_options" in vars(merged)


async def test_no_model_or_ca_file_is_read_on_the_event_loop(moto_endpoint: str) -> None:
    """Model JSON, endpoint data and the CA bundle load in worker threads only."""
    shared_ssl_context.cache_clear()
    loop_thread = threading.get_ident()
    opened_on_loop: list[str] = []
    active = True

    def hook(event: str, args: Any) -> None:
        if active and event == "open" and threading.get_ident() == loop_thread:
            path = str(args[0])
            if path.endswith((".json", ".json.gz", ".pem", ".crt")):
                opened_on_loop.append(path)

    sys.addaudithook(hook)
    try:
        async with aiokit.SessionPool(endpoint_url=moto_endpoint, region="eu-west-1") as pool:
            # Services this process may not have loaded yet, and a resource model.
            for service in ("cloudtrail", "kinesis", "sns"):
                await pool.client(service)
            await (await pool.client("sns")).list_topics()
            await pool.resource("sqs")
    finally:
        active = False  # audit hooks cannot be removed; this one goes quiet
    assert opened_on_loop == []
