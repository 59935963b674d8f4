"""Fixtures for aiobotocore's own behavioural tests, run from its sdist (``make compat``).

aiobotocore's sdist ships its tests but not the conftest they were written against; this
one provides the fixtures those tests ask for (same names, written for aiokit's harness).
``compat/run.py`` copies it into the unpacked sdist's ``tests/`` as ``conftest.py``.

``AIOKIT_COMPAT_MODE`` chooses how every *client fixture* (``s3_client``, ``sqs_client``...)
is made:

- ``plain``: ``AioSession().create_client(...)``, exactly as upstream: the baseline;
- ``shared`` / ``adaptive`` / ``standard``: ``await pool.client(...)`` of an
  ``aiokit.SessionPool`` with that ``retry_mode``, the test's ``AioConfig`` passed as the
  client's ``config``.

Tests that build clients from ``session`` themselves exercise aiobotocore alone and run
the same in every mode.
"""

from __future__ import annotations

import os
import random
import string
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack
from itertools import chain
from typing import Any
from unittest.mock import patch

import aiohttp
import anyio
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from moto.server import ThreadedMotoServer

MODE = os.environ.get("AIOKIT_COMPAT_MODE", "plain")
HOST = "127.0.0.1"
AUTH = {"aws_access_key_id": "xxx", "aws_secret_access_key": "xxx"}


def _name() -> str:
    return "".join(random.sample(string.ascii_lowercase, k=26))


def _ok(response: dict[str, Any], status: int) -> None:
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status


async def _uploads_found(
    s3_client: Any,
    bucket_name: str,
    operation: str,
    num_uploads: int,
    *,
    max_items: int | None = None,
    num_attempts: int = 5,
) -> None:
    paginator = s3_client.get_paginator(operation)
    seen = -1
    for _ in range(num_attempts):
        pages = [
            p
            async for p in paginator.paginate(
                Bucket=bucket_name, PaginationConfig={"MaxItems": max_items}
            )
        ]
        seen = len(pages[0]["Uploads"])
        if seen == num_uploads:
            return
        await anyio.sleep(2)
    pytest.fail(f"expected {num_uploads} uploads, saw {seen}")


def pytest_configure(config: pytest.Config) -> None:
    class _Utils:
        assert_status_code = staticmethod(_ok)
        assert_num_uploads_found = staticmethod(_uploads_found)

    pytest.aio = _Utils()  # type: ignore[attr-defined]


# --- the server and the basics ------------------------------------------------------------


@pytest.fixture(scope="session")
def _moto() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_server(_moto: str, server_scheme: str) -> str:
    # No proxy: some tests point HTTP(S)_PROXY at a dead port before this runs.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(urllib.request.Request(f"{_moto}/moto-api/reset", method="POST"), timeout=10)
    return _moto


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def session() -> AioSession:
    return AioSession()


@pytest.fixture
def region() -> str:
    return "us-east-1"


@pytest.fixture
def alternative_region() -> str:
    return "us-west-2"


@pytest.fixture
def signature_version() -> str:
    return "v4"


@pytest.fixture
def server_scheme() -> str:
    return "http"


@pytest.fixture
def s3_verify() -> Any:
    return None


@pytest.fixture
def mocking_test() -> bool:
    return True


@pytest.fixture
def aws_auth() -> dict[str, str]:
    return dict(AUTH)


@pytest.fixture
def current_http_backend() -> str:
    return "aiohttp"


@pytest.fixture
def skip_httpx() -> None:
    return None


@pytest.fixture
def aa_fail_proxy_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://{HOST}:54321")
    monkeypatch.setenv("HTTPS_PROXY", f"http://{HOST}:54321")


@pytest.fixture
def aa_succeed_proxy_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://{HOST}:54321")
    monkeypatch.setenv("HTTPS_PROXY", f"http://{HOST}:54321")
    monkeypatch.setenv("NO_PROXY", "amazonaws.com")


