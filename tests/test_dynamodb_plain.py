"""Plain DynamoDB items (issue 19): ``plain=True`` on moto, against boto3's resource layer.

The oracle is boto3's own ``Table.scan()`` / ``Table.query()`` (sync, in a worker thread)
on the same moto table: aiokit's plain items must equal what it returns, page by page.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import anyio
import pytest
import pytest_asyncio
from boto3.dynamodb.types import Binary

import aiokit
from aiokit.testing import TEST_CREDENTIALS

pytestmark = pytest.mark.asyncio

TABLE = "plain"
N_ITEMS = 45


def _item(i: int) -> dict[str, Any]:
    """An item with every kind of DynamoDB value (and a few on some items only)."""
    item: dict[str, Any] = {
        "pk": f"p{i % 3}",
        "sk": i,
        "price": Decimal(f"{i}.25"),
        "big": Decimal("12345678901234567890123456789012345678"),
        "negative": -i,
        "name": f"item {i}",
        "blob": Binary(bytes([i, 0, 255])),
        "tags": {"a", f"t{i}"},
        "sizes": {Decimal(1), Decimal(i + 2)},
        "blobs": {Binary(b"x"), Binary(bytes([i]))},
        "active": i % 2 == 0,
        "nothing": None,
        "nested": {"list": [1, "two", {"three": Decimal("3.5")}, [True, None]], "empty": {}},
        "empty_list": [],
        "empty_string": "",
    }
    if i % 5 == 0:
        item["sometimes"] = {"deep": {"deeper": [Binary(b"\x00"), {"n": Decimal("-0.001")}]}}
    return item


def _boto3_table(endpoint: str) -> Any:
    import boto3

    resource = boto3.resource(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=TEST_CREDENTIALS.access_key_id,
        aws_secret_access_key=TEST_CREDENTIALS.secret_access_key,
    )
    return resource.Table(TABLE)


def _all_pages(call: Callable[..., dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    """boto3's pages of a resource call, following LastEvaluatedKey (the resource layer
    has no paginator)."""
    pages = []
    while True:
        page = call(**kwargs)
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


async def _in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


@pytest_asyncio.fixture
async def table(aiokit_pool: aiokit.SessionPool, moto_endpoint: str) -> Any:
    """The table, filled through boto3's resource (plain values in, as a user would)."""
    ddb = await aiokit_pool.client("dynamodb")
    await ddb.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3_table = _boto3_table(moto_endpoint)

    def fill() -> None:
        with boto3_table.batch_writer() as batch:
            for i in range(N_ITEMS):
                batch.put_item(Item=_item(i))

    await _in_thread(fill)
    return boto3_table


async def _aiokit_pages(pool: aiokit.SessionPool, operation: str, **params: Any) -> list[Any]:
    return [page async for page in pool.paginate("dynamodb", operation, plain=True, **params)]


def _comparable(pages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(p["Items"], p.get("LastEvaluatedKey"), p["Count"]) for p in pages]


async def test_plain_scan_pages_equal_boto3_resource_scan_pages(
    aiokit_pool: aiokit.SessionPool, table: Any
) -> None:
    ours = await _aiokit_pages(aiokit_pool, "scan", TableName=TABLE, Limit=7)
    theirs = await _in_thread(_all_pages, table.scan, Limit=7)
    assert len(ours) == len(theirs) >= 7  # several pages: 45 items, 7 a page
    assert _comparable(ours) == _comparable(theirs)
    items = [item for page in ours for item in page["Items"]]
    assert len(items) == N_ITEMS
    assert sorted((i["pk"], i["sk"]) for i in items) == sorted(
        (f"p{i % 3}", Decimal(i)) for i in range(N_ITEMS)
    )
    # The values as boto3 gives them, and as they were put.
    by_key = {(i["pk"], int(i["sk"])): i for i in items}
    one = by_key[("p0", 15)]
    assert one["price"] == Decimal("15.25") and isinstance(one["price"], Decimal)
    assert one["big"] == Decimal("12345678901234567890123456789012345678")
    assert one["tags"] == {"a", "t15"} and one["sizes"] == {Decimal(1), Decimal(17)}
    assert one["blob"] == Binary(bytes([15, 0, 255])) and isinstance(one["blob"], Binary)
    assert one["blobs"] == {Binary(b"x"), Binary(bytes([15]))}
    assert one["nothing"] is None and one["active"] is False
    assert one["nested"] == {
        "list": [1, "two", {"three": Decimal("3.5")}, [True, None]],
        "empty": {},
    }
    assert one["sometimes"]["deep"]["deeper"] == [Binary(b"\x00"), {"n": Decimal("-0.001")}]
    assert one == _item(15)


