"""The sync facade: in a plain script, inside a running event loop, errors, closing."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aiokit
import aiokit.sync
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization

ROLE = "OrganizationAccountAccessRole"
REGIONS = ["us-east-1", "eu-west-1"]


def portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "aiokit-sync"]


@pytest.fixture
def make_pool(moto_endpoint: str) -> Iterator[Any]:
    """Make facades on moto; each is closed after the test, and no loop thread is left."""
    made: list[aiokit.sync.SessionPool] = []

    def make(**options: Any) -> aiokit.sync.SessionPool:
        options = {
            "endpoint_url": moto_endpoint,
            "region": "us-east-1",
            "credentials": TEST_CREDENTIALS,
            **options,
        }
        pool = aiokit.sync.SessionPool(**options)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.close()
    assert portal_threads() == []


SCRIPT = """
import json
import sys

import aiokit
import aiokit.sync

endpoint, accounts = sys.argv[1], sys.argv[2].split(",")
regions = ["us-east-1", "eu-west-1"]
keys = aiokit.StaticKeys("testing", "testing")
pool = aiokit.sync.SessionPool(
    endpoint_url=endpoint, region="us-east-1", credentials=keys, role="{role}"
)
with pool:
    for i, account in enumerate(accounts):
        for region in regions:
            sqs = pool.client("sqs", region, account=account)
            for q in range(i + 1):
                sqs.create_queue(QueueName=f"q-{{q}}")
    pager = pool.paginate(
        "sqs", "list_queues", "us-east-1", account=accounts[-1], PaginationConfig={{"PageSize": 2}}
    )
    urls = list(pager.items())
    targets = pool.targets(accounts, regions)
    crawl = pool.crawl("sqs", "list_queues", targets)
    df = crawl.to_pandas()
    per_cell = df.groupby(["account", "region"]).size().to_dict()
try:
    pool.client("sqs")
    after_close = "no error"
except aiokit.PoolClosedError as exc:
    after_close = type(exc).__name__
print(json.dumps({{
    "urls": len(urls),
    "pages": pager.pages,
    "rows": len(df),
    "cells": sorted(f"{{a}}/{{r}}={{n}}" for (a, r), n in per_cell.items()),
    "report": repr(crawl.report),
    "after_close": after_close,
}}))
"""


def test_a_plain_script_uses_the_facade_without_warnings(
    moto_endpoint: str, fake_organization: FakeOrganization, tmp_path: Path
) -> None:
    script = tmp_path / "inventory.py"
    script.write_text(SCRIPT.format(role=ROLE))
    accounts = fake_organization.account_ids[:3]
    done = subprocess.run(
        # -W error: any warning, ResourceWarning included, fails the script.
        [sys.executable, "-W", "error", str(script), moto_endpoint, ",".join(accounts)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    got = json.loads(done.stdout)
    assert got == {
        "urls": 3,
        "pages": 2,
        "rows": 2 * (1 + 2 + 3),
        "cells": sorted(f"{a}/{r}={i + 1}" for i, a in enumerate(accounts) for r in REGIONS),
        "report": "aiokit.Report(targets=6, ok=6, skipped=0, failed=0, items=12)",
        "after_close": "PoolClosedError",
    }


def test_works_inside_asyncio_run(make_pool: Any) -> None:
    """As in a Jupyter cell: the caller's thread has a running loop; the facade has its own."""

    async def cell() -> list[str]:
        asyncio.get_running_loop()  # a loop is running here
        pool = make_pool()
        pool.client("sqs").create_queue(QueueName="from-a-running-loop")
        return list(pool.paginate("sqs", "list_queues").items())

    (url,) = asyncio.run(cell())
    assert url.endswith("/from-a-running-loop")


@pytest.mark.asyncio
async def test_works_inside_an_anyio_test_body(make_pool: Any) -> None:
    pool = make_pool()
    sqs = pool.client("sqs")
    sqs.create_queue(QueueName="a")
    assert [i.data.rsplit("/", 1)[1] for i in pool.crawl("sqs", "list_queues")] == ["a"]
    assert pool.statistics().clients_created >= 1