def _config_kwargs(node: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for mark in node.iter_markers("config_kwargs"):
        kwargs.update(mark.args[0])
    return kwargs


@pytest.fixture
def config(request: pytest.FixtureRequest, region: str, signature_version: str) -> AioConfig:
    return AioConfig(
        region_name=region,
        signature_version=signature_version,
        read_timeout=5,
        connect_timeout=5,
        **_config_kwargs(request.node),
    )


@pytest.fixture
def patch_attributes(request: pytest.FixtureRequest) -> Iterator[Any]:
    marker = request.node.get_closest_marker("patch_attributes")
    if marker is None:
        yield None
        return
    with ExitStack() as stack:
        yield [stack.enter_context(patch(**kw)) for kw in marker.args[0]]


# --- clients: plain aiobotocore, or through an aiokit pool ----------------------------------


@pytest.fixture
async def _clients(session: AioSession, moto_server: str, mocking_test: bool) -> AsyncIterator[Any]:
    """``await make(service, region, config, **kw)``; everything made is closed after."""
    if not mocking_test:
        pytest.skip("written for real AWS (mocking_test=False); no AWS account here")
    async with AsyncExitStack() as stack:
        pools: dict[str, Any] = {}

        async def make(service: str, region: str, config: AioConfig, **kw: Any) -> Any:
            if MODE == "plain":
                return await stack.enter_async_context(
                    session.create_client(
                        service,
                        region_name=region,
                        config=config,
                        endpoint_url=moto_server,
                        **AUTH,
                        **kw,
                    )
                )
            import aiokit

            pool = pools.get(region)
            if pool is None:
                pool = aiokit.SessionPool(
                    endpoint_url=moto_server,
                    region=region,
                    credentials=aiokit.StaticKeys(
                        AUTH["aws_access_key_id"], AUTH["aws_secret_access_key"]
                    ),
                    retry_mode=MODE,  # type: ignore[arg-type]
                )
                pools[region] = await stack.enter_async_context(pool)
            # verify= concerns TLS; the moto endpoint is plain HTTP, so nothing is lost.
            kw.pop("verify", None)
            return await pool.client(service, region, config=config, **kw)

        yield make


def _client_fixture(service: str) -> Any:
    @pytest.fixture
    async def fixture(_clients: Any, region: str, config: AioConfig, patch_attributes: Any) -> Any:
        return await _clients(service, region, config)

    fixture.__name__ = f"{service}_client"
    return fixture


dynamodb_client = _client_fixture("dynamodb")
cloudformation_client = _client_fixture("cloudformation")
sns_client = _client_fixture("sns")
sqs_client = _client_fixture("sqs")
batch_client = _client_fixture("batch")
lambda_client = _client_fixture("lambda")
iam_client = _client_fixture("iam")
rds_client = _client_fixture("rds")
ec2_client = _client_fixture("ec2")
kinesis_client = _client_fixture("kinesis")


@pytest.fixture
async def s3_client(
    _clients: Any, region: str, config: AioConfig, s3_verify: Any, patch_attributes: Any
) -> Any:
    return await _clients("s3", region, config, verify=s3_verify)


@pytest.fixture
async def alternative_s3_client(
    _clients: Any,
    alternative_region: str,
    signature_version: str,
    request: pytest.FixtureRequest,
) -> Any:
    config = AioConfig(
        region_name=alternative_region,
        signature_version=signature_version,
        read_timeout=5,
        connect_timeout=5,
        **_config_kwargs(request.node),
    )
    return await _clients("s3", alternative_region, config)


# --- resources the tests make -----------------------------------------------------------


async def _empty_and_delete(s3_client: Any, bucket: str) -> None:
    paginator = s3_client.get_paginator("list_object_versions")
    async for page in paginator.paginate(Bucket=bucket, Prefix=""):
        for obj in chain(
            page.get("Versions", []),
            page.get("DeleteMarkers", []),
            page.get("Contents", []),
            page.get("CommonPrefixes", []),
        ):
            kw = {"Bucket": bucket, "Key": obj["Key"]}
            if "VersionId" in obj:
                kw["VersionId"] = obj["VersionId"]
            _ok(await s3_client.delete_object(**kw), 204)
    _ok(await s3_client.delete_bucket(Bucket=bucket), 204)


@pytest.fixture
async def create_bucket(s3_client: Any) -> AsyncIterator[Any]:
    made: list[str] = []

    async def make(region_name: str, bucket_name: str | None = None) -> str:
        name = bucket_name or _name()
        made.append(name)
        kw: dict[str, Any] = {"Bucket": name}
        if region_name != "us-east-1":
            kw["CreateBucketConfiguration"] = {"LocationConstraint": region_name}
        _ok(await s3_client.create_bucket(**kw), 200)
        await s3_client.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": "Enabled"}
        )
        return name

    yield make
    for name in made[-1:]:
        await _empty_and_delete(s3_client, name)


