"""``runner=aiokit.dask.DaskRunner(...)``: a crawl over a Dask ``LocalCluster``, on moto.

One cluster (2 worker processes, behind nannies) serves the whole module; each test leaves
it as it found it: no task of its own running, every worker alive.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
import pytest_asyncio
from distributed import Client, LocalCluster, Scheduler

import aiokit
import aiokit.dask
from aiokit._fleet.runners import Runner
from aiokit.dask import CHUNK_ACCOUNTS, CONNECT_TIMEOUT, MAX_POOLS, DaskRunner, _chunks
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization
from tests.test_runners import (
    REGIONS,
    ROLE,
    _count,
    _crawl,
    _keys,
    _Unpicklable,
    count_queues,
    divide_by_zero,
)

if TYPE_CHECKING:
    from tests.conftest import OrgPool, SeedQueues

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

Seeded = tuple[aiokit.SessionPool, list[aiokit.Target], dict[Any, int]]
ROOT = str(Path(__file__).resolve().parent.parent)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """2 worker processes (restarted by their nannies), started in an AWS-free environment."""
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                env.delenv(name)
        env.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key_id)
        env.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_access_key)
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        with LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=2,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # a free port (the HTTP server runs anyway)
            scheduler_kwargs={"dashboard": False},
        ) as local:
            yield local


@pytest.fixture(scope="module")
def address(cluster: LocalCluster) -> str:
    return str(cluster.scheduler_address)


@pytest.fixture(scope="module")
def sync_client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster, set_as_default=False) as client:
        yield client


def _busy(dask_worker: Any) -> int:
    """On a worker: aiokit tasks still running on its plugin's loop, plus executing tasks."""
    plugin = dask_worker.plugins.get("aiokit-pools")
    running = len(plugin._running) if plugin is not None else 0
    return running + dask_worker.state.executing_count


def _idle(client: Client) -> bool:
    processing = client.processing()
    if len(processing) != 2 or any(processing.values()):
        return False
    return not any(client.run(_busy).values())


@pytest.fixture
def idle(sync_client: Client, cluster: LocalCluster) -> Iterator[Client]:
    """The cluster, checked idle after the test: no task left (on the scheduler nor on a
    worker's loop), both workers alive, no client of a run left open, no driver-side
    thread left."""
    before = {t.name for t in threading.enumerate()}
    clients = set(cluster.scheduler.clients)
    yield sync_client
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (
        _idle(sync_client) and set(cluster.scheduler.clients) == clients
    ):
        time.sleep(0.1)
    assert len(sync_client.processing()) == 2, "a worker is missing"
    assert _idle(sync_client), f"tasks left running: {sync_client.run(_busy)}"
    assert set(cluster.scheduler.clients) == clients, "a run's client was left open"
    # Dask's offload executor is one per process, for the process's life; anyio's idle
    # worker threads belong to the test's event loop and end with it: neither is the run's
    shared = ("Dask-Offload", "AnyIO worker thread")
    left = {t.name for t in threading.enumerate() if not t.name.startswith(shared)}
    left -= before
    assert not left, "a driver-side thread was left behind"


@pytest_asyncio.fixture
async def seeded(
    fake_organization: FakeOrganization,
    seed_queues: SeedQueues,
    org_pool: OrgPool,
    idle: Client,
) -> AsyncIterator[Seeded]:
    """6 accounts x 3 regions, each holding a known number of SQS queues."""
    async with org_pool() as pool:
        counts = await seed_queues(pool, REGIONS, _count)
        targets = [
            aiokit.Target.assume(account, region, ROLE)
            for region in REGIONS
            for account in fake_organization.account_ids
        ]
        yield pool, targets, counts
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_dask_gives_the_same_items_and_outcomes_as_in_process_and_processes(
    seeded: Seeded, address: str
) -> None:
    pool, targets, counts = seeded
    local, local_report, local_statuses = await _crawl(pool, targets, None)
    procs, _, procs_statuses = await _crawl(pool, targets, aiokit.Processes(2))
    seen: list[aiokit.Progress] = []
    runner = DaskRunner(address)
    dask, report, statuses = await _crawl(
        pool, targets, runner, progress=seen.append, PaginationConfig={"PageSize": 2}
    )
    assert len(local) == sum(counts.values())
    assert sorted(_keys(dask)) == sorted(_keys(local)) == sorted(_keys(procs))
    assert len(set(_keys(dask))) == len(dask)  # no duplicates
    assert statuses == local_statuses == procs_statuses and set(statuses) == set(targets)
    assert report.counts == local_report.counts == {"ok": 18}
    assert report.items == len(dask) and report.never_visited == 0
    assert [p.done for p in seen] == list(range(1, 19))
    assert runner.workers == 2  # what the scheduler had when the run started


