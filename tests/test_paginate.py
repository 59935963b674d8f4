"""Paginators on moto: exact multi-page results, resume tokens, validation, faults, abandonment."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import boto3
import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiohttp import web

import aiokit
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, MotoServer, serve_on_loopback
from tests.conftest import relay

pytestmark = pytest.mark.asyncio

N_OBJECTS = 2000
BUCKET = "pages"


async def _fill_bucket(pool: aiokit.SessionPool, n: int = N_OBJECTS) -> None:
    s3 = await pool.client("s3")
    await s3.create_bucket(Bucket=BUCKET)
    limiter = anyio.CapacityLimiter(16)

    async def put(i: int) -> None:
        async with limiter:
            await s3.put_object(Bucket=BUCKET, Key=f"dir{i % 4}/obj-{i:05d}", Body=b"")

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(put, i)


@pytest.fixture(scope="module")
def paging_server() -> Iterator[MotoServer]:
    """A moto server of this module's own, filled once: the shared one is reset per test."""
    with MotoServer() as server:

        async def fill() -> None:
            async with _pool(server.endpoint_url) as pool:
                await _fill_bucket(pool)

        anyio.run(fill)
        yield server


@pytest_asyncio.fixture
async def filled_pool(paging_server: MotoServer) -> AsyncIterator[aiokit.SessionPool]:
    async with _pool(paging_server.endpoint_url) as pool:
        yield pool


def _pool(endpoint: str, **kw: Any) -> aiokit.SessionPool:
    return aiokit.SessionPool(
        endpoint_url=endpoint, region="us-east-1", credentials=TEST_CREDENTIALS, **kw
    )


ALL_KEYS = sorted(f"dir{i % 4}/obj-{i:05d}" for i in range(N_OBJECTS))


async def test_pages_items_and_search_are_exact(filled_pool: aiokit.SessionPool) -> None:
    pager = filled_pool.paginate(
        "s3", "list_objects_v2", Bucket=BUCKET, PaginationConfig={"PageSize": 100}
    )
    pages = [page async for page in pager]
    assert len(pages) == 20
    assert pager.pages == 20 and pager.resume_token is None
    keys = [o["Key"] async for o in pager.items()]
    assert keys == ALL_KEYS
    found = [k async for k in pager.search("Contents[].Key")]
    assert found == ALL_KEYS
    camel = filled_pool.paginate("s3", "ListObjectsV2", Bucket=BUCKET)
    assert len([o async for o in camel.items()]) == N_OBJECTS


async def test_a_search_that_fails_on_a_page_is_an_invalid_parameter(
    filled_pool: aiokit.SessionPool,
) -> None:
    pager = filled_pool.paginate("s3", "list_objects_v2", Bucket=BUCKET, MaxKeys=10)
    # It parses; abs() of a list of strings fails on the first page.
    with pytest.raises(aiokit.InvalidParameterError, match=r"abs\(Contents\[\]\.Key\)"):
        async for _ in pager.search("abs(Contents[].Key)"):
            pass


async def test_several_result_keys_choose_one(filled_pool: aiokit.SessionPool) -> None:
    pager = filled_pool.paginate("s3", "list_objects_v2", Bucket=BUCKET, Delimiter="/")
    prefixes = [p["Prefix"] async for p in pager.items("CommonPrefixes")]
    assert prefixes == ["dir0/", "dir1/", "dir2/", "dir3/"]
    assert [o async for o in pager.items()] == []  # Contents: nothing at the top level
    with pytest.raises(aiokit.InvalidParameterError, match="result keys"):
        async for _ in pager.items("Nope"):
            pass


async def test_resume_from_a_token_taken_after_any_page(filled_pool: aiokit.SessionPool) -> None:
    config = {"PageSize": 150}
    first = filled_pool.paginate("s3", "list_objects_v2", Bucket=BUCKET, PaginationConfig=config)
    seen: list[str] = []
    async for page in first:
        seen += [o["Key"] for o in page["Contents"]]
        if first.pages == 7:
            break
    token = first.resume_token
    assert token is not None
    rest = filled_pool.paginate(
        "s3",
        "list_objects_v2",
        Bucket=BUCKET,
        PaginationConfig={**config, "StartingToken": token},
    )
    seen += [o["Key"] async for o in rest.items()]
    assert seen == ALL_KEYS  # none missed, none twice


async def test_max_items_then_resume(filled_pool: aiokit.SessionPool) -> None:
    config: dict[str, Any] = {"PageSize": 100, "MaxItems": 250}
    first = filled_pool.paginate("s3", "list_objects_v2", Bucket=BUCKET, PaginationConfig=config)
    head = [o["Key"] async for o in first.items()]
    assert len(head) == 250
    assert first.resume_token is not None
    keys = list(head)
    token: str | None = first.resume_token
    while token is not None:
        more = filled_pool.paginate(
            "s3",
            "list_objects_v2",
            Bucket=BUCKET,
            PaginationConfig={"PageSize": 100, "MaxItems": 700, "StartingToken": token},
        )
        keys += [o["Key"] async for o in more.items()]
        token = more.resume_token
    assert keys == ALL_KEYS


@pytest.mark.parametrize(
    "params",
    [
        {"PaginationConfig": {"PageSize": 150}},
        {"Delimiter": "/", "Prefix": "dir1"},
        {"PaginationConfig": {"PageSize": 100, "MaxItems": 250}},
        {"Prefix": "dir2/", "PaginationConfig": {"PageSize": 7, "MaxItems": 12}},
    ],
    ids=["pages", "prefixes", "max-items", "max-items-mid-page"],
)
async def test_full_result_is_botocores_build_full_result(
    filled_pool: aiokit.SessionPool, paging_server: MotoServer, params: dict[str, Any]
) -> None:
    """Differential: the merged result is what boto3's own paginator builds (and the AWS CLI
    prints), NextToken included when MaxItems cut it short."""

    def botocore_result() -> dict[str, Any]:
        s3 = boto3.client(
            "s3",
            endpoint_url=paging_server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=TEST_CREDENTIALS.access_key_id,
            aws_secret_access_key=TEST_CREDENTIALS.secret_access_key,
        )
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, **params)
        result: dict[str, Any] = pages.build_full_result()
        return result

    expected = await anyio.to_thread.run_sync(botocore_result)
    pager = filled_pool.paginate("s3", "list_objects_v2", Bucket=BUCKET, **params)
    merged = await pager.full_result()
    assert merged == expected
    assert ("NextToken" in merged) == ("MaxItems" in params.get("PaginationConfig", {}))


async def test_json_services_paginate_exactly(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    for i in range(23):
        await ddb.create_table(
            TableName=f"t{i:02d}",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    pager = aiokit_pool.paginate("dynamodb", "list_tables", PaginationConfig={"PageSize": 5})
    assert [t async for t in pager.items()] == [f"t{i:02d}" for i in range(23)]
    assert pager.pages == 5
    orgs = aiokit_pool.paginate("organizations", "list_accounts", PaginationConfig={"PageSize": 2})
    ids = [a["Id"] async for a in orgs.items()]
    assert sorted(ids) == sorted([*fake_organization.account_ids, "123456789012"])
    assert orgs.pages == 4


async def test_bad_requests_fail_before_any_request() -> None:
    # Nothing listens on port 9: a request would fail with EndpointError, not these.
    async with aiokit.SessionPool(
        endpoint_url="http://127.0.0.1:9", region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        cases: list[tuple[aiokit.Paginator, type[Exception], str]] = [
            (
                pool.paginate("dynamodb", "describe_table", TableName="t"),
                aiokit.UnknownOperationError,
                "not paginated",
            ),
            (
                pool.paginate("s3", "list_objectz_v2", Bucket="b"),
                aiokit.UnknownOperationError,
                "list_objects_v2",
            ),
            (
                pool.paginate("s3", "list_objects_v2", Bukket="b"),
                aiokit.InvalidParameterError,
                "Bukket",
            ),
            (
                pool.paginate("s3", "list_objects_v2", Bucket=5),
                aiokit.InvalidParameterError,
                "Bucket",
            ),
        ]
        for pager, error, text in cases:
            with pytest.raises(error, match=text):
                async for _ in pager:
                    pass
        with pytest.raises(aiokit.UnknownServiceError):
            async for _ in pool.paginate("nosuchservice", "list_things"):
                pass
        with pytest.raises(aiokit.InvalidParameterError, match="JMESPath"):
            pool.paginate("s3", "list_objects_v2", Bucket="b").search("Contents[?")
        with pytest.raises(aiokit.InvalidParameterError, match="PaginationConfig"):
            pool.paginate("s3", "list_objects_v2", Bucket="b", PaginationConfig={"Size": 1})


async def test_a_foreign_starting_token_is_a_clear_error(aiokit_pool: aiokit.SessionPool) -> None:
    # A token minted for another operation: {"Nope": "x"} in botocore's format.
    pager = aiokit_pool.paginate(
        "dynamodb", "list_tables", PaginationConfig={"StartingToken": "eyJOb3BlIjogIngifQ=="}
    )
    with pytest.raises(aiokit.InvalidParameterError, match="dynamodb ListTables in us-east-1"):
        async for _ in pager:
            pass


async def test_abandoning_early_leaks_nothing(filled_pool: aiokit.SessionPool) -> None:
    pager = filled_pool.paginate(
        "s3", "list_objects_v2", Bucket=BUCKET, PaginationConfig={"PageSize": 50}
    )
    async for _ in pager.items():
        break
    with pytest.raises(RuntimeError):
        async for _ in pager:
            raise RuntimeError("consumer failed")
    with anyio.move_on_after(0.05):
        async for _ in pager:
            await anyio.sleep(1)
    gc.collect()
    # The pool is still perfectly usable afterwards.
    assert len([o async for o in pager.items()]) == N_OBJECTS


# --- faults: a proxy in front of moto that fails chosen pages -------------------------------


class FaultProxy:
    """Forwards to moto; fails the ``page``-th ListObjectsV2 request ``times`` times."""

    def __init__(self, upstream: str, page: int, failures: list[tuple[int, str, str]]) -> None:
        self.upstream = upstream
        self.page = page
        self.failures = list(failures)  # (status, code, body format) in order
        self.list_requests = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.query.get("list-type") == "2":
            self.list_requests += 1
            if self.list_requests >= self.page and self.failures:
                status, code, _ = self.failures.pop(0)
                xml = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
                return web.Response(status=status, text=xml, content_type="application/xml")
        return await relay(request, body, self.upstream)


@pytest_asyncio.fixture
async def proxy_factory(moto_endpoint: str) -> AsyncIterator[Any]:
    async with contextlib.AsyncExitStack() as servers:

        async def make(page: int, failures: list[tuple[int, str, str]]) -> FaultProxy:
            proxy = FaultProxy(moto_endpoint, page, failures)
            proxy.url = await servers.enter_async_context(serve_on_loopback(proxy.handle))
            return proxy

        yield make


@pytest.mark.parametrize(
    ("plan", "mode", "page_retries"),
    [
        pytest.param([(500, "InternalError", "")] * 4, "standard", 2, id="http-500-standard"),
        pytest.param([(500, "InternalError", "")] * 4, "shared", 2, id="http-500-shared"),
        pytest.param([(503, "SlowDown", "")] * 4, "standard", 2, id="throttled-503-standard"),
        # The shared mode waits throttles out inside the request: no page retry needed.
        pytest.param([(503, "SlowDown", "")] * 4, "shared", 0, id="throttled-503-shared"),
    ],
)
async def test_failing_page_is_retried_without_restarting(
    proxy_factory: Any,
    moto_endpoint: str,
    plan: list[tuple[int, str, str]],
    mode: str,
    page_retries: int,
) -> None:
    async with aiokit.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as seed:
        await _fill_bucket(seed, 500)
    proxy = await proxy_factory(page=3, failures=plan)
    # botocore gets 2 attempts per request; the proxy fails page 3 four times in a row, so
    # aiokit must retry that page itself.
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 2})
    async with aiokit.SessionPool(
        endpoint_url=proxy.url,
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        config=config,
        retry_mode=mode,
    ) as pool:
        pager = pool.paginate(
            "s3", "list_objects_v2", Bucket=BUCKET, PaginationConfig={"PageSize": 100}
        )
        keys = [o["Key"] async for o in pager.items()]
    assert sorted(keys) == keys and len(set(keys)) == 500
    assert pager.pages == 5
    assert pager.retries == page_retries  # 4 failures / 2 attempts per request
    # 5 pages + the 4 failed attempts: nothing was fetched twice from moto.
    assert proxy.list_requests == 5 + 4


async def test_page_retries_are_bounded(proxy_factory: Any, moto_endpoint: str) -> None:
    async with aiokit.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as seed:
        await _fill_bucket(seed, 150)
    proxy = await proxy_factory(page=2, failures=[(500, "InternalError", "")] * 100)
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})
    async with aiokit.SessionPool(
        endpoint_url=proxy.url, region="us-east-1", credentials=TEST_CREDENTIALS, config=config
    ) as pool:
        pager = pool.paginate(
            "s3",
            "list_objects_v2",
            Bucket=BUCKET,
            page_retries=2,
            PaginationConfig={"PageSize": 100},
        )
        got: list[str] = []
        with pytest.raises(aiokit.AWSError, match="InternalError") as info:
            async for obj in pager.items():
                got.append(obj["Key"])
    assert len(got) == 100  # the first page's items were delivered before the failure
    assert pager.retries == 2
    assert any("retried page 2" in note for note in info.value.__notes__)
    assert pager.resume_token is not None  # resume later from where it stopped


# --- resuming from inside a page --------------------------------------------------------------


async def _items_until(
    pool: aiokit.SessionPool, stop: int, config: dict[str, Any], **params: Any
) -> tuple[list[str], str | None]:
    """Read items, saving the resume token after each one as a checkpointing consumer
    would, and stop after ``stop`` of them (a crash, say)."""
    seen: list[str] = []
    token = config.get("StartingToken")
    if stop == 0:
        return seen, token
    pager = pool.paginate(**params, PaginationConfig=config)
    async for item in pager.items():
        seen.append(item["Key"] if isinstance(item, dict) else item)
        token = pager.resume_token
        if len(seen) == stop:
            break
    return seen, token


@pytest.mark.parametrize("stop", range(11))
async def test_a_resume_token_saved_after_any_item_loses_and_repeats_nothing(
    aiokit_pool: aiokit.SessionPool, stop: int
) -> None:
    """Stopping after any item, mid-page included, and resuming from the token saved
    after it gives every item exactly once (the rest of the page was lost before)."""
    s3 = await aiokit_pool.client("s3")
    await s3.create_bucket(Bucket="resume-mid-page")
    keys = [f"k{i:02d}" for i in range(10)]
    for key in keys:
        await s3.put_object(Bucket="resume-mid-page", Key=key, Body=b"")
    call = {"service": "s3", "operation": "list_objects_v2", "Bucket": "resume-mid-page"}
    config: dict[str, Any] = {"PageSize": 4}
    first, token = await _items_until(aiokit_pool, stop, config, **call)
    rest: list[str] = []
    # then, twice, two items at a time, and the rest; None: nothing left
    for count in (2, 2, -1):
        if token is None and (first or rest):
            break
        resume = {"StartingToken": token} if token is not None else {}
        more, token = await _items_until(aiokit_pool, count, {**config, **resume}, **call)
        rest += more
    assert token is None  # read to the end
    assert first + rest == keys


async def test_in_page_resume_tokens_work_for_json_services_and_with_max_items(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    names = [f"t{i:02d}" for i in range(7)]
    for name in names:
        await ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    call = {"service": "dynamodb", "operation": "list_tables"}
    first, token = await _items_until(aiokit_pool, 4, {"PageSize": 3}, **call)
    rest, _ = await _items_until(aiokit_pool, -1, {"PageSize": 3, "StartingToken": token}, **call)
    assert first + rest == names
    # MaxItems ends mid-page: the token after its last item is botocore's own
    pager = aiokit_pool.paginate(
        "dynamodb", "list_tables", PaginationConfig={"PageSize": 3, "MaxItems": 5}
    )
    got = [name async for name in pager.items()]
    after = pager.resume_token
    rest, _ = await _items_until(aiokit_pool, -1, {"PageSize": 3, "StartingToken": after}, **call)
    assert got + rest == names


async def test_glacier_listings_need_no_account_id_as_in_boto3(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    # botocore fills in accountId="-" before validating; aiokit's own check must agree.
    glacier = await aiokit_pool.client("glacier")
    await glacier.create_vault(vaultName="v1")
    names = [v["VaultName"] async for v in aiokit_pool.paginate("glacier", "list_vaults").items()]
    assert names == ["v1"]
    items, _ = await aiokit_pool.crawl("glacier", "list_vaults").collect()
    assert [i.data["VaultName"] for i in items] == ["v1"]


async def test_a_paginators_errors_say_where_the_pool_sent_it(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """The paginator takes its scope (region, account) from the pool, not from the client."""
    pager = aiokit_pool.paginate(
        "s3", "list_objects_v2", account="111111111111", role="Auditor", Bukket="b"
    )
    with pytest.raises(aiokit.InvalidParameterError) as info:
        async for _ in pager:
            pass
    assert (info.value.region, info.value.account) == ("us-east-1", "111111111111")
    assert str(info.value).startswith("s3 ListObjectsV2 in us-east-1 (account 111111111111): ")
