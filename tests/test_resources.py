"""boto3 resources through the pool: DynamoDB's batch writer pacing, the sync facade."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

import aiokit
import aiokit.sync
from aiokit.testing import TEST_CREDENTIALS, serve_on_loopback


class BusyTable:
    """A DynamoDB endpoint whose BatchWriteItem leaves everything unprocessed at first."""

    def __init__(self, busy_answers: int) -> None:
        self.busy_answers = busy_answers
        self.calls: list[tuple[float, int]] = []  # (time, items in the request)
        self.stored: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        body = json.loads(await request.read())
        assert target.endswith(".BatchWriteItem"), target
        requests = body["RequestItems"]["t"]
        self.calls.append((time.monotonic(), len(requests)))
        if len(self.calls) <= self.busy_answers:
            answer: dict[str, Any] = {"UnprocessedItems": {"t": requests}}
        else:
            self.stored += [r["PutRequest"]["Item"] for r in requests]
            answer = {"UnprocessedItems": {}}
        return web.json_response(answer, content_type="application/x-amz-json-1.0")


@pytest_asyncio.fixture
async def busy() -> AsyncIterator[tuple[BusyTable, str]]:
    table = BusyTable(busy_answers=3)
    async with serve_on_loopback(table.handle) as url:
        yield table, url


@pytest.mark.asyncio
async def test_the_batch_writer_backs_off_before_resending_unprocessed_items(
    busy: tuple[BusyTable, str],
) -> None:
    server, url = busy
    async with aiokit.SessionPool(
        endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        table = await (await pool.resource("dynamodb")).Table("t")
        async with table.batch_writer() as writer:
            for i in range(10):
                await writer.put_item(Item={"pk": str(i)})
        scopes = pool.statistics().scopes
    assert len(server.stored) == 10
    assert [n for _, n in server.calls] == [10, 10, 10, 10]
    gaps = [b - a for (a, _), (b, _) in zip(server.calls, server.calls[1:], strict=False)]
    # Equal jitter on 50 ms doubling: at least 25, 50 and 100 ms before each resend.
    for gap, least in zip(gaps, (0.025, 0.05, 0.1), strict=True):
        assert gap >= least, gaps
    # Each busy answer is counted as a throttle of the table's scope.
    (stats,) = [s for k, s in scopes.items() if k.service == "dynamodb"]
    assert stats.throttles == 3


@pytest.mark.asyncio
async def test_the_batch_writer_of_a_plain_client_is_not_slowed(
    busy: tuple[BusyTable, str],
) -> None:
    server, url = busy
    server.busy_answers = 1
    async with aiokit.SessionPool(
        endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        ddb = await pool.client("dynamodb")
        items = [{"PutRequest": {"Item": {"pk": {"S": "x"}}}}]
        start = time.monotonic()
        answer = await ddb.batch_write_item(RequestItems={"t": items})
        # The pool's shared client returns DynamoDB's answer as it is, at once.
        assert answer["UnprocessedItems"] == {"t": items}
        assert time.monotonic() - start < 1


# --- the sync facade ------------------------------------------------------------------------


@pytest.fixture
def sync_pool(moto_endpoint: str) -> Iterator[aiokit.sync.SessionPool]:
    with aiokit.sync.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        yield pool


def test_sync_resources_work_without_await(sync_pool: aiokit.sync.SessionPool) -> None:
    ddb = sync_pool.resource("dynamodb")
    table = ddb.create_table(
        TableName="items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert isinstance(table, aiokit.sync.Resource)
    assert table.name == "items"
    table.put_item(Item={"id": "1", "n": 5})
    with table.batch_writer() as writer:
        for i in range(2, 6):
            writer.put_item(Item={"id": str(i)})
    assert table.get_item(Key={"id": "1"})["Item"] == {"id": "1", "n": 5}
    assert table.item_count >= 0  # a loaded attribute, fetched without await
    assert table.scan(Select="COUNT")["Count"] == 5
    names = [t.name for t in ddb.tables.all()]
    assert names == ["items"]

    s3 = sync_pool.resource("s3")
    bucket = s3.Bucket("bucket-b")
    bucket.create()
    bucket.put_object(Key="k", Body=b"data")
    assert [o.key for o in bucket.objects.all()] == ["k"]
    assert s3.Object("bucket-b", "k").get()["Body"].read() == b"data"
    assert "aiokit.sync.Resource" in repr(bucket)


def test_sync_resources_refuse_use_after_close(moto_endpoint: str) -> None:
    pool = aiokit.sync.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    )
    sqs = pool.resource("sqs")
    queue = sqs.create_queue(QueueName="q")
    assert queue.url.endswith("/q")
    pool.close()
    with pytest.raises(aiokit.PoolClosedError):
        sqs.create_queue(QueueName="q2")
