"""Library lifecycles at their edges: deadlines, timeouts and counters that must agree."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from aiohttp import web

import aiokit
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, serve_on_loopback

if TYPE_CHECKING:
    from tests.conftest import OrgPool

pytestmark = pytest.mark.asyncio

ROLE = "OrganizationAccountAccessRole"


async def test_fan_out_statistics_after_a_deadline_have_nothing_in_flight(
    fake_organization: FakeOrganization, org_pool: OrgPool
) -> None:
    async def slow(ctx: aiokit.Context) -> int:
        if ctx.target.region == "eu-west-1":
            await anyio.sleep(30)
        return 1

    targets = [
        aiokit.Target.assume(a, r, ROLE)
        for a in fake_organization.account_ids
        for r in ("us-east-1", "eu-west-1")
    ]
    async with org_pool() as pool:
        fan = pool.fan_out(slow, targets, concurrency=len(targets), deadline=0.3)
        outcomes = await fan.collect()
    stats = fan.statistics()
    assert stats.deadline_reached
    assert stats.done == len(outcomes) == len(targets) // 2
    assert stats.in_flight == 0  # the fan-out is over: nothing is running


class PagedTables:
    """DynamoDB ListTables: page 1 answers at once with two tables; page 2 never comes."""

    def __init__(self) -> None:
        self.released = anyio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        if "ExclusiveStartTableName" in body:
            await self.released.wait()
            return web.json_response({"TableNames": []})
        page = {"TableNames": ["table-a", "table-b"], "LastEvaluatedTableName": "table-b"}
        return web.json_response(page, content_type="application/x-amz-json-1.0")


@pytest.mark.parametrize("limit", [{"deadline": 0.3}, {"timeout": 0.3}])
async def test_crawl_report_counts_every_item_yielded_even_by_interrupted_targets(
    limit: dict[str, float],
) -> None:
    server = PagedTables()
    async with serve_on_loopback(server.handle) as url:
        try:
            async with aiokit.SessionPool(
                endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS
            ) as pool:
                crawl = pool.crawl(
                    "dynamodb", "list_tables", [aiokit.Target(None, "us-east-1")], **limit
                )
                items, report = await crawl.collect()
        finally:
            server.released.set()
    assert [i.data for i in items] == ["table-a", "table-b"]  # page 1 came; page 2 was cut off
    assert report.items == 2
    stats = crawl.statistics()
    assert stats.items == 2
    assert stats.in_flight == 0


async def test_an_async_progress_hook_is_refused_not_silently_never_awaited() -> None:
    server = PagedTables()
    server.released.set()
    target = aiokit.Target(None, "us-east-1")

    async def hook(_: object) -> None:
        raise AssertionError("never run")

    async with serve_on_loopback(server.handle) as url:
        async with aiokit.SessionPool(
            endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS
        ) as pool:
            with pytest.raises(aiokit.ConfigurationError, match=r"progress.*not awaited"):
                pool.crawl("dynamodb", "list_tables", [target], progress=hook)
            with pytest.raises(aiokit.ConfigurationError, match=r"progress.*not awaited"):
                pool.fan_out(_one, [target], progress=hook)
            # A plain callable that returns a coroutine: said so when it is first called,
            # as one error, with no "never awaited" warning (warnings are errors here).
            with pytest.raises(aiokit.ConfigurationError, match="returned coroutine"):
                await pool.fan_out(_one, [target], progress=lambda p: hook(p)).collect()
            crawl = aiokit.Crawl(
                pool, "dynamodb", "list_tables", [target], {}, on_outcome=lambda o: hook(o)
            )
            with pytest.raises(aiokit.ConfigurationError, match=r"on_outcome.*coroutine"):
                await crawl.collect()


async def _one(ctx: aiokit.Context) -> int:
    return 1


async def test_a_crawl_left_early_reports_its_unvisited_targets_and_refuses_reuse() -> None:
    server = PagedTables()
    server.released.set()
    targets = [aiokit.Target(None, r) for r in ("us-east-1", "eu-west-1", "us-west-2")]
    async with serve_on_loopback(server.handle) as url:
        async with aiokit.SessionPool(
            endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS
        ) as pool:
            crawl = pool.crawl("dynamodb", "list_tables", targets, concurrency=1)
            async with crawl:
                pass  # left before any outcome
            assert crawl.report.targets == 0
            assert crawl.report.never_visited == 3  # not 0: nothing was visited
            with pytest.raises(aiokit.UsageError, match="after its `async with` ended"):
                async for _ in crawl:
                    pass
            fan = pool.fan_out(_one, targets)
            async with fan:
                pass
            with pytest.raises(aiokit.UsageError, match="after its `async with` ended"):
                async for _ in fan:
                    pass


async def test_a_deadline_never_drops_an_outcome_already_made() -> None:
    targets = [aiokit.Target(f"{i:012d}", "us-east-1") for i in range(20)]
    async with aiokit.SessionPool(region="us-east-1", credentials=TEST_CREDENTIALS) as pool:
        fan = pool.fan_out(_one, targets, concurrency=2, deadline=0.3)
        got = []
        async with fan as outcomes:
            async for outcome in outcomes:  # a slow consumer: the workers wait on it
                got.append(outcome)
                await anyio.sleep(0.1)
    stats = fan.statistics()
    assert stats.deadline_reached
    assert 0 < len(got) < len(targets)
    assert stats.done == stats.ok == len(got)  # every outcome made reached the consumer
    assert stats.started == stats.done + stats.interrupted and stats.in_flight == 0


class _BrokenList(list[str]):
    """A caller's list type whose iteration is broken: a bug in the caller's code."""

    def __iter__(self) -> Any:
        raise KeyError("broken")


async def test_a_bug_every_wait_of_wait_many_hits_is_raised_once_as_itself() -> None:
    async with aiokit.SessionPool(
        endpoint_url="http://127.0.0.1:9", region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        with pytest.raises(KeyError, match="broken") as info:
            await pool.wait_many(
                "ec2", "instance_running", [{"InstanceIds": _BrokenList(["i-1"])}] * 3
            )
    assert any("2 more target(s) raised the same KeyError" in n for n in info.value.__notes__)