def test_clients_pages_and_bodies(make_pool: Any) -> None:
    pool = make_pool()
    s3 = pool.client("s3")
    s3.create_bucket(Bucket="logs")
    for i in range(5):
        s3.put_object(Bucket="logs", Key=f"k{i}", Body=b"x" * i)
    with s3.get_object(Bucket="logs", Key="k3")["Body"] as body:
        assert body.read() == b"xxx"
    chunks = list(s3.get_object(Bucket="logs", Key="k4")["Body"].iter_chunks(3))
    assert chunks == [b"xxx", b"x"]
    assert s3.can_paginate("list_objects_v2")  # sync methods work too
    assert s3.meta.region_name == "us-east-1"

    pager = pool.paginate("s3", "list_objects_v2", Bucket="logs", PaginationConfig={"PageSize": 2})
    keys = []
    for page in pager:
        keys += [o["Key"] for o in page["Contents"]]
        if len(keys) == 2:
            token = pager.resume_token
    assert keys == [f"k{i}" for i in range(5)] and pager.pages == 3
    rest = pool.paginate(
        "s3", "list_objects_v2", Bucket="logs", PaginationConfig={"StartingToken": token}
    )
    assert list(rest.search("Contents[].Key")) == ["k2", "k3", "k4"]
    with pytest.raises(AttributeError, match=r"pool\.paginate"):
        s3.get_paginator("list_objects_v2")


def test_errors_keep_their_class(make_pool: Any) -> None:
    pool = make_pool()
    sqs = pool.client("sqs")
    with pytest.raises(aiokit.AWSError) as caught:
        sqs.get_queue_url(QueueName="missing")
    assert isinstance(caught.value, sqs.exceptions.QueueDoesNotExist)
    assert caught.value.service == "sqs" and caught.value.operation == "GetQueueUrl"
    with pytest.raises(aiokit.UnknownServiceError):
        pool.client("no-such-service")
    with pytest.raises(aiokit.InvalidParameterError):
        list(pool.paginate("sqs", "list_queues", NoSuchParameter=1))
    with pytest.raises(aiokit.InvalidParameterError):
        pool.paginate("sqs", "list_queues").search("[")
    with pytest.raises(aiokit.WaiterTimeout):
        pool.wait("sqs", "no_such_waiter_model", model=_never_model(), timeout=0.5)


def _never_model() -> dict[str, Any]:
    """A custom waiter that waits for more queues than there will be."""
    return {
        "version": 2,
        "waiters": {
            "no_such_waiter_model": {
                "operation": "ListQueues",
                "delay": 0.1,
                "maxAttempts": 100,
                "acceptors": [
                    {
                        "matcher": "path",
                        "argument": "length(QueueUrls || `[]`) > `5`",
                        "expected": True,
                        "state": "success",
                    }
                ],
            }
        },
    }


def test_a_bad_pool_fails_at_once_and_leaves_no_thread(moto_endpoint: str) -> None:
    with pytest.raises(aiokit.ConfigurationError):
        aiokit.sync.SessionPool(profile="p", credentials=TEST_CREDENTIALS)
    with pytest.raises(aiokit.ProfileNotFoundError):
        aiokit.sync.SessionPool(profile="no-such-profile")
    assert portal_threads() == []


def test_close_is_idempotent_and_use_after_close_fails(make_pool: Any) -> None:
    pool = make_pool()
    sqs = pool.client("sqs")
    pager = pool.paginate("sqs", "list_queues")
    crawl = pool.crawl("sqs", "list_queues")
    pool.close()
    pool.close()
    assert pool.closed and "state=closed" in repr(pool)
    assert portal_threads() == []
    for use in [
        lambda: pool.client("sqs"),
        lambda: pool.paginate("sqs", "list_queues"),
        lambda: pool.targets(),
        lambda: pool.statistics(),
        lambda: sqs.list_queues(),
        lambda: list(pager),
        lambda: list(crawl),
    ]:
        with pytest.raises(aiokit.PoolClosedError):
            use()


def test_leaving_with_on_error_closes_everything(make_pool: Any) -> None:
    with pytest.raises(KeyError), make_pool() as pool:
        pool.client("sqs").create_queue(QueueName="q")
        raise KeyError("boom")
    assert pool.closed
    assert portal_threads() == []