async def test_a_client_runner_sync_or_async_is_used_and_never_closed(
    seeded: Seeded, address: str, idle: Client
) -> None:
    pool, targets, counts = seeded
    runner = DaskRunner(client=idle)
    assert repr(runner) == f"aiokit.dask.DaskRunner(client=<Client {address!r}>)"
    items, report, _ = await _crawl(pool, targets, runner)
    assert sorted(_keys(items)) and len(items) == sum(counts.values())
    assert report.counts == {"ok": 18}
    assert idle.status == "running"
    async with Client(address, asynchronous=True, set_as_default=False) as client:
        items, report, _ = await _crawl(pool, targets, DaskRunner(client=client))
        assert len(set(_keys(items))) == len(items) == sum(counts.values())
        assert client.status == "running"
        assert report.counts == {"ok": 18}


async def test_a_scheduler_file_runner(seeded: Seeded, address: str, tmp_path: Path) -> None:
    pool, targets, counts = seeded
    path = tmp_path / "scheduler.json"
    path.write_text(json.dumps({"address": address}))
    items, report, _ = await _crawl(pool, targets[:6], DaskRunner(scheduler_file=path))
    assert len(items) == sum(counts[(t.account, t.region)] for t in targets[:6])
    assert report.counts == {"ok": 6}


async def test_fan_out_with_dask_gives_the_same_outcomes(seeded: Seeded, address: str) -> None:
    pool, targets, counts = seeded
    async with pool.fan_out(count_queues, targets) as outcomes:
        local = {o.target: (o.status.value, o.value) async for o in outcomes}
    fan_out = pool.fan_out(count_queues, targets, runner=DaskRunner(address))
    async with fan_out as outcomes:
        dask = {o.target: (o.status.value, o.value) async for o in outcomes}
    assert dask == local
    assert {t: v for t, (_, v) in dask.items()} == {
        t: counts[(t.account, t.region)] for t in targets
    }
    assert fan_out.statistics().done == fan_out.statistics().ok == 18


async def test_a_bug_in_a_dask_task_is_raised_in_the_driver(
    org_pool: OrgPool, address: str, idle: Client
) -> None:
    targets = [aiokit.Target(None, "us-east-1")]
    async with org_pool() as pool:
        with pytest.raises(ZeroDivisionError):
            await pool.fan_out(divide_by_zero, targets, runner=DaskRunner(address)).collect()


async def slow_or_bug(ctx: aiokit.Context) -> int:
    """A fan-out function with a bug in one region, slow in the others."""
    if ctx.target.region == REGIONS[1]:
        return 1 // 0
    await anyio.sleep(1)
    return 0


async def test_a_bug_in_one_task_while_others_run_leaves_nothing_behind(
    seeded: Seeded, address: str, caplog: pytest.LogCaptureFixture
) -> None:
    pool, targets, _ = seeded
    with pytest.raises(ZeroDivisionError):
        await pool.fan_out(slow_or_bug, targets, runner=DaskRunner(address)).collect()
    gc.collect()  # an asyncio task whose error was never retrieved says so when collected
    assert not [r for r in caplog.records if r.name == "asyncio"]