async def test_plain_items_and_search_flatten_plain_values(
    aiokit_pool: aiokit.SessionPool, table: Any
) -> None:
    pager = aiokit_pool.paginate("dynamodb", "scan", plain=True, TableName=TABLE, Limit=10)
    items = [item async for item in pager.items()]
    assert pager.pages == 5
    theirs = [
        i for page in await _in_thread(_all_pages, table.scan, Limit=10) for i in page["Items"]
    ]
    assert items == theirs
    names = [
        n
        async for n in aiokit_pool.paginate(
            "dynamodb", "scan", plain=True, TableName=TABLE, Limit=10
        ).search("Items[].sizes")
    ]
    assert names == [i["sizes"] for i in theirs]


async def test_plain_query_takes_plain_expression_values(
    aiokit_pool: aiokit.SessionPool, table: Any
) -> None:
    params: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND sk > :low",
        "FilterExpression": "contains(tags, :tag) AND price < :max AND active = :yes",
        "ExpressionAttributeValues": {
            ":pk": "p1",
            ":low": 3,
            ":tag": "a",
            ":max": Decimal("40.5"),
            ":yes": False,
        },
        "Limit": 4,
    }
    ours = await _aiokit_pages(aiokit_pool, "query", TableName=TABLE, **params)
    theirs = await _in_thread(_all_pages, table.query, **params)
    assert _comparable(ours) == _comparable(theirs)
    found = [i["sk"] for page in ours for i in page["Items"]]
    expected = [Decimal(i) for i in range(N_ITEMS) if i % 3 == 1 and i > 3 and i < 40 and i % 2]
    assert found == expected and len(ours) > 2


async def test_plain_legacy_filters_take_plain_values(
    aiokit_pool: aiokit.SessionPool, table: Any
) -> None:
    legacy: dict[str, Any] = {
        "ScanFilter": {
            "sk": {"AttributeValueList": [10, 20], "ComparisonOperator": "BETWEEN"},
            "tags": {"AttributeValueList": ["a"], "ComparisonOperator": "CONTAINS"},
        }
    }
    ours = await _aiokit_pages(aiokit_pool, "scan", TableName=TABLE, Limit=9, **legacy)
    theirs = await _in_thread(_all_pages, table.scan, Limit=9, **legacy)
    assert _comparable(ours) == _comparable(theirs)
    assert sorted(i["sk"] for p in ours for i in p["Items"]) == [Decimal(i) for i in range(10, 21)]


async def test_plain_exclusive_start_key_continues_where_a_plain_page_stopped(
    aiokit_pool: aiokit.SessionPool, table: Any
) -> None:
    first = await _aiokit_pages(
        aiokit_pool,
        "query",
        TableName=TABLE,
        Limit=5,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": "p2"},
        PaginationConfig={"MaxItems": 5},
    )
    assert len(first) == 1
    start = first[0]["LastEvaluatedKey"]
    assert start == {"pk": "p2", "sk": Decimal(14)}  # plain, as boto3's resource gives it
    rest = await _aiokit_pages(
        aiokit_pool,
        "query",
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": "p2"},
        ExclusiveStartKey=start,
    )
    keys = [i["sk"] for page in [*first, *rest] for i in page["Items"]]
    assert keys == [Decimal(i) for i in range(N_ITEMS) if i % 3 == 2]


