"""The garbage collector's threshold while fan-outs and crawls run (``aiokit._gc``)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest

import aiokit
from aiokit._gc import DEFAULT_GC_THRESHOLD, raised_gc_threshold
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization

if TYPE_CHECKING:
    from tests.conftest import SeedQueues

pytestmark = pytest.mark.asyncio

ROLE = "OrganizationAccountAccessRole"
TARGETS = [aiokit.Target(f"{i:012d}", "us-east-1") for i in range(20)]


@pytest.fixture(autouse=True)
def _thresholds() -> Iterator[tuple[int, int, int]]:
    """Every test starts from CPython's default thresholds and leaves the process's own."""
    before = gc.get_threshold()
    enabled = gc.isenabled()
    gc.set_threshold(700, 10, 10)
    gc.enable()
    yield before
    gc.set_threshold(*before)
    if not enabled:
        gc.disable()


def _raising_pool() -> aiokit.SessionPool:
    return aiokit.SessionPool(
        region="us-east-1", credentials=TEST_CREDENTIALS, gc_threshold=DEFAULT_GC_THRESHOLD
    )


async def _thresholds_seen(pool: aiokit.SessionPool, **kwargs: Any) -> set[int]:
    seen: set[int] = set()

    async def look(ctx: aiokit.Context) -> None:
        seen.add(gc.get_threshold()[0])
        await anyio.lowlevel.checkpoint()

    async with pool.fan_out(look, TARGETS, concurrency=4, **kwargs) as outcomes:
        async for outcome in outcomes:
            assert outcome.ok, outcome
    return seen


async def test_a_pool_with_default_settings_leaves_the_collector_alone() -> None:
    """The collector is the process's: only a pool given ``gc_threshold=`` changes it."""
    async with aiokit.SessionPool(region="us-east-1", credentials=TEST_CREDENTIALS) as pool:
        assert await _thresholds_seen(pool) == {700}
        assert gc.get_threshold() == (700, 10, 10)


async def test_raised_while_a_fan_out_runs_and_restored_after() -> None:
    async with _raising_pool() as pool:
        assert gc.get_threshold() == (700, 10, 10)
        assert await _thresholds_seen(pool) == {DEFAULT_GC_THRESHOLD}
        assert gc.get_threshold() == (700, 10, 10)


async def test_restored_after_a_bug_and_after_cancellation() -> None:
    async with _raising_pool() as pool:

        async def buggy(ctx: aiokit.Context) -> int:
            assert gc.get_threshold()[0] == DEFAULT_GC_THRESHOLD
            return len(None)  # type: ignore[arg-type]

        with pytest.raises(TypeError):
            async with pool.fan_out(buggy, TARGETS) as outcomes:
                async for _ in outcomes:
                    pass
        assert gc.get_threshold() == (700, 10, 10)

        async def forever(ctx: aiokit.Context) -> None:
            await anyio.sleep(60)

        with anyio.move_on_after(0.2) as scope:
            async with pool.fan_out(forever, TARGETS) as outcomes:
                async for _ in outcomes:
                    pass
        assert scope.cancelled_caught
        assert gc.get_threshold() == (700, 10, 10)


async def test_concurrent_fan_outs_share_one_raise() -> None:
    async with _raising_pool() as pool:
        first_done = anyio.Event()
        during_second: list[int] = []

        async def quick(ctx: aiokit.Context) -> None:
            await anyio.lowlevel.checkpoint()

        async def waits(ctx: aiokit.Context) -> None:
            await first_done.wait()
            during_second.append(gc.get_threshold()[0])

        async with anyio.create_task_group() as tg:

            async def second() -> None:
                await pool.fan_out(waits, TARGETS[:2]).collect()

            tg.start_soon(second)
            await pool.fan_out(quick, TARGETS).collect()
            # The first fan-out has ended; the second still runs and keeps the raise.
            assert gc.get_threshold()[0] == DEFAULT_GC_THRESHOLD
            first_done.set()
        assert during_second == [DEFAULT_GC_THRESHOLD] * 2
        assert gc.get_threshold() == (700, 10, 10)


async def test_a_higher_threshold_a_change_meanwhile_and_a_disabled_collector_are_kept() -> None:
    async with _raising_pool() as pool:
        gc.set_threshold(100_000, 5, 5)
        assert await _thresholds_seen(pool) == {100_000}
        assert gc.get_threshold() == (100_000, 5, 5)

        gc.set_threshold(700, 10, 10)

        async def retune(ctx: aiokit.Context) -> None:
            gc.set_threshold(1234, 10, 10)

        await pool.fan_out(retune, TARGETS[:1]).collect()
        assert gc.get_threshold() == (1234, 10, 10)  # the caller's change is not undone

        gc.set_threshold(700, 10, 10)
        gc.disable()
        assert await _thresholds_seen(pool) == {700}
        assert not gc.isenabled()


async def test_none_leaves_the_collector_alone_and_a_bad_value_is_refused() -> None:
    async with aiokit.SessionPool(
        region="us-east-1", credentials=TEST_CREDENTIALS, gc_threshold=None
    ) as pool:
        assert await _thresholds_seen(pool) == {700}
    async with aiokit.SessionPool(
        region="us-east-1", credentials=TEST_CREDENTIALS, gc_threshold=20_000
    ) as pool:
        assert await _thresholds_seen(pool) == {20_000}
    with pytest.raises(aiokit.ConfigurationError, match="gc_threshold must be an int >= 1"):
        aiokit.SessionPool(gc_threshold=0)


def test_holders_in_several_threads_share_one_raise() -> None:
    inside = threading.Barrier(4)
    leave = threading.Event()
    seen: list[int] = []

    def hold() -> None:
        with raised_gc_threshold(30_000):
            inside.wait()
            seen.append(gc.get_threshold()[0])
            leave.wait()

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for t in threads:
        t.start()
    inside.wait()
    assert gc.get_threshold()[0] == 30_000
    leave.set()
    for t in threads:
        t.join()
    assert seen == [30_000] * 3
    assert gc.get_threshold() == (700, 10, 10)


async def test_a_crawl_over_real_http_runs_with_the_raised_threshold(
    fake_organization: FakeOrganization, seed_queues: SeedQueues
) -> None:
    async with aiokit.SessionPool(
        endpoint_url=fake_organization.endpoint_url,
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        role=fake_organization.role_name,
        gc_threshold=DEFAULT_GC_THRESHOLD,
    ) as pool:
        await seed_queues(pool, ["us-east-1"], lambda i, j: 2)
        targets = [
            aiokit.Target.assume(account, "us-east-1", ROLE)
            for account in fake_organization.account_ids
        ]
        seen: set[int] = set()
        async with pool.crawl("sqs", "list_queues", targets, concurrency=3) as crawl:
            items = 0
            async for _ in crawl:
                seen.add(gc.get_threshold()[0])
                items += 1
        assert items == 2 * len(targets)
        assert seen == {DEFAULT_GC_THRESHOLD}
        assert gc.get_threshold() == (700, 10, 10)