async def test_a_function_the_workers_cannot_import_is_a_configuration_error(
    org_pool: OrgPool, address: str, idle: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "driver_only_module.py").write_text("async def fn(ctx):\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # in the driver only
    fn = importlib.import_module("driver_only_module").fn

    async with org_pool() as pool:
        with pytest.raises(
            aiokit.ConfigurationError, match="a worker cannot import 'driver_only_module'"
        ):
            await pool.fan_out(
                fn, [aiokit.Target(None, "us-east-1")], runner=DaskRunner(address)
            ).collect()
    sys.modules.pop("driver_only_module", None)


async def test_a_parameter_a_worker_cannot_receive_is_a_configuration_error(
    org_pool: OrgPool, address: str, idle: Client
) -> None:
    async with org_pool() as pool:
        crawl = pool.crawl(
            "sqs",
            "list_queues",
            [aiokit.Target(None, "us-east-1")],
            runner=DaskRunner(address),
            QueueNamePrefix=_Unpicklable("q"),
        )
        with pytest.raises(aiokit.ConfigurationError, match="cannot be sent to a worker"):
            await crawl.collect()


async def test_an_unpicklable_fan_out_function_is_refused_before_any_request(
    org_pool: OrgPool, address: str, idle: Client
) -> None:
    async def closure(ctx: aiokit.Context) -> int:
        return 0

    async with org_pool() as pool:
        before = pool.statistics()
        for fn, name in ((closure, "closure"), (lambda ctx: ctx, "<lambda>")):
            with pytest.raises(aiokit.ConfigurationError, match=f"fn .*{name}.* cannot be sent"):
                pool.fan_out(fn, [aiokit.Target(None, "us-east-1")], runner=DaskRunner(address))
        assert pool.statistics() == before
    assert not idle.who_has()  # nothing was submitted


async def test_a_dask_worker_killed_mid_crawl_loses_no_item_and_yields_none_twice(
    seeded: Seeded, address: str, idle: Client
) -> None:
    pool, targets, counts = seeded
    pids = list(idle.run(os.getpid).values())
    killed: list[int] = []
    items: list[aiokit.Item] = []
    async with pool.crawl(
        "sqs", "list_queues", targets, concurrency=1, runner=DaskRunner(address)
    ) as crawl:
        async for item in crawl:
            items.append(item)
            if not killed:  # after the first target: the workers are mid-crawl
                assert crawl.report.targets < 18
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
    assert killed
    assert len(_keys(items)) == len(set(_keys(items))) == sum(counts.values())
    assert crawl.report.counts == {"ok": 18}
    await anyio.to_thread.run_sync(lambda: idle.wait_for_workers(2, timeout=30))  # nannies
    assert not set(idle.run(os.getpid).values()) & set(pids)


async def test_a_task_the_scheduler_gives_up_on_fails_its_targets_as_worker_died(
    seeded: Seeded, address: str, idle: Client, cluster: LocalCluster
) -> None:
    pool, targets, counts = seeded
    run = anyio.to_thread.run_sync
    killed: list[int] = []

    async def kill_a_busy_worker() -> None:
        async def busy() -> bool:
            return any((await run(idle.run, _busy)).values())

        await _until(busy, 20)
        busy_now = [a for a, n in (await run(idle.run, _busy)).items() if n]
        pid = await run(functools.partial(idle.run, os.getpid, workers=busy_now[:1]))
        killed.extend(pid.values())
        os.kill(killed[0], signal.SIGKILL)

    cluster.scheduler.allowed_failures = 0  # (in this process) no second chance
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_a_busy_worker)
            outcomes = await pool.fan_out(
                slow_count, targets, concurrency=1, runner=DaskRunner(address)
            ).collect()
    finally:
        cluster.scheduler.allowed_failures = 3
    assert killed
    by_target = {o.target: o for o in outcomes}
    assert len(by_target) == len(outcomes) == 18  # each target once
    died = {t for t, o in by_target.items() if o.reason == "worker died"}
    assert died and all(by_target[t].status is aiokit.Status.FAILED for t in died)
    assert {t.account for t in died}.isdisjoint(t.account for t in set(targets) - died)
    assert all(  # the others ran, once, elsewhere
        o.value == counts[(t.account, t.region)] for t, o in by_target.items() if t not in died
    )
    await run(lambda: idle.wait_for_workers(2, timeout=30))


async def test_cancelling_a_dask_crawl_leaves_nothing_running(seeded: Seeded, address: str) -> None:
    pool, targets, _ = seeded
    got = 0
    with anyio.move_on_after(30) as scope:
        async with pool.crawl(
            "sqs", "list_queues", targets, concurrency=1, runner=DaskRunner(address)
        ) as crawl:
            async for _ in crawl:
                got += 1
                scope.cancel()
    assert got >= 1 and scope.cancelled_caught
    # the cluster is still usable
    _, report, _ = await _crawl(pool, targets[:3], DaskRunner(address))
    assert report.counts == {"ok": 3}