def test_crawls_stream_stop_early_and_run_once(
    make_pool: Any, fake_organization: FakeOrganization
) -> None:
    pool = make_pool(role=ROLE)
    for account in fake_organization.account_ids:
        for region in REGIONS:
            pool.client("sqs", region, account=account).create_queue(QueueName="q")
    targets = pool.targets(fake_organization.account_ids, REGIONS)

    crawl = pool.crawl("sqs", "list_queues", targets, concurrency=2)
    for _ in crawl:
        break  # leaving the loop stops the crawl
    assert crawl.report.targets < len(targets)
    with pytest.raises(RuntimeError, match="runs once"):
        crawl.to_pandas()

    with pool.crawl("sqs", "list_queues", targets, concurrency=2) as crawl:
        for _ in crawl.events():
            break  # the block's end stops the crawl; the producers blocked on it are cancelled
    assert crawl.report.targets < len(targets)

    with pool.crawl("sqs", "list_queues", targets) as crawl:
        events = list(crawl.events())
    outcomes = [e for e in events if isinstance(e, aiokit.Outcome)]
    assert len(outcomes) == len(targets) and crawl.report.counts == {"ok": len(targets)}
    assert crawl.statistics().items == len(targets)

    items, report = pool.crawl("sqs", "list_queues", targets).collect()
    assert len(items) == report.items == len(targets)


def test_fan_out_takes_an_async_function(
    make_pool: Any, fake_organization: FakeOrganization
) -> None:
    pool = make_pool(role=ROLE)
    accounts = fake_organization.account_ids[:2]
    targets = [aiokit.Target.assume(a, r, ROLE) for a in accounts for r in REGIONS]
    seen: list[aiokit.Progress] = []

    async def whoami(ctx: aiokit.Context) -> str:
        if ctx.target.region == "eu-west-1":  # a failing target is an outcome
            sqs = await ctx.client("sqs")
            await sqs.get_queue_url(QueueName="missing")
        sts = await ctx.client("sts")
        return str((await sts.get_caller_identity())["Account"])

    outcomes = pool.fan_out(whoami, targets, concurrency=2, progress=seen.append)
    assert sorted(str(o.value) for o in outcomes if o.ok) == sorted(accounts)
    failed = [o for o in outcomes if o.status is aiokit.Status.FAILED]
    assert {o.target.region for o in failed} == {"eu-west-1"} and len(failed) == 2
    assert isinstance(failed[0].error, aiokit.AWSError)
    assert seen[-1].done == len(targets) == len(outcomes)

    async def buggy(ctx: aiokit.Context) -> int:
        return len(None)  # type: ignore[arg-type]

    with pytest.raises(TypeError):  # a bug is raised as itself, through the facade
        pool.fan_out(buggy, targets)


def test_calls_from_the_pools_own_loop_are_refused(make_pool: Any) -> None:
    pool = make_pool()

    async def misuse(ctx: aiokit.Context) -> Any:
        return pool.client("sqs")  # would wait for the loop it is running on

    with pytest.raises(RuntimeError, match="own event loop"):
        pool.fan_out(misuse, pool.targets())


def test_run_and_aio_reach_the_async_pool(make_pool: Any) -> None:
    pool = make_pool()

    async def table_names(aio: aiokit.SessionPool) -> list[str]:
        ddb = await aio.resource("dynamodb")
        await ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return [t.name async for t in ddb.tables.all()]

    assert pool.run(table_names, pool.aio) == ["t"]


def test_a_forgotten_pool_is_closed_when_collected(moto_endpoint: str) -> None:
    pool = aiokit.sync.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    )
    pool.client("sqs").list_queues()
    with pytest.warns(ResourceWarning, match="never closed"):
        del pool
        gc.collect()
    assert portal_threads() == []


def test_signatures_follow_the_async_pool() -> None:
    import inspect

    for name in ["client", "resource", "paginate", "wait", "wait_many", "targets", "crawl"]:
        sync_params = inspect.signature(getattr(aiokit.sync.SessionPool, name)).parameters
        async_params = inspect.signature(getattr(aiokit.SessionPool, name)).parameters
        assert list(sync_params) == list(async_params), name


def test_the_public_surface_is_the_intended_one() -> None:
    assert aiokit.sync.__all__ == [
        "Client",
        "Crawl",
        "Paginator",
        "ProgressBar",
        "Resource",
        "SessionPool",
        "StreamingBody",
        "progress_bar",
    ]
    for name in aiokit.sync.__all__:
        assert getattr(aiokit.sync, name).__module__ == "aiokit.sync", name


def test_repr_says_aiokit_sync(make_pool: Any) -> None:
    pool = make_pool()
    assert repr(pool).startswith("aiokit.sync.SessionPool(state=open")
    assert repr(pool.client("sqs")).startswith("aiokit.sync.Client(")
    assert repr(pool.paginate("sqs", "list_queues")).startswith("<aiokit.sync.Paginator")
    assert repr(pool.crawl("sqs", "list_queues")).startswith("aiokit.sync.Crawl(aiokit.Report(")