async def test_plain_resume_token_misses_and_repeats_nothing(
    aiokit_pool: aiokit.SessionPool, table: Any
) -> None:
    pager = aiokit_pool.paginate("dynamodb", "scan", plain=True, TableName=TABLE, Limit=6)
    seen = []
    async for item in pager.items():
        seen.append(item)
        if len(seen) == 17:  # mid-page
            break
    token = pager.resume_token
    assert token is not None
    resumed = aiokit_pool.paginate(
        "dynamodb",
        "scan",
        plain=True,
        TableName=TABLE,
        Limit=6,
        PaginationConfig={"StartingToken": token},
    )
    seen += [item async for item in resumed.items()]
    theirs = [
        i for page in await _in_thread(_all_pages, table.scan, Limit=6) for i in page["Items"]
    ]
    assert seen == theirs


async def test_plain_never_changes_the_shared_client_or_other_paginators(
    aiokit_pool: aiokit.SessionPool, table: Any
) -> None:
    plain = await _aiokit_pages(aiokit_pool, "scan", TableName=TABLE, Limit=50)
    ddb = await aiokit_pool.client("dynamodb")
    raw = await ddb.scan(TableName=TABLE, Limit=50)
    assert raw["Items"][0]["sk"].keys() == {"N"}  # AttributeValues, as ever
    assert raw["Items"][0]["pk"] == {"S": raw["Items"][0]["pk"]["S"]}
    raw_pages = [p async for p in aiokit_pool.paginate("dynamodb", "scan", TableName=TABLE)]
    assert raw_pages[0]["Items"] == raw["Items"]
    assert [i["pk"] for i in plain[0]["Items"]] == [i["pk"]["S"] for i in raw["Items"]]
    # a plain request's parameters were not changed in the caller's dict either
    values = {":pk": "p0"}
    await _aiokit_pages(
        aiokit_pool,
        "query",
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=values,
    )
    assert values == {":pk": "p0"}


async def test_plain_crawl_yields_plain_items(aiokit_pool: aiokit.SessionPool, table: Any) -> None:
    targets = [aiokit.Target(None, "us-east-1")]
    async with aiokit_pool.crawl(
        "dynamodb", "scan", targets, plain=True, TableName=TABLE, Limit=8
    ) as crawl:
        items = [item.data async for item in crawl]
    theirs = [
        i for page in await _in_thread(_all_pages, table.scan, Limit=8) for i in page["Items"]
    ]
    assert items == theirs
    assert crawl.report.counts["ok"] == 1 and crawl.report.items == N_ITEMS
    async with aiokit_pool.crawl(
        "dynamodb",
        "query",
        targets,
        plain=True,
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": "p0"},
    ) as crawl:
        keys = [item.data["sk"] async for item in crawl]
    assert keys == [Decimal(i) for i in range(N_ITEMS) if i % 3 == 0]


async def test_plain_crawl_in_worker_processes_yields_plain_items(
    aiokit_pool: aiokit.SessionPool, table: Any
) -> None:
    targets = [aiokit.Target(None, "us-east-1")]
    items, report = await aiokit_pool.crawl(
        "dynamodb", "scan", targets, plain=True, runner=aiokit.Processes(1), TableName=TABLE
    ).collect()
    assert report.counts == {"ok": 1}
    theirs = [i for page in await _in_thread(_all_pages, table.scan) for i in page["Items"]]
    assert [item.data for item in items] == theirs
    assert not multiprocessing.active_children()


async def test_the_sync_facade_passes_plain_through(moto_endpoint: str, table: Any) -> None:
    import aiokit.sync

    def run() -> list[Any]:
        with aiokit.sync.SessionPool(
            endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
        ) as pool:
            return list(pool.paginate("dynamodb", "scan", plain=True, TableName=TABLE).items())

    items = await _in_thread(run)
    assert sorted(int(i["sk"]) for i in items) == list(range(N_ITEMS))