async def hang(ctx: aiokit.Context) -> int:
    """A fan-out function that never ends by itself (a worker can import it)."""
    await anyio.sleep(3600)
    return 0


async def test_cancelling_stops_the_tasks_on_the_workers_loops(
    seeded: Seeded, address: str, idle: Client
) -> None:
    pool, targets, _ = seeded

    async def busy() -> bool:
        return any((await anyio.to_thread.run_sync(idle.run, _busy)).values())

    async def idle_now() -> bool:
        return not await busy()

    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.fan_out(hang, targets, runner=DaskRunner(address)).collect)
        await _until(busy, 20)  # the tasks run on the workers' loops
        tg.cancel_scope.cancel()
    await _until(idle_now, 5)  # the workers stop them promptly, not in an hour


async def _until(check: Any, seconds: float) -> None:
    with anyio.fail_after(seconds):
        while True:
            if await check():
                return
            await anyio.sleep(0.05)


_CTRL_C_SCRIPT = """
import asyncio, os, sys
import aiokit
from aiokit.dask import DaskRunner
from aiokit.testing import TEST_CREDENTIALS
from tests.test_dask import hang

async def main():
    async with aiokit.SessionPool(
        endpoint_url=os.environ["ENDPOINT"], region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        targets = [aiokit.Target(None, r) for r in ("us-east-1", "eu-west-1", "ap-south-1")]
        print("READY", flush=True)
        await pool.fan_out(hang, targets, runner=DaskRunner(os.environ["ADDRESS"])).collect()

try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
    sys.exit(130)
"""


async def test_ctrl_c_in_the_driver_stops_the_run_and_its_tasks(
    moto_endpoint: str, address: str, idle: Client
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": ROOT,
        "ENDPOINT": moto_endpoint,
        "ADDRESS": address,
    }
    process = await anyio.open_process(
        [sys.executable, "-W", "error", "-c", _CTRL_C_SCRIPT], env=env
    )
    async with process:
        assert process.stdout is not None and process.stderr is not None
        assert b"READY" in await process.stdout.receive()

        async def busy() -> bool:
            return any((await anyio.to_thread.run_sync(idle.run, _busy)).values())

        await _until(busy, 20)  # its tasks run on the workers
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(15):
            await process.wait()
        out = b"".join([chunk async for chunk in process.stdout]).decode()
        err = b"".join([chunk async for chunk in process.stderr]).decode()
    assert process.returncode == 130 and "INTERRUPTED" in out, err
    for sign in ("never retrieved", "was destroyed", "ResourceWarning", "Traceback"):
        assert sign not in err, err

    async def idle_now() -> bool:
        return not await busy()

    await _until(idle_now, 5)  # the workers stopped its tasks


async def test_leaving_a_dask_crawl_early_leaves_nothing_running(
    seeded: Seeded, address: str
) -> None:
    pool, targets, _ = seeded
    async with pool.crawl(
        "sqs", "list_queues", targets, concurrency=1, runner=DaskRunner(address)
    ) as crawl:
        async for _ in crawl:
            break
    assert crawl.report.never_visited == 18 - crawl.report.targets > 0


async def slow_count(ctx: aiokit.Context) -> int:
    """A fan-out function that takes its time (a worker can import it)."""
    await anyio.sleep(0.8)
    return await count_queues(ctx)


async def test_a_deadline_stops_the_tasks_mid_run_and_is_reported(
    seeded: Seeded, address: str
) -> None:
    pool, targets, _ = seeded
    runner = DaskRunner(address)
    await pool.fan_out(count_queues, targets, runner=runner).collect()  # the workers' pools
    fan_out = pool.fan_out(slow_count, targets, concurrency=1, deadline=2.0, runner=runner)
    start = time.monotonic()
    async with fan_out as outcomes:
        done = [o.target async for o in outcomes]
    assert time.monotonic() - start < 2.0 + 5  # no hang (len(done) < 18 shows the stop)
    statistics = fan_out.statistics()
    assert statistics.deadline_reached
    assert statistics.interrupted >= 1  # tasks stopped mid-chunk
    assert 0 < len(done) == len(set(done)) < 18


async def test_a_deadline_is_reached_reported_and_yields_no_duplicate(
    seeded: Seeded, address: str
) -> None:
    pool, targets, _ = seeded
    async with pool.crawl(
        "sqs", "list_queues", targets, concurrency=1, deadline=0.05, runner=DaskRunner(address)
    ) as crawl:
        items = [item async for item in crawl]
    statistics = crawl.statistics()
    assert statistics.deadline_reached
    assert statistics.in_flight == 0
    assert crawl.report.never_visited == 18 - crawl.report.targets > 0
    assert len(set(_keys(items))) == len(items)


async def test_no_targets_submit_nothing(org_pool: OrgPool) -> None:
    unreachable = DaskRunner(f"tcp://127.0.0.1:{_closed_port()}")  # not even a connection
    async with org_pool() as pool:
        items, report = await pool.crawl("sqs", "list_queues", [], runner=unreachable).collect()
    assert items == [] and report.targets == 0


def _pools(dask_worker: Any) -> int:
    return len(dask_worker.plugins["aiokit-pools"]._pools)


async def test_a_worker_keeps_at_most_max_pools_open(
    fake_organization: FakeOrganization, address: str, idle: Client
) -> None:
    runner = DaskRunner(address)
    target = aiokit.Target(None, "us-east-1")
    for sts in range(2, 2 * (MAX_POOLS + 3), 2):  # a pool spec of its own each time
        async with aiokit.SessionPool(
            endpoint_url=fake_organization.endpoint_url,
            region="us-east-1",
            credentials=TEST_CREDENTIALS,
            sts_concurrency=sts,
        ) as pool:
            outcomes = await pool.fan_out(count_queues, [target], runner=runner).collect()
            assert [o.status for o in outcomes] == [aiokit.Status.OK]
    pools = await anyio.to_thread.run_sync(idle.run, _pools)
    assert 1 <= max(pools.values()) <= MAX_POOLS
    assert sum(pools.values()) >= 2  # kept between runs


def _sts(dask_worker: Any) -> list[int]:
    pools = dask_worker.plugins["aiokit-pools"]._pools.values()
    return [p._options["sts_concurrency"] for p in pools]


async def test_the_sts_budget_is_split_between_the_workers_the_scheduler_has(
    fake_organization: FakeOrganization, address: str, idle: Client
) -> None:
    runner = DaskRunner(address)
    assert runner.workers == 1  # before its first run: the spec is not split yet
    targets = [aiokit.Target(None, "us-east-1"), aiokit.Target(None, "eu-west-1")]
    async with aiokit.SessionPool(
        endpoint_url=fake_organization.endpoint_url,
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        sts_concurrency=14,  # this test's own pool spec
    ) as pool:
        for _ in range(2):  # split by 1 then 2 in the driver: by 2 on the workers each time
            await pool.fan_out(count_queues, targets, concurrency=1, runner=runner).collect()
            assert runner.workers == 2
    found = await anyio.to_thread.run_sync(idle.run, _sts)
    assert 7 in {n for ns in found.values() for n in ns}
    assert 14 not in {n for ns in found.values() for n in ns}


async def test_an_error_in_the_driver_cancels_the_run(seeded: Seeded, address: str) -> None:
    pool, targets, _ = seeded
    with pytest.raises(KeyError, match="the consumer's bug"):
        async with pool.crawl("sqs", "list_queues", targets, runner=DaskRunner(address)) as crawl:
            async for _ in crawl:
                raise KeyError("the consumer's bug")


async def test_a_closed_client_is_a_configuration_error(
    org_pool: OrgPool, address: str, idle: Client
) -> None:
    client = await Client(address, asynchronous=True, set_as_default=False)
    await client.close()
    async with org_pool() as pool:
        with pytest.raises(aiokit.ConfigurationError, match="the client is closed"):
            await pool.crawl(
                "sqs", "list_queues", [aiokit.Target(None, "us-east-1")],
                runner=DaskRunner(client=client),
            ).collect()  # fmt: skip


async def test_a_cluster_without_workers_is_a_clear_error_in_bounded_time(
    org_pool: OrgPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aiokit.dask, "CONNECT_TIMEOUT", 1.0)
    async with (
        Scheduler(host="127.0.0.1", port=0, dashboard=False, dashboard_address="127.0.0.1:0")
        as empty,
        org_pool() as pool,
    ):  # fmt: skip
        start = time.monotonic()
        runner = DaskRunner(empty.address)
        with pytest.raises(aiokit.AiokitError, match="the cluster has no worker"):
            await pool.crawl(
                "sqs", "list_queues", [aiokit.Target(None, "us-east-1")], runner=runner
            ).collect()
        assert time.monotonic() - start < 1.0 + 3


@pytest.mark.parametrize(("accounts", "workers"), [(0, 2), (1, 2), (6, 2), (7, 3), (1000, 2)])
def test_tasks_are_chunks_of_whole_accounts(accounts: int, workers: int) -> None:
    targets = tuple(
        aiokit.Target(f"{a:012d}", region) for region in REGIONS for a in range(accounts)
    )
    chunks = _chunks(targets, workers)
    assert Counter(t for c in chunks for t in c) == Counter(targets)  # each target once
    owners = [{t.account for t in c} for c in chunks]
    assert sum(len(o) for o in owners) == accounts  # an account in one chunk only
    assert all(len(o) <= CHUNK_ACCOUNTS for o in owners)
    assert len(chunks) == min(accounts, max(4 * workers, -(-accounts // CHUNK_ACCOUNTS)))
    if owners:
        assert max(map(len, owners)) - min(map(len, owners)) <= 1  # near-equal


async def a_lock(ctx: aiokit.Context) -> Any:
    """A fan-out function whose value cannot travel back from a worker."""
    return threading.Lock()


async def test_a_value_that_cannot_travel_back_is_a_clear_error(
    org_pool: OrgPool, address: str, idle: Client
) -> None:
    async with org_pool() as pool:
        with pytest.raises(
            aiokit.ConfigurationError,
            match=r"the value or items of aiokit.Target\(.*\) cannot be sent back.*lock",
        ):
            await pool.fan_out(
                a_lock, [aiokit.Target(None, "us-east-1")], runner=DaskRunner(address)
            ).collect()


async def test_two_runs_at_once_on_one_runner(seeded: Seeded, address: str) -> None:
    pool, targets, counts = seeded
    runner = DaskRunner(address)
    results: list[Any] = []

    async def crawl(part: list[aiokit.Target]) -> None:
        results.append(await _crawl(pool, part, runner))

    async with anyio.create_task_group() as tg:
        tg.start_soon(crawl, targets[:9])
        tg.start_soon(crawl, targets[9:])
    items = [i for r in results for i in r[0]]
    assert len(set(_keys(items))) == len(items) == sum(counts.values())
    assert [r[1].counts for r in results] == [{"ok": 9}, {"ok": 9}]


def _loop_threads() -> int:
    return sum(t.name == "aiokit-dask-loop" for t in threading.enumerate())


def _closed_pools(dask_worker: Any) -> list[str]:
    return [p._state.name for p in getattr(dask_worker, "aiokit_test_pools", [])]


def _keep_pools(dask_worker: Any) -> int:
    pools = list(dask_worker.plugins["aiokit-pools"]._pools.values())
    dask_worker.aiokit_test_pools = pools  # to look at after the plugin is gone
    return len(pools)


async def test_the_plugins_teardown_closes_its_pools_and_joins_its_loop(
    org_pool: OrgPool, address: str, idle: Client
) -> None:
    async with org_pool() as pool:
        targets = [aiokit.Target(None, r) for r in REGIONS]
        await pool.fan_out(count_queues, targets, runner=DaskRunner(address)).collect()
    run = anyio.to_thread.run_sync
    assert set((await run(idle.run, _loop_threads)).values()) == {1}
    assert sum((await run(idle.run, _keep_pools)).values()) >= 1
    await run(idle.unregister_worker_plugin, "aiokit-pools")  # its teardown, on each worker
    assert set((await run(idle.run, _loop_threads)).values()) == {0}
    states = [s for ss in (await run(idle.run, _closed_pools)).values() for s in ss]
    assert states and set(states) == {"CLOSED"}


# -- bad inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="none"),
        pytest.param({"address": "tcp://a:1", "scheduler_file": "f"}, id="address+file"),
        pytest.param({"address": "tcp://a:1", "client": object()}, id="address+client"),
    ],
)
def test_dask_runner_needs_exactly_one_of_its_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(aiokit.ConfigurationError, match="exactly one of address, scheduler_file"):
        DaskRunner(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        pytest.param({"address": 8786}, "address", id="address-int"),
        pytest.param({"address": ""}, "address", id="address-empty"),
        pytest.param({"address": "  "}, "address", id="address-blank"),
        pytest.param({"scheduler_file": 3}, "scheduler_file", id="file-int"),
        pytest.param({"client": "tcp://a:1"}, "client", id="client-str"),
    ],
)
def test_dask_runner_refuses_wrong_types(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(aiokit.ConfigurationError, match=rf"DaskRunner\({named}\)"):
        DaskRunner(**kwargs)


def test_dask_runner_is_frozen_with_a_short_repr(tmp_path: Path) -> None:
    runner = DaskRunner("tcp://127.0.0.1:8786")
    assert repr(runner) == "aiokit.dask.DaskRunner('tcp://127.0.0.1:8786')"
    assert "scheduler_file=" in repr(DaskRunner(scheduler_file=tmp_path / "s.json"))
    with pytest.raises(AttributeError):
        runner._address = "x"  # type: ignore[misc]
    assert runner.workers == 1  # before any run
    assert isinstance(runner, Runner)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_address_is_a_clear_error_in_bounded_time(
    org_pool: OrgPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CONNECT_TIMEOUT == 10.0  # the default bound; shortened here to keep the test quick
    monkeypatch.setattr(aiokit.dask, "CONNECT_TIMEOUT", 1.5)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    target = aiokit.Target(None, "us-east-1")
    async with org_pool() as pool:
        before = pool.statistics()
        start = time.monotonic()
        with pytest.raises(
            aiokit.AiokitError, match=f"cannot reach the Dask scheduler at '{address}' within 1.5 s"
        ):
            await pool.crawl("sqs", "list_queues", [target], runner=DaskRunner(address)).collect()
        assert time.monotonic() - start < 1.5 + 3
        assert pool.statistics() == before  # nothing was asked of AWS


@pytest.mark.parametrize("address", ["no-port", "http://127.0.0.1:1", "tcp://", "inproc://x"])
async def test_a_malformed_address_is_a_clear_error_at_once(
    org_pool: OrgPool, address: str
) -> None:
    target = aiokit.Target(None, "us-east-1")
    async with org_pool() as pool:
        with anyio.fail_after(3):
            with pytest.raises(aiokit.AiokitError, match=f"Dask scheduler at '{address}'"):
                await pool.crawl(
                    "sqs", "list_queues", [target], runner=DaskRunner(address)
                ).collect()


async def test_a_missing_scheduler_file_is_a_configuration_error(
    org_pool: OrgPool, tmp_path: Path
) -> None:
    missing = tmp_path / "absent.json"
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    async with org_pool() as pool:
        for path, message in ((missing, "no such file"), (bad, "is not a scheduler file")):
            with pytest.raises(aiokit.ConfigurationError, match=message):
                await pool.crawl(
                    "sqs", "list_queues", [aiokit.Target(None, "us-east-1")],
                    runner=DaskRunner(scheduler_file=path),
                ).collect()  # fmt: skip


def test_a_missing_distributed_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "try:\n    import aiokit.dask\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.startswith("MissingDependencyError") and "aiokit[dask]" in out


async def test_many_listings_over_dask_match_in_process_exactly(
    fake_organization: FakeOrganization, org_pool: OrgPool, idle: Client, address: str
) -> None:
    """13 resource types (3 global) over 6 accounts x 3 regions through the Dask runner:
    the same items and one outcome per unit, as in one process; ``done=`` skipped there."""
    from tests.test_crawl_listings_workers import _regional, _run
    from tests.test_inventory_store import seed

    accounts = fake_organization.account_ids
    async with org_pool() as pool:
        await seed(pool, accounts)
        targets = _regional(accounts)
        local, local_outcomes, _ = await _run(pool, targets)
        items, outcomes, report = await _run(pool, targets, runner=DaskRunner(address))
        done = {(a, r, n) for n, a, r in local_outcomes if n == "sqs.queues"}
        rest = await _run(pool, targets, runner=DaskRunner(address), done=done)
    key = Counter
    assert key(
        (i.listing.name if i.listing else "", i.account, i.region, repr(i.data)) for i in items
    ) == key(
        (i.listing.name if i.listing else "", i.account, i.region, repr(i.data)) for i in local
    )
    assert outcomes == local_outcomes
    assert report.counts == {"ok": len(local_outcomes)} and report.never_visited == 0
    assert set(rest[1]) == {k for k in local_outcomes if k[0] != "sqs.queues"}
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