@pytest.fixture
async def bucket_name(region: str, create_bucket: Any) -> str:
    return str(await create_bucket(region))


@pytest.fixture
def create_object(s3_client: Any, bucket_name: str) -> Any:
    async def make(key_name: str, body: Any = "foo", **kw: Any) -> Any:
        response = await s3_client.put_object(Bucket=bucket_name, Key=key_name, Body=body)
        _ok(response, 200)
        return response

    return make


@pytest.fixture
async def create_multipart_upload(s3_client: Any, bucket_name: str) -> AsyncIterator[Any]:
    state: dict[str, str] = {}

    async def make(key_name: str) -> str:
        parsed = await s3_client.create_multipart_upload(Bucket=bucket_name, Key=key_name)
        state.update(key=key_name, upload=parsed["UploadId"])
        return str(parsed["UploadId"])

    yield make
    if state:
        await s3_client.abort_multipart_upload(
            UploadId=state["upload"], Bucket=bucket_name, Key=state["key"]
        )


@pytest.fixture
async def create_table(dynamodb_client: Any) -> AsyncIterator[Any]:
    made: list[str] = []

    async def make(table_name: str | None = None) -> str:
        name = table_name or _name()
        made.append(name)
        response = await dynamodb_client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "testKey", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "testKey", "KeyType": "HASH"}],
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        )
        for _ in range(600):
            described = await dynamodb_client.describe_table(TableName=name)
            if described["Table"]["TableStatus"] == "ACTIVE":
                break
            await anyio.sleep(0.05)
        _ok(response, 200)
        return name

    yield make
    for name in made[-1:]:
        _ok(await dynamodb_client.delete_table(TableName=name), 200)


@pytest.fixture
async def table_name(create_table: Any) -> str:
    return str(await create_table())


@pytest.fixture
def dynamodb_put_item(dynamodb_client: Any, table_name: str) -> Any:
    async def put(value: str) -> None:
        response = await dynamodb_client.put_item(
            TableName=table_name, Item={"testKey": {"S": value}}
        )
        _ok(response, 200)

    return put


@pytest.fixture
async def create_topic(sns_client: Any) -> AsyncIterator[Any]:
    made: list[str] = []

    async def make() -> str:
        response = await sns_client.create_topic(Name=_name())
        _ok(response, 200)
        made.append(response["TopicArn"])
        return str(response["TopicArn"])

    yield make
    for arn in made[-1:]:
        _ok(await sns_client.delete_topic(TopicArn=arn), 200)


@pytest.fixture
async def topic_arn(create_topic: Any) -> str:
    return str(await create_topic())


@pytest.fixture
async def sqs_queue_url(sqs_client: Any) -> AsyncIterator[str]:
    response = await sqs_client.create_queue(QueueName=_name())
    _ok(response, 200)
    yield response["QueueUrl"]
    _ok(await sqs_client.delete_queue(QueueUrl=response["QueueUrl"]), 200)


@pytest.fixture
async def create_stream(kinesis_client: Any) -> AsyncIterator[Any]:
    made: list[str] = []

    async def make(stream_name: str | None = None, **kw: Any) -> str:
        name = stream_name or _name()
        made.append(name)
        _ok(await kinesis_client.create_stream(StreamName=name, **kw), 200)
        for _ in range(300):
            described = await kinesis_client.describe_stream(StreamName=name)
            if described["StreamDescription"]["StreamStatus"] == "ACTIVE":
                break
            await anyio.sleep(0.2)
        return name

    yield make
    for name in made[-1:]:
        _ok(await kinesis_client.delete_stream(StreamName=name), 200)


@pytest.fixture
def tempdir() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as td:
        yield td


@pytest.fixture
async def aio_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def exit_stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack
