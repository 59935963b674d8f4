"""Hostile input: bad values for every public parameter get one clear aiokit error, at once.

One table, one row per (callable, bad value): the class expected, a fragment of its message
(naming the parameter and what was wrong), and whether a request may be sent first. Every row
runs against moto through a counting proxy on loopback, so "no request before validation" is
checked on the wire, and under ``anyio.fail_after(10)``, so a hang is a failure, not a stuck
suite. A row passes only if the error is an ``AiokitError`` raised as itself (never an
``ExceptionGroup``, never a bare ``ValueError``/``TypeError``).
"""

from __future__ import annotations

import base64
import inspect
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiohttp import web
from botocore.config import Config as BotocoreConfig

import aiokit
import aiokit.sync
from aiokit.testing import TEST_CREDENTIALS, serve_on_loopback

pytestmark = pytest.mark.asyncio

ROLE = "Auditor"
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
NAN = float("nan")
INF = float("inf")
# A real resume token of dynamodb ListTables ({"ExclusiveStartTableName": "t1"}), and it cut.
TOKEN = base64.b64encode(json.dumps({"ExclusiveStartTableName": "t1"}).encode()).decode()


@dataclass
class Env:
    """What a row gets: a pool on the counting proxy, targets in three accounts."""

    pool: aiokit.SessionPool
    url: str
    requests: list[str]

    @property
    def targets(self) -> list[aiokit.Target]:
        return [aiokit.Target.assume(a, "us-east-1", ROLE) for a in ACCOUNTS]

    def sync_pool(self, **options: Any) -> aiokit.sync.SessionPool:
        base = {"endpoint_url": self.url, "region": "us-east-1", "credentials": TEST_CREDENTIALS}
        return aiokit.sync.SessionPool(**{**base, **options})


@pytest_asyncio.fixture
async def env(moto_endpoint: str) -> AsyncIterator[Env]:
    requests: list[str] = []
    async with aiohttp.ClientSession(auto_decompress=False) as session:

        async def forward(request: web.Request) -> web.StreamResponse:
            requests.append(f"{request.method} {request.path_qs}")
            headers = {
                k: v
                for k, v in request.headers.items()
                if k.lower() not in ("host", "content-length", "transfer-encoding")
            }
            async with session.request(
                request.method,
                moto_endpoint + request.path_qs,
                headers=headers,
                data=await request.read(),
                allow_redirects=False,
            ) as answer:
                body = await answer.read()
                kept = {
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")
                }
                return web.Response(status=answer.status, body=body, headers=kept)

        async with serve_on_loopback(forward) as url:
            async with aiokit.SessionPool(
                endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS, role=ROLE
            ) as pool:
                yield Env(pool, url, requests)


async def drain(source: AsyncIterable[Any]) -> None:
    async for _ in source:
        pass


async def run(cm: Any) -> None:
    """Run a fan-out or crawl to its end."""
    async with cm as stream:
        await drain(stream)


async def wait_table(e: Env, **options: Any) -> Any:
    return await e.pool.wait("dynamodb", "table_exists", TableName="t", **options)


async def wait_many(e: Env, param_sets: Any, **options: Any) -> Any:
    return await e.pool.wait_many("dynamodb", "table_exists", param_sets, **options)


async def ok(ctx: aiokit.Context) -> int:
    return 1


def not_async(ctx: aiokit.Context) -> int:
    return 1


def in_thread(fn: Callable[[], Any]) -> Callable[[Env], Any]:
    """A sync-facade row: it blocks, so it runs in a worker thread, not on the test's loop."""

    async def call(e: Env) -> Any:
        return await anyio.to_thread.run_sync(fn)

    return call


def sync_row(make: Callable[[Env], Any]) -> Callable[[Env], Any]:
    """A row on a sync facade made for it (and closed after it)."""

    async def call(e: Env) -> Any:
        def body() -> Any:
            with e.sync_pool() as pool:
                return make(pool)

        return await anyio.to_thread.run_sync(body)

    return call


@dataclass(frozen=True)
class Row:
    id: str
    call: Callable[[Env], Any]
    error: type[Exception]
    fragment: str
    sends: bool = False  # whether a request may be sent before the error


Config = aiokit.ConfigurationError
Param = aiokit.InvalidParameterError
Region = aiokit.InvalidRegionError
Role = aiokit.InvalidRoleError
Service = aiokit.UnknownServiceError
Operation = aiokit.UnknownOperationError
Pool = aiokit.SessionPool


def pool_row(id: str, fragment: str, error: type[Exception] = Config, **options: Any) -> Row:
    return Row(f"SessionPool-{id}", lambda e: Pool(**options), error, fragment)


def pager(e: Env, operation: str = "list_tables", service: str = "dynamodb", **kw: Any) -> Any:
    return e.pool.paginate(service, operation, **kw)


def crawl(e: Env, operation: str = "list_tables", **kw: Any) -> Any:
    return run(e.pool.crawl("dynamodb", operation, e.targets, **kw))


def fan_out(e: Env, fn: Any = ok, targets: Any = None, **kw: Any) -> Any:
    return run(e.pool.fan_out(fn, e.targets if targets is None else targets, **kw))


ROWS = [
    # --- SessionPool(...) ---------------------------------------------------------------------
    pool_row("concurrency-0", "concurrency must be an int >= 1", concurrency=0),
    pool_row("concurrency-negative", "concurrency must be an int >= 1", concurrency=-4),
    pool_row("concurrency-bool", "concurrency must be an int", concurrency=True),
    pool_row("concurrency-str", "concurrency must be an int", concurrency="8"),
    pool_row("concurrency-float", "concurrency must be an int", concurrency=1.5),
    pool_row("max_clients-0", "max_clients", max_clients=0),
    pool_row("sts_concurrency-0", "sts_concurrency", sts_concurrency=0),
    pool_row("refresh_before-negative", "refresh_before", refresh_before=-1),
    pool_row("refresh_before-nan", "refresh_before", refresh_before=NAN),
    pool_row("gc_threshold-0", "gc_threshold", gc_threshold=0),
    pool_row("endpoint_url-no-scheme", "scheme", endpoint_url="127.0.0.1:5000"),
    pool_row("endpoint_url-ftp", "scheme", endpoint_url="ftp://127.0.0.1:21"),
    pool_row("endpoint_url-space", "white space", endpoint_url="http://exa mple.com"),
    pool_row("endpoint_url-no-host", "no host", endpoint_url="http://"),
    pool_row("endpoint_url-bad-port", "port", endpoint_url="http://127.0.0.1:99999"),
    pool_row("endpoint_url-int", "endpoint_url must be a URL", endpoint_url=5000),
    pool_row("endpoint_urls-bad-url", "endpoint_urls['s3']", endpoint_urls={"s3": "nope"}),
    pool_row("endpoint_urls-list", "endpoint_urls must be a mapping", endpoint_urls=["x"]),
    pool_row("config-dict", "config must be an aiobotocore", config={"retries": {}}),
    pool_row("config-str", "config must be an aiobotocore", config="AioConfig()"),
    pool_row(
        "config-max_pool_connections-0",
        "max_pool_connections",
        config=AioConfig(max_pool_connections=0),
    ),
    pool_row("config-read_timeout-str", "read_timeout", config=AioConfig(read_timeout="30")),
    pool_row(
        "config-connect_timeout-negative", "connect_timeout", config=AioConfig(connect_timeout=-1)
    ),
    pool_row("config-proxies-str", "proxies", config=AioConfig(proxies="http://proxy:3128")),
    pool_row(
        "config-signature_version-unknown",
        "signature_version",
        config=AioConfig(signature_version="v9"),
    ),
    pool_row(
        "config-user_agent_extra-int", "user_agent_extra", config=AioConfig(user_agent_extra=5)
    ),
    Row(
        "client-config-max_pool_connections-0",
        lambda e: e.pool.client("sqs", config=AioConfig(max_pool_connections=0)),
        Config,
        "max_pool_connections",
    ),
    Row(
        "client-botocore-Config-is-taken",
        lambda e: e.pool.client("sqs", config=BotocoreConfig(read_timeout=0)),
        Config,
        "read_timeout",
    ),
    pool_row("region-int", "region must be a region name", Region, region=1),
    pool_row("region-list", "region must be a region name", Region, region=["us-east-1"]),
    pool_row("region-empty", "region must be a region name", Region, region=""),
    pool_row("profile-int", "profile must be a non-empty str", profile=5),
    pool_row("profile-empty", "profile must be a non-empty str", profile=""),
    pool_row("credentials-str", "credentials must be an aiokit identity", credentials="AKIA"),
    pool_row("credentials-dict", "credentials must be an aiokit identity", credentials={}),
    pool_row("profile-and-credentials", "not both", profile="p", credentials=TEST_CREDENTIALS),
    pool_row("role-int", "role must be a non-empty str", Role, role=5),
    pool_row("retry_mode-unknown", "retry_mode must be one of", retry_mode="fast"),
    pool_row(
        "retry-with-botocore-mode",
        "retry= applies to retry_mode='shared' only",
        retry=aiokit.RetrySettings(),
        retry_mode="standard",
    ),
    pool_row(
        "quotas-with-botocore-mode",
        "quotas= applies to retry_mode='shared' only",
        quotas={("ec2", "describe"): (10.0, 10.0)},
        retry_mode="adaptive",
    ),
    pool_row("retry-dict", "retry must be an aiokit.RetrySettings", retry={"max_attempts": 3}),
    pool_row("quotas-negative", "rate", quotas={("ec2", "describe"): (-1.0, 10.0)}),
    pool_row("quotas-list", "quotas must be a mapping", quotas=[("ec2", 1)]),
    pool_row("quotas-bad-key", "quotas keys", quotas={"ec2": (1.0, 1.0)}),
    # --- pool.client(...) ---------------------------------------------------------------------
    Row("client-service-None", lambda e: e.pool.client(None), Service, "service must be"),
    Row("client-service-empty", lambda e: e.pool.client(""), Service, "service must be"),
    Row("client-service-int", lambda e: e.pool.client(5), Service, "service must be"),
    Row("client-service-unknown", lambda e: e.pool.client("dynamodbx"), Service, "'dynamodbx'"),
    Row("client-region-int", lambda e: e.pool.client("sqs", 1), Region, "region must be"),
    Row("client-region-list", lambda e: e.pool.client("sqs", ["us-east-1"]), Region, "region"),
    Row(
        "client-region-malformed",
        lambda e: e.pool.client("sqs", "not a region!"),
        Region,
        "not a region!",
    ),
    Row(
        "client-region-unknown-partition",
        lambda e: e.pool.client("sqs", "xx-nowhere-1"),
        Region,
        "xx-nowhere-1",
    ),
    Row(
        "client-region-typo",
        lambda e: e.pool.client("sqs", "us-eats-1"),
        Region,
        "did you mean us-east-1",
    ),
    Row(
        "paginate-region-typo",
        lambda e: drain(pager(e, region="eu-wset-1")),
        Region,
        "did you mean eu-west-1",
    ),
    Row(
        "client-account-int",
        lambda e: e.pool.client("sqs", account=111111111111),
        Role,
        "12 digits",
    ),
    Row(
        "client-account-11-digits",
        lambda e: e.pool.client("sqs", account="11111111111"),
        Role,
        "12 digits",
    ),
    Row(
        "client-account-letters",
        lambda e: e.pool.client("sqs", account="abcdefghijkl"),
        Role,
        "12 digits",
    ),
    Row(
        "client-account-and-identity",
        lambda e: e.pool.client("sqs", account=ACCOUNTS[0], identity=TEST_CREDENTIALS),
        Config,
        "not both",
    ),
    Row(
        "client-role-empty",
        lambda e: e.pool.client("sqs", account=ACCOUNTS[0], role=""),
        Role,
        "role must be",
    ),
    Row(
        "client-role-malformed",
        lambda e: e.pool.client("sqs", account=ACCOUNTS[0], role="no spaces"),
        Role,
        "malformed role name",
    ),
    Row(
        "client-identity-str",
        lambda e: e.pool.client("sqs", identity="me"),
        Config,
        "identity must be an aiokit identity",
    ),
    Row(
        "client-config-dict",
        lambda e: e.pool.client("sqs", config={"read_timeout": 5}),
        Config,
        "config must be",
    ),
    Row(
        "client-endpoint_url-no-scheme",
        lambda e: e.pool.client("sqs", endpoint_url="localhost:4566"),
        Config,
        "endpoint_url",
    ),
    # --- pool.resource(...) -------------------------------------------------------------------
    Row(
        "resource-no-resource-interface",
        lambda e: e.pool.resource("kms"),
        Service,
        "no resource interface",
    ),
    Row("resource-service-None", lambda e: e.pool.resource(None), Service, "service must be"),
    Row(
        "resource-account-int", lambda e: e.pool.resource("dynamodb", account=1), Role, "12 digits"
    ),
    Row(
        "resource-config-dict",
        lambda e: e.pool.resource("dynamodb", config={}),
        Config,
        "config must be",
    ),
    # --- pool.paginate(...), .items(), .search() ----------------------------------------------
    Row(
        "paginate-operation-unknown",
        lambda e: drain(pager(e, "list_tabels")),
        Operation,
        "list_tabels",
    ),
    Row(
        "paginate-operation-not-paginated",
        lambda e: drain(pager(e, "describe_table", TableName="t")),
        Operation,
        "not paginated",
    ),
    Row("paginate-operation-None", lambda e: pager(e, None), Operation, "operation must be"),
    Row("paginate-service-None", lambda e: pager(e, service=None), Service, "service must be"),
    Row("paginate-region-int", lambda e: pager(e, region=7), Region, "region must be"),
    Row("paginate-account-int", lambda e: pager(e, account=111111111111), Role, "12 digits"),
    Row("paginate-unknown-parameter", lambda e: drain(pager(e, Limitt=5)), Param, "Limitt"),
    Row("paginate-parameter-type", lambda e: drain(pager(e, Limit="5")), Param, "Limit"),
    Row(
        "paginate-MaxItems-negative",
        lambda e: pager(e, PaginationConfig={"MaxItems": -1}),
        Param,
        "MaxItems",
    ),
    Row(
        "paginate-MaxItems-0",
        lambda e: pager(e, PaginationConfig={"MaxItems": 0}),
        Param,
        "MaxItems",
    ),
    Row(
        "paginate-MaxItems-bool",
        lambda e: pager(e, PaginationConfig={"MaxItems": True}),
        Param,
        "MaxItems",
    ),
    Row(
        "paginate-MaxItems-float",
        lambda e: pager(e, PaginationConfig={"MaxItems": 2.5}),
        Param,
        "MaxItems",
    ),
    Row(
        "paginate-PageSize-str",
        lambda e: pager(e, PaginationConfig={"PageSize": "ten"}),
        Param,
        "PageSize",
    ),
    Row(
        "paginate-PageSize-float",
        lambda e: pager(e, PaginationConfig={"PageSize": 2.5}),
        Param,
        "PageSize",
    ),
    Row(
        "paginate-PageSize-0",
        lambda e: pager(e, PaginationConfig={"PageSize": 0}),
        Param,
        "PageSize",
    ),
    Row(
        "paginate-PageSize-unsupported",
        lambda e: drain(pager(e, "list_topics", "sns", PaginationConfig={"PageSize": 5})),
        Param,
        "PageSize is not supported",
    ),
    Row(
        "paginate-PaginationConfig-unknown-key",
        lambda e: pager(e, PaginationConfig={"Pagesize": 5}),
        Param,
        "Pagesize",
    ),
    Row(
        "paginate-PaginationConfig-str",
        lambda e: pager(e, PaginationConfig="50"),
        Param,
        "PaginationConfig must be a mapping",
    ),
    Row(
        "paginate-StartingToken-cut-short",
        lambda e: drain(pager(e, PaginationConfig={"StartingToken": TOKEN[:-6]})),
        Param,
        "StartingToken",
    ),
    Row(
        "paginate-StartingToken-garbage",
        lambda e: drain(pager(e, PaginationConfig={"StartingToken": "not-a-token"})),
        Param,
        "StartingToken",
    ),
    Row(
        "paginate-StartingToken-int",
        lambda e: pager(e, PaginationConfig={"StartingToken": 5}),
        Param,
        "StartingToken",
    ),
    Row(
        "paginate-StartingToken-other-operation",
        lambda e: drain(pager(e, "list_queues", "sqs", PaginationConfig={"StartingToken": TOKEN})),
        Param,
        "StartingToken",
    ),
    Row(
        "paginate-page_retries-negative",
        lambda e: pager(e, page_retries=-1),
        Config,
        "page_retries",
    ),
    Row("paginate-retry_budget-nan", lambda e: pager(e, retry_budget=NAN), Config, "retry_budget"),
    Row("paginate-items-key-unknown", lambda e: drain(pager(e).items("Nope")), Param, "'Nope'"),
    Row("paginate-search-bad-jmespath", lambda e: pager(e).search("[["), Param, "JMESPath"),
    # --- pool.wait(...) / wait_many(...) --------------------------------------------------------
    Row(
        "wait-waiter-unknown",
        lambda e: e.pool.wait("dynamodb", "table_exitsts", TableName="t"),
        Operation,
        "table_exitsts",
    ),
    Row(
        "wait-waiter-None",
        lambda e: e.pool.wait("dynamodb", None, TableName="t"),
        Operation,
        "waiter must be",
    ),
    Row(
        "wait-service-None", lambda e: e.pool.wait(None, "table_exists"), Service, "service must be"
    ),
    Row("wait-timeout-0", lambda e: wait_table(e, timeout=0), Config, "timeout"),
    Row("wait-timeout-negative", lambda e: wait_table(e, timeout=-1), Config, "timeout"),
    Row("wait-timeout-nan", lambda e: wait_table(e, timeout=NAN), Config, "timeout"),
    Row("wait-timeout-inf", lambda e: wait_table(e, timeout=INF), Config, "timeout"),
    Row("wait-timeout-str", lambda e: wait_table(e, timeout="5"), Config, "timeout"),
    Row("wait-delay-0", lambda e: wait_table(e, delay=0), Config, "delay"),
    Row("wait-delay-negative", lambda e: wait_table(e, delay=-1), Config, "delay"),
    Row("wait-max_attempts-0", lambda e: wait_table(e, max_attempts=0), Config, "max_attempts"),
    Row(
        "wait-max_attempts-bool", lambda e: wait_table(e, max_attempts=True), Config, "max_attempts"
    ),
    Row(
        "wait-max_attempts-float", lambda e: wait_table(e, max_attempts=2.5), Config, "max_attempts"
    ),
    Row("wait-backoff-unknown", lambda e: wait_table(e, backoff="linear"), Config, "backoff"),
    Row(
        "wait-WaiterConfig-Delay-0",
        lambda e: wait_table(e, WaiterConfig={"Delay": 0}),
        Config,
        "delay",
    ),
    Row(
        "wait-WaiterConfig-unknown-key",
        lambda e: wait_table(e, WaiterConfig={"Dealy": 5}),
        Config,
        "Dealy",
    ),
    Row(
        "wait-WaiterConfig-str",
        lambda e: wait_table(e, WaiterConfig="fast"),
        Config,
        "WaiterConfig",
    ),
    Row(
        "wait-unknown-parameter",
        lambda e: e.pool.wait("dynamodb", "table_exists", TableNme="t"),
        Param,
        "TableNme",
    ),
    Row(
        "wait-model-empty",
        lambda e: wait_table(e, model={"version": 2, "waiters": {}}),
        Config,
        "waiters",
    ),
    Row(
        "wait-region-int",
        lambda e: e.pool.wait("dynamodb", "table_exists", 1, TableName="t"),
        Region,
        "region must be",
    ),
    Row(
        "wait_many-param_sets-dict",
        lambda e: wait_many(e, {"TableName": "t"}),
        Config,
        "param_sets",
    ),
    Row("wait_many-param_sets-item-int", lambda e: wait_many(e, [5]), Config, "param_sets[0]"),
    Row("wait_many-param_sets-int", lambda e: wait_many(e, 5), Config, "param_sets"),
    Row(
        "wait_many-concurrency-0",
        lambda e: wait_many(e, [{"TableName": "t"}], concurrency=0),
        Config,
        "concurrency",
    ),
    Row(
        "wait_many-timeout-negative",
        lambda e: wait_many(e, [{"TableName": "t"}], timeout=-1),
        Config,
        "timeout",
    ),
    # --- pool.targets(...) --------------------------------------------------------------------
    Row(
        "targets-accounts-int",
        lambda e: e.pool.targets(111111111111),
        Config,
        "accounts=111111111111",
    ),
    Row("targets-accounts-item-int", lambda e: e.pool.targets([111111111111]), Role, "12 digits"),
    Row("targets-accounts-11-digits", lambda e: e.pool.targets(["11111111111"]), Role, "12 digits"),
    Row("targets-accounts-word", lambda e: e.pool.targets("everyone"), Config, "'everyone'"),
    Row(
        "targets-regions-typo",
        lambda e: e.pool.targets(ACCOUNTS, regions="us-eats-1"),
        Region,
        "us-eats-1",
    ),
    Row(
        "targets-regions-empty",
        lambda e: e.pool.targets(ACCOUNTS, regions=[]),
        Region,
        "names no region",
    ),
    Row("targets-regions-int", lambda e: e.pool.targets(ACCOUNTS, regions=5), Region, "regions=5"),
    Row("targets-regions-item-int", lambda e: e.pool.targets(ACCOUNTS, regions=[5]), Region, "5"),
    Row(
        "targets-regions-two-partitions",
        lambda e: e.pool.targets(ACCOUNTS, regions=["us-east-1", "cn-north-1"]),
        Region,
        "partitions",
    ),
    Row(
        "targets-services-unknown",
        lambda e: e.pool.targets(ACCOUNTS, services=["ec2x"]),
        Service,
        "ec2x",
    ),
    Row(
        "targets-services-int", lambda e: e.pool.targets(ACCOUNTS, services=5), Config, "services=5"
    ),
    Row(
        "targets-role-with-organization",
        lambda e: e.pool.targets(aiokit.Organization(), role="R"),
        Config,
        "role=",
    ),
    Row("targets-role-int", lambda e: e.pool.targets(ACCOUNTS, role=5), Role, "role must be"),
    Row("targets-Profiles-empty", lambda e: aiokit.Profiles([]), Config, "profile names"),
    Row(
        "targets-Organization-role-malformed",
        lambda e: aiokit.Organization(role="a b"),
        Role,
        "malformed role name",
    ),
    # --- pool.fan_out(...) --------------------------------------------------------------------
    Row("fan_out-concurrency-0", lambda e: fan_out(e, concurrency=0), Config, "concurrency"),
    Row("fan_out-concurrency-bool", lambda e: fan_out(e, concurrency=True), Config, "concurrency"),
    Row("fan_out-concurrency-huge", lambda e: fan_out(e, concurrency=10**9), Config, "at most"),
    Row("Organization-tags-list", lambda e: aiokit.Organization(tags=["a"]), Config, "tags"),
    Row("Organization-include-int", lambda e: aiokit.Organization(include=5), Config, "include"),
    Row("Organization-ous-items", lambda e: aiokit.Organization(ous=["prod", 5]), Config, "ous"),
    Row("Profiles-int", lambda e: aiokit.Profiles(5), Config, "profile names"),
    Row("fan_out-per_account-0", lambda e: fan_out(e, per_account=0), Config, "per_account"),
    Row("fan_out-per_region-0", lambda e: fan_out(e, per_region=0), Config, "per_region"),
    Row(
        "fan_out-per_account-negative", lambda e: fan_out(e, per_account=-1), Config, "per_account"
    ),
    Row("fan_out-timeout-0", lambda e: fan_out(e, timeout=0), Config, "timeout"),
    Row("fan_out-timeout-negative", lambda e: fan_out(e, timeout=-1), Config, "timeout"),
    Row("fan_out-timeout-nan", lambda e: fan_out(e, timeout=NAN), Config, "timeout"),
    Row("fan_out-deadline-0", lambda e: fan_out(e, deadline=0), Config, "deadline"),
    Row("fan_out-deadline-inf", lambda e: fan_out(e, deadline=INF), Config, "deadline"),
    Row("fan_out-progress-str", lambda e: fan_out(e, progress="bar"), Config, "progress"),
    Row("fan_out-fn-int", lambda e: fan_out(e, fn=5), Config, "fn must be an async function"),
    Row("fan_out-fn-not-async", lambda e: fan_out(e, fn=not_async), Config, "async function"),
    Row(
        "fan_out-targets-one-Target",
        lambda e: fan_out(e, targets=e.targets[0]),
        Config,
        "not one Target",
    ),
    Row(
        "fan_out-targets-str", lambda e: fan_out(e, targets="us-east-1"), Config, "targets must be"
    ),
    Row("fan_out-targets-int", lambda e: fan_out(e, targets=3), Config, "targets must be"),
    Row(
        "fan_out-targets-tuples",
        lambda e: fan_out(e, targets=[(a, "us-east-1") for a in ACCOUNTS]),
        Config,
        "aiokit.Target",
    ),
    # --- pool.crawl(...) ----------------------------------------------------------------------
    Row("crawl-unknown-parameter", lambda e: crawl(e, Limitt=5), Param, "Limitt"),
    Row("crawl-key-unknown", lambda e: crawl(e, key="Nope"), Param, "'Nope'"),
    Row("crawl-key-int", lambda e: crawl(e, key=5), Param, "key must be"),
    Row("crawl-operation-unknown", lambda e: crawl(e, "list_tabels"), Operation, "list_tabels"),
    Row(
        "crawl-operation-not-paginated",
        lambda e: crawl(e, "describe_table", TableName="t"),
        Operation,
        "not paginated",
    ),
    Row("crawl-operation-None", lambda e: crawl(e, None), Operation, "operation must be"),
    Row(
        "crawl-service-unknown",
        lambda e: run(e.pool.crawl("dynamodbx", "list_tables", e.targets)),
        Service,
        "dynamodbx",
    ),
    Row(
        "crawl-service-None",
        lambda e: run(e.pool.crawl(None, "list_tables", e.targets)),
        Service,
        "service must be",
    ),
    Row("crawl-parameter-type", lambda e: crawl(e, Limit="5"), Param, "Limit"),
    Row(
        "crawl-MaxItems-negative",
        lambda e: crawl(e, PaginationConfig={"MaxItems": -5}),
        Param,
        "MaxItems",
    ),
    Row(
        "crawl-PageSize-float",
        lambda e: crawl(e, PaginationConfig={"PageSize": 1.5}),
        Param,
        "PageSize",
    ),
    Row(
        "crawl-PageSize-unsupported",
        lambda e: run(
            e.pool.crawl("sns", "list_topics", e.targets, PaginationConfig={"PageSize": 5})
        ),
        Param,
        "PageSize is not supported",
    ),
    Row(
        "crawl-StartingToken-cut-short",
        lambda e: crawl(e, PaginationConfig={"StartingToken": TOKEN[:9]}),
        Param,
        "StartingToken",
    ),
    Row("crawl-per_account-0", lambda e: crawl(e, per_account=0), Config, "per_account"),
    Row("crawl-per_region-0", lambda e: crawl(e, per_region=0), Config, "per_region"),
    Row("crawl-concurrency-bool", lambda e: crawl(e, concurrency=False), Config, "concurrency"),
    Row("crawl-timeout-nan", lambda e: crawl(e, timeout=NAN), Config, "timeout"),
    Row("crawl-deadline-negative", lambda e: crawl(e, deadline=-1), Config, "deadline"),
    Row(
        "crawl-targets-one-Target",
        lambda e: run(e.pool.crawl("dynamodb", "list_tables", e.targets[0])),
        Config,
        "not one Target",
    ),
    Row(
        "crawl-targets-holding-dicts",
        lambda e: run(e.pool.crawl("dynamodb", "list_tables", [{"account": "1"}])),
        Config,
        "not dict",
    ),
    Row(
        "crawl-target-regions-unknown",
        lambda e: run(
            e.pool.crawl(
                "dynamodb",
                "list_tables",
                [aiokit.Target(None, f"xx-nowhere-{i}") for i in range(4)],
            )
        ),
        Region,
        "xx-nowhere-",
    ),
    # --- Target -------------------------------------------------------------------------------
    Row(
        "Target-account-int", lambda e: aiokit.Target(111111111111, "us-east-1"), Role, "12 digits"
    ),
    Row(
        "Target-account-11-digits",
        lambda e: aiokit.Target("11111111111", "us-east-1"),
        Role,
        "12 digits",
    ),
    Row("Target-region-int", lambda e: aiokit.Target(None, 1), Region, "Target region"),
    Row(
        "Target-region-list", lambda e: aiokit.Target(None, ["us-east-1"]), Region, "Target region"
    ),
    Row(
        "Target-partition-int",
        lambda e: aiokit.Target(None, "us-east-1", 5),
        Config,
        "Target partition",
    ),
    Row(
        "Target-identity-str",
        lambda e: aiokit.Target(None, "us-east-1", identity="me"),
        Config,
        "Target identity",
    ),
    Row(
        "Target-tags-list",
        lambda e: aiokit.Target(None, "us-east-1", tags=["a"]),
        Config,
        "Target tags",
    ),
    Row(
        "Target-name-int", lambda e: aiokit.Target(None, "us-east-1", name=5), Config, "Target name"
    ),
    Row(
        "Target-assume-role-empty",
        lambda e: aiokit.Target.assume(ACCOUNTS[0], "us-east-1", ""),
        Role,
        "role_name",
    ),
    # --- AssumeRole / StaticKeys / Profile ------------------------------------------------------
    Row(
        "AssumeRole-account-int",
        lambda e: aiokit.AssumeRole(account=111111111111, role_name="r"),
        Role,
        "12 digits",
    ),
    Row(
        "AssumeRole-account-short",
        lambda e: aiokit.AssumeRole(account="123", role_name="r"),
        Role,
        "12 digits",
    ),
    Row(
        "AssumeRole-arn-malformed",
        lambda e: aiokit.AssumeRole(role_arn="arn:aws:iam::1:role/x"),
        Role,
        "malformed role ARN",
    ),
    Row("AssumeRole-arn-int", lambda e: aiokit.AssumeRole(role_arn=5), Role, "role_arn"),
    Row("AssumeRole-nothing", lambda e: aiokit.AssumeRole(), Role, "needs role_arn"),
    Row(
        "AssumeRole-duration-short",
        lambda e: aiokit.AssumeRole(account=ACCOUNTS[0], role_name="r", duration=100),
        Role,
        "900",
    ),
    Row(
        "AssumeRole-duration-str",
        lambda e: aiokit.AssumeRole(account=ACCOUNTS[0], role_name="r", duration="3600"),
        Role,
        "duration",
    ),
    Row(
        "AssumeRole-duration-bool",
        lambda e: aiokit.AssumeRole(account=ACCOUNTS[0], role_name="r", duration=True),
        Role,
        "duration",
    ),
    Row(
        "AssumeRole-session_name-short",
        lambda e: aiokit.AssumeRole(account=ACCOUNTS[0], role_name="r", session_name="a"),
        Role,
        "session name",
    ),
    Row(
        "AssumeRole-external_id-int",
        lambda e: aiokit.AssumeRole(account=ACCOUNTS[0], role_name="r", external_id=5),
        Role,
        "external_id",
    ),
    Row(
        "AssumeRole-source-str",
        lambda e: aiokit.AssumeRole(account=ACCOUNTS[0], role_name="r", source="pool"),
        Config,
        "source",
    ),
    Row(
        "StaticKeys-key-None", lambda e: aiokit.StaticKeys(None, "secret"), Config, "access_key_id"
    ),
    Row(
        "StaticKeys-secret-None",
        lambda e: aiokit.StaticKeys("AKIAEXAMPLE", None),
        Config,
        "secret_access_key",
    ),
    Row(
        "StaticKeys-token-int",
        lambda e: aiokit.StaticKeys("AKIAEXAMPLE", "s", 5),
        Config,
        "session_token",
    ),
    Row("StaticKeys-empty", lambda e: aiokit.StaticKeys("", ""), Config, "access_key_id"),
    Row("Profile-int", lambda e: aiokit.Profile(5), Config, "Profile name"),
    Row("Profile-empty", lambda e: aiokit.Profile(""), Config, "Profile name"),
    Row(
        "Profile-missing",
        lambda e: e.pool.client("sqs", identity=aiokit.Profile("nope")),
        aiokit.ProfileNotFoundError,
        "'nope'",
    ),
    # --- RetrySettings / aiokit.retry -----------------------------------------------------------
    Row(
        "RetrySettings-max_attempts-0",
        lambda e: aiokit.RetrySettings(max_attempts=0),
        Config,
        "max_attempts",
    ),
    Row(
        "RetrySettings-max_attempts-bool",
        lambda e: aiokit.RetrySettings(max_attempts=True),
        Config,
        "max_attempts",
    ),
    Row(
        "RetrySettings-max_attempts-str",
        lambda e: aiokit.RetrySettings(max_attempts="5"),
        Config,
        "max_attempts",
    ),
    Row(
        "RetrySettings-throttle_timeout-0",
        lambda e: aiokit.RetrySettings(throttle_timeout=0),
        Config,
        "throttle_timeout",
    ),
    Row(
        "RetrySettings-throttle_timeout-nan",
        lambda e: aiokit.RetrySettings(throttle_timeout=NAN),
        Config,
        "throttle_timeout",
    ),
    Row(
        "RetrySettings-max_backoff-negative",
        lambda e: aiokit.RetrySettings(max_backoff=-1),
        Config,
        "max_backoff",
    ),
    Row(
        "RetrySettings-max_in_flight-0",
        lambda e: aiokit.RetrySettings(max_in_flight=0),
        Config,
        "max_in_flight",
    ),
    Row(
        "RetrySettings-budget-negative", lambda e: aiokit.RetrySettings(budget=-1), Config, "budget"
    ),
    Row("retry-attempts-0", lambda e: aiokit.retry(attempts=0), Config, "attempts"),
    Row("retry-attempts-bool", lambda e: aiokit.retry(attempts=True), Config, "attempts"),
    Row("retry-positional-int", lambda e: aiokit.retry(5), Config, "attempts=5"),
    Row("retry-deadline-negative", lambda e: aiokit.retry(deadline=-1), Config, "deadline"),
    Row("retry-base-nan", lambda e: aiokit.retry(base=NAN), Config, "base"),
    Row("retry-cap-negative", lambda e: aiokit.retry(cap=-1), Config, "cap"),
    Row("retry-wraps-sync-function", lambda e: aiokit.retry(lambda: 1)(), Config, "async"),
    # --- aiokit.sync.SessionPool ----------------------------------------------------------------
    Row(
        "sync-concurrency-0",
        in_thread(lambda: aiokit.sync.SessionPool(concurrency=0)),
        Config,
        "concurrency",
    ),
    Row(
        "sync-endpoint_url-ftp",
        in_thread(lambda: aiokit.sync.SessionPool(endpoint_url="ftp://x")),
        Config,
        "scheme",
    ),
    Row(
        "sync-config-dict",
        in_thread(lambda: aiokit.sync.SessionPool(config={})),
        Config,
        "config must be",
    ),
    Row(
        "sync-profile-missing",
        in_thread(lambda: aiokit.sync.SessionPool(profile="nope")),
        aiokit.ProfileNotFoundError,
        "'nope'",
    ),
    Row("sync-run-not-callable", sync_row(lambda p: p.run(5)), Config, "run() takes"),
    Row("sync-client-region-int", sync_row(lambda p: p.client("sqs", 5)), Region, "region must be"),
    Row(
        "sync-crawl-unknown-parameter",
        sync_row(
            lambda p: p.crawl(
                "sqs", "list_queues", [aiokit.Target(None, "us-east-1")] * 3, Limitt=5
            ).collect()
        ),
        Param,
        "Limitt",
    ),
    Row(
        "sync-fan_out-per_account-0",
        sync_row(lambda p: p.fan_out(ok, [aiokit.Target(None, "us-east-1")], per_account=0)),
        Config,
        "per_account",
    ),
    Row(
        "sync-paginate-MaxItems-negative",
        sync_row(
            lambda p: list(p.paginate("sqs", "list_queues", PaginationConfig={"MaxItems": -1}))
        ),
        Param,
        "MaxItems",
    ),
    Row(
        "sync-wait-timeout-0",
        sync_row(lambda p: p.wait("dynamodb", "table_exists", TableName="t", timeout=0)),
        Config,
        "timeout",
    ),
]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in ROWS])
async def test_bad_input_gets_one_clear_error(env: Env, row: Row) -> None:
    before = list(env.requests)
    with anyio.fail_after(10):
        with pytest.raises(Exception) as info:
            result = row.call(env)
            if inspect.isawaitable(result):
                await result
    error = info.value
    assert not isinstance(error, BaseExceptionGroup), repr(error)
    assert isinstance(error, aiokit.AiokitError), repr(error)
    assert isinstance(error, row.error), repr(error)
    assert row.fragment in str(error), str(error)
    if not row.sends:
        assert env.requests == before, "a request was sent before the input was checked"


def test_the_table_is_large_and_its_ids_unique() -> None:
    assert len(ROWS) > 60
    assert len({r.id for r in ROWS}) == len(ROWS)


async def test_a_malformed_endpoint_url_from_the_environment_is_a_configuration_error(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore checks endpoint URLs it reads itself, with a bare ValueError.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "nohost")
    async with aiokit.SessionPool(region="us-east-1", credentials=TEST_CREDENTIALS) as pool:
        with anyio.fail_after(10), pytest.raises(aiokit.ConfigurationError, match="nohost"):
            await pool.client("sqs")


async def test_a_plain_botocore_config_is_taken_as_an_aiobotocore_one(env: Env) -> None:
    sqs = await env.pool.client("sqs", config=BotocoreConfig(read_timeout=7))
    assert sqs.meta.config.read_timeout == 7
    await sqs.list_queues()


def test_endpoint_urls_and_signature_versions_are_checked_as_botocore_checks_them() -> None:
    """aiokit runs botocore's own host checks (IPv6 literals included) and knows its
    signature versions (``botocore.UNSIGNED`` included), before any client is made."""
    from botocore import UNSIGNED

    from aiokit import _validate

    for url in (
        "http://[::1]:5000",
        "http://localhost:4566",
        "https://sqs.eu-west-1.amazonaws.com",
    ):
        _validate.endpoint_url("endpoint_url", url)
    with pytest.raises(aiokit.ConfigurationError, match="the host name is malformed"):
        _validate.endpoint_url("endpoint_url", "http://-bad-.example")
    for version in (UNSIGNED, "v4", "s3v4"):
        assert _validate.config("config", AioConfig(signature_version=version)) is not None
    with pytest.raises(aiokit.ConfigurationError, match="signature_version 'v9' is unknown"):
        _validate.config("config", AioConfig(signature_version="v9"))