# --- hostile input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "plain",
    ["yes", 1, 0, None, [True], object()],
    ids=lambda v: type(v).__name__ + ":" + (repr(v) if type(v) is not object else ""),
)
async def test_plain_of_the_wrong_type_is_a_configuration_error(
    aiokit_pool: aiokit.SessionPool, plain: Any
) -> None:
    with pytest.raises(aiokit.ConfigurationError, match="plain must be True or False"):
        aiokit_pool.paginate("dynamodb", "scan", TableName=TABLE, plain=plain)
    with pytest.raises(aiokit.ConfigurationError, match="plain must be True or False"):
        aiokit_pool.crawl("dynamodb", "scan", plain=plain, TableName=TABLE)


@pytest.mark.parametrize(
    "service, operation",
    [
        ("s3", "list_objects_v2"),
        ("sqs", "list_queues"),
        ("dynamodb", "list_tables"),
        ("dynamodb", "ListTables"),
        ("dynamodb", "get_item"),
        ("dynamodbstreams", "scan"),
    ],
)
async def test_plain_on_another_operation_is_refused_at_once(
    aiokit_pool: aiokit.SessionPool, service: str, operation: str
) -> None:
    with pytest.raises(
        aiokit.InvalidParameterError, match="plain=True is for dynamodb query and scan"
    ):
        aiokit_pool.paginate(service, operation, plain=True)
    with pytest.raises(
        aiokit.InvalidParameterError, match="plain=True is for dynamodb query and scan"
    ):
        aiokit_pool.crawl(service, operation, plain=True)
    # plain=False is the default: everything else is as before
    assert isinstance(aiokit_pool.paginate(service, operation, plain=False), aiokit.Paginator)


async def test_plain_with_many_listings_is_refused(aiokit_pool: aiokit.SessionPool) -> None:
    listings = [aiokit.Listing("dynamodb", "list_tables")]
    with pytest.raises(aiokit.ConfigurationError, match="plain= is for a crawl of one"):
        aiokit_pool.crawl(listings, plain=True)


@pytest.mark.parametrize(
    "value, says",
    [
        (1.5, "use decimal.Decimal"),
        ({"nested": [0.1]}, "use decimal.Decimal"),
        (Decimal("NaN"), "NaN, infinity, or over 38 digits"),
        (Decimal("Infinity"), "NaN, infinity, or over 38 digits"),
        (Decimal("1." + "1" * 40), "NaN, infinity, or over 38 digits"),
        (object(), "of a type DynamoDB has no value for (plain=True; found a object)"),
        (complex(1, 2), "found a complex"),
    ],
    ids=["float", "nested float", "nan", "infinity", "too many digits", "object", "complex"],
)
async def test_a_value_dynamodb_cannot_hold_names_the_parameter_not_the_value(
    aiokit_pool: aiokit.SessionPool, table: Any, value: Any, says: str
) -> None:
    pager = aiokit_pool.paginate(
        "dynamodb",
        "query",
        plain=True,
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": value},
    )
    with pytest.raises(aiokit.InvalidParameterError) as caught:
        async for _ in pager:
            pass
    message = str(caught.value)
    assert "ExpressionAttributeValues[':pk']" in message and says in message
    assert "dynamodb Query" in message
    assert repr(value) not in message and "11111111" not in message
    # the crawl says the same once, before any target runs
    with pytest.raises(aiokit.InvalidParameterError, match=r"ExpressionAttributeValues\[':pk'\]"):
        async with aiokit_pool.crawl(
            "dynamodb",
            "query",
            plain=True,
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": value},
        ):
            pass


async def test_a_plain_exclusive_start_key_of_the_wrong_shape_is_botocores_parameter_error(
    aiokit_pool: aiokit.SessionPool, table: Any
) -> None:
    pager = aiokit_pool.paginate(
        "dynamodb", "scan", plain=True, TableName=TABLE, ExclusiveStartKey="not a map"
    )
    with pytest.raises(aiokit.InvalidParameterError, match="ExclusiveStartKey"):
        async for _ in pager:
            pass
