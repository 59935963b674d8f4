"""``runner=aiokit.Processes(n)``: a crawl over local worker processes, on moto over HTTP."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import zlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import pytest
import pytest_asyncio

import aiokit
from aiokit._fleet.runners import MAX_RESTARTS
from aiokit._workers import pool_spec
from aiokit.testing import FakeOrganization

if TYPE_CHECKING:
    from tests.conftest import OrgPool, SeedQueues

pytestmark = pytest.mark.asyncio

ROLE = "OrganizationAccountAccessRole"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def _count(i: int, j: int) -> int:
    return (i + j) % 3 + 1


Seeded = tuple[aiokit.SessionPool, list[aiokit.Target], dict[Any, int]]


@pytest_asyncio.fixture
async def seeded(
    fake_organization: FakeOrganization, seed_queues: SeedQueues, org_pool: OrgPool
) -> AsyncIterator[Seeded]:
    """6 accounts x 3 regions, each holding a known number of SQS queues."""
    assert len(fake_organization.account_ids) >= 6
    async with org_pool() as pool:
        counts = await seed_queues(pool, REGIONS, _count)
        targets = [
            aiokit.Target.assume(account, region, ROLE)
            for region in REGIONS
            for account in fake_organization.account_ids
        ]
        yield pool, targets, counts
    assert not multiprocessing.active_children()


def _keys(items: list[aiokit.Item]) -> list[tuple[Any, Any, str]]:
    return [(i.account, i.region, i.data) for i in items]


async def _crawl(
    pool: aiokit.SessionPool, targets: list[aiokit.Target], runner: Any, **kwargs: Any
) -> tuple[list[aiokit.Item], aiokit.Report, dict[aiokit.Target, str]]:
    statuses: dict[aiokit.Target, str] = {}
    async with pool.crawl("sqs", "list_queues", targets, runner=runner, **kwargs) as crawl:
        items: list[aiokit.Item] = []
        async for event in crawl.events():
            if isinstance(event, aiokit.Item):
                items.append(event)
            else:
                statuses[event.target] = event.status.value
    return items, crawl.report, statuses


async def test_processes_give_the_same_items_and_outcomes_as_in_process(
    seeded: Seeded,
) -> None:
    pool, targets, counts = seeded
    seen: list[aiokit.Progress] = []
    local, local_report, local_statuses = await _crawl(pool, targets, None)
    sharded, report, statuses = await _crawl(
        pool, targets, aiokit.Processes(2), progress=seen.append, PaginationConfig={"PageSize": 2}
    )
    assert len(local) == sum(counts.values())
    assert sorted(_keys(sharded)) == sorted(_keys(local))
    assert len(set(_keys(sharded))) == len(sharded)  # no duplicates
    assert statuses == local_statuses and set(statuses) == set(targets)
    assert report.counts == local_report.counts == {"ok": 18}
    assert report.items == len(sharded) and report.never_visited == 0
    assert seen[-1].done == 18 and seen[-1].items == len(sharded)
    assert [p.done for p in seen] == list(range(1, 19))
    assert not multiprocessing.active_children()


async def test_to_pandas_and_collect_work_with_processes(seeded: Seeded) -> None:
    pool, targets, counts = seeded
    items, report = await pool.crawl(
        "sqs", "list_queues", targets[:6], runner=aiokit.Processes(2)
    ).collect()
    assert report.counts == {"ok": 6}
    assert len(items) == sum(counts[(t.account, t.region)] for t in targets[:6])


async def test_a_worker_killed_mid_crawl_is_replaced_and_no_item_is_yielded_twice(
    seeded: Seeded,
) -> None:
    pool, targets, counts = seeded
    killed: list[int] = []
    items: list[aiokit.Item] = []
    async with pool.crawl(
        "sqs", "list_queues", targets, concurrency=1, runner=aiokit.Processes(2)
    ) as crawl:
        async for item in crawl:
            items.append(item)
            if not killed:  # after the first target: the workers are mid-crawl
                assert crawl.report.targets < 18  # some targets are left for a new worker
                for child in multiprocessing.active_children():
                    os.kill(child.pid or 0, signal.SIGKILL)
                    killed.append(child.pid or 0)
    assert killed
    assert len(_keys(items)) == len(set(_keys(items))) == sum(counts.values())
    assert crawl.report.counts == {"ok": 18}
    statistics = crawl.statistics()  # the workers' outcomes, merged
    assert statistics.done == statistics.ok == 18 and statistics.calls >= 18
    assert statistics.items == len(items)
    assert not multiprocessing.active_children()


async def test_cancelling_a_sharded_crawl_leaves_no_process(seeded: Seeded) -> None:
    pool, targets, _ = seeded
    got = 0
    with anyio.move_on_after(30) as scope:
        async with pool.crawl(
            "sqs", "list_queues", targets, concurrency=1, runner=aiokit.Processes(2)
        ) as crawl:
            async for _ in crawl:
                got += 1
                scope.cancel()
    assert got >= 1
    assert not multiprocessing.active_children()


async def test_leaving_a_sharded_crawl_early_leaves_no_process(seeded: Seeded) -> None:
    pool, targets, _ = seeded
    async with pool.crawl("sqs", "list_queues", targets, runner=aiokit.Processes(2)) as crawl:
        async for _ in crawl:
            break
    assert not multiprocessing.active_children()
    assert crawl.report.never_visited == 18 - crawl.report.targets


async def test_a_bad_parameter_is_refused_in_the_driver_before_any_worker_starts(
    seeded: Seeded,
) -> None:
    pool, targets, _ = seeded
    with pytest.raises(aiokit.InvalidParameterError, match="NoSuchParam"):
        async with pool.crawl(
            "sqs", "list_queues", targets[:2], runner=aiokit.Processes(2), NoSuchParam=1
        ) as crawl:
            async for _ in crawl:
                pass
    assert not multiprocessing.active_children()


async def test_a_bad_listing_among_many_is_refused_in_the_driver_on_every_try(
    seeded: Seeded,
) -> None:
    # The driver checks the listings on a loader it lets go (models_let_go): a mistake is
    # still named before any worker starts, and the same call again says it again.
    pool, targets, counts = seeded
    listings = [aiokit.Listing("sqs", "list_queues"), aiokit.Listing("sns", "list_nothing")]
    for _ in range(2):
        with pytest.raises(aiokit.UnknownOperationError, match="list_nothing") as raised:
            async with pool.crawl(listings, targets[:2], runner=aiokit.Processes(2)) as crawl:
                async for _ in crawl:
                    pass
        assert raised.value.service == "sns"
        assert not multiprocessing.active_children()
    async with pool.crawl(listings[:1], targets[:2], runner=aiokit.Processes(2)) as crawl:
        items = [item async for item in crawl]
    assert len(items) == sum(counts[(t.account, t.region)] for t in targets[:2])
    assert crawl.report.targets == 2 and not crawl.report.problems


_LET_GO_SCRIPT = """
import sys, anyio, aiokit
from aiokit._botocore.loaders import shared_loader
from aiokit.testing import TEST_CREDENTIALS

async def main(endpoint, role, accounts):
    async with aiokit.SessionPool(
        endpoint_url=endpoint, region="us-east-1", credentials=TEST_CREDENTIALS, role=role
    ) as pool:
        targets = [aiokit.Target.assume(a, "us-east-1", role) for a in accounts]
        if sys.argv[4] == "one":
            crawl = pool.crawl("sqs", "list_queues", targets, runner=aiokit.Processes(2))
        else:  # many listings: each checked in the driver
            listings = [aiokit.Listing("sqs", "list_queues"), aiokit.Listing("sns", "list_topics")]
            crawl = pool.crawl(listings, targets, runner=aiokit.Processes(2))
        async with crawl as c:
            async for _ in c:
                pass
        print("targets", c.report.targets, "problems", len(c.report.problems))
    # botocore's Loader caches what it parsed per instance (instance_cache: ``_cache``).
    cache = shared_loader()._cache
    models = [k for k in cache if k[0] == "load_service_model" and k[2] == "service-2"]
    print("kept", sorted(k[1] for k in models))

if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3].split(","))
"""


@pytest.mark.parametrize("listings", ["one", "many"])
def test_the_models_a_driver_checks_with_are_let_go(
    tmp_path: Any, fake_organization: FakeOrganization, listings: str
) -> None:
    # A sharded crawl's driver checks the listing against the service's model, then only
    # relays items: that model (EC2's is 12 MB parsed) must not stay for the whole crawl.
    import subprocess
    import sys
    import weakref

    from aiokit._botocore.loaders import model_loader, models_let_go, shared_loader

    with models_let_go():
        own = model_loader()
        assert own is not shared_loader()
        assert own.load_service_model("sqs", "service-2") is not shared_loader().load_service_model(
            "sqs", "service-2"
        )
        gone = weakref.ref(own)
    assert model_loader() is shared_loader()
    del own
    assert gone() is None

    script = tmp_path / "let_go.py"
    script.write_text(_LET_GO_SCRIPT)
    args = [fake_organization.endpoint_url, fake_organization.role_name]
    args += [",".join(fake_organization.account_ids), listings]
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert done.returncode == 0, done.stderr
    units = len(fake_organization.account_ids) * (1 if listings == "one" else 2)
    assert f"targets {units} problems 0" in done.stdout, done.stdout
    # STS's model (the driver's pool may assume roles) may stay; SQS's, read to check
    # the listing, did not.
    kept = done.stdout.rsplit("kept ", 1)[1]
    assert "'sqs'" not in kept and "'sns'" not in kept, kept


@pytest.mark.parametrize("n", [0, -1, "2", 2.0, True, None])
def test_processes_needs_an_int_of_at_least_one(n: Any) -> None:
    with pytest.raises(aiokit.ConfigurationError, match=r"Processes\(n\): n must be an int"):
        aiokit.Processes(n)


def test_processes_is_frozen_with_a_short_repr() -> None:
    runner = aiokit.Processes(2)
    assert repr(runner) == "aiokit.Processes(2)"
    assert runner == aiokit.Processes(2)
    with pytest.raises(AttributeError):
        runner.n = 3  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(runner)) == runner
    assert MAX_RESTARTS >= 1


def test_sharding_is_by_account_with_a_stable_hash() -> None:
    runner = aiokit.Processes(3)
    a = aiokit.Target.assume("111111111111", "us-east-1", ROLE)
    b = aiokit.Target.assume("111111111111", "eu-west-1", ROLE)
    assert runner.shard(a) == runner.shard(b) == zlib.crc32(b"111111111111") % 3
    assert runner.shard(aiokit.Target(None, "us-east-1")) == 0


async def test_a_bad_runner_is_refused_before_any_work(org_pool: OrgPool) -> None:
    async with org_pool() as pool:
        for runner in (2, "processes", object()):
            with pytest.raises(aiokit.ConfigurationError, match="runner= must be"):
                pool.crawl("sqs", "list_queues", runner=runner)


async def test_the_pool_spec_pickles_and_hides_its_keys(org_pool: OrgPool) -> None:
    async with org_pool() as pool:
        spec = pool_spec(pool)
        secret = pool.identity.secret_access_key  # type: ignore[attr-defined]
        assert secret not in repr(spec)
        again = pickle.loads(pickle.dumps(spec))
        assert again.cls is aiokit.SessionPool
        assert again.options["region"] == "us-east-1"


async def count_queues(ctx: aiokit.Context) -> int:
    """A fan-out function a worker process can import (top level of this module)."""
    sqs = await ctx.client("sqs")
    return len((await sqs.list_queues()).get("QueueUrls", []))


async def test_fan_out_with_processes_gives_the_same_outcomes(seeded: Seeded) -> None:
    pool, targets, counts = seeded
    async with pool.fan_out(count_queues, targets) as outcomes:
        local = {o.target: (o.status.value, o.value) async for o in outcomes}
    fan_out = pool.fan_out(count_queues, targets, runner=aiokit.Processes(2))
    async with fan_out as outcomes:
        sharded = {o.target: (o.status.value, o.value) async for o in outcomes}
    assert sharded == local
    assert {t: v for t, (_, v) in sharded.items()} == {
        t: counts[(t.account, t.region)] for t in targets
    }
    assert fan_out.statistics().done == fan_out.statistics().ok == 18
    assert not multiprocessing.active_children()


async def test_an_unpicklable_fan_out_function_is_refused_before_any_request(
    org_pool: OrgPool,
) -> None:
    async def closure(ctx: aiokit.Context) -> int:
        return 0

    async with org_pool() as pool:
        before = pool.statistics()
        for fn, name in ((closure, "closure"), (lambda ctx: ctx, "<lambda>")):
            with pytest.raises(aiokit.ConfigurationError, match=f"fn .*{name}.* cannot be sent"):
                pool.fan_out(fn, [aiokit.Target(None, "us-east-1")], runner=aiokit.Processes(2))
        with pytest.raises(aiokit.ConfigurationError, match="runner= must be"):
            pool.fan_out(count_queues, [], runner=2)
        assert pool.statistics() == before
    assert not multiprocessing.active_children()


async def test_a_deadline_ends_every_worker_and_counts_what_was_never_visited(
    seeded: Seeded,
) -> None:
    pool, targets, _ = seeded
    items, report, statuses = await _crawl(
        pool, targets, aiokit.Processes(2), concurrency=1, deadline=0.05
    )
    assert report.targets == len(statuses) < 18
    assert report.never_visited == 18 - report.targets
    assert len(set(_keys(items))) == len(items)
    assert not multiprocessing.active_children()


async def test_no_targets_start_no_worker(org_pool: OrgPool) -> None:
    async with org_pool() as pool:
        items, report = await pool.crawl(
            "sqs", "list_queues", [], runner=aiokit.Processes(2)
        ).collect()
    assert items == [] and report.targets == 0
    assert not multiprocessing.active_children()


async def divide_by_zero(ctx: aiokit.Context) -> int:
    """A fan-out function with a bug: it stops the fan-out, in a worker as in-process."""
    return 1 // 0


async def test_a_bug_in_a_worker_is_raised_in_the_driver(org_pool: OrgPool) -> None:
    targets = [aiokit.Target(None, "us-east-1")]
    async with org_pool() as pool:
        with pytest.raises(ZeroDivisionError):
            await pool.fan_out(divide_by_zero, targets).collect()
        with pytest.raises(ZeroDivisionError):
            await pool.fan_out(divide_by_zero, targets, runner=aiokit.Processes(2)).collect()
    assert not multiprocessing.active_children()


async def test_a_parameter_a_worker_cannot_receive_is_a_configuration_error(
    org_pool: OrgPool,
) -> None:
    async with org_pool() as pool:
        crawl = pool.crawl(
            "sqs",
            "list_queues",
            [aiokit.Target(None, "us-east-1")],
            runner=aiokit.Processes(2),
            QueueNamePrefix=_Unpicklable("q"),
        )
        with pytest.raises(aiokit.ConfigurationError, match="cannot be sent to a worker"):
            async with crawl:
                async for _ in crawl:
                    pass
    assert not multiprocessing.active_children()


class _Unpicklable(str):
    def __reduce__(self) -> Any:
        raise TypeError("not this one")


async def test_the_workers_pool_statistics_are_merged_into_the_crawl(seeded: Seeded) -> None:
    pool, targets, counts = seeded
    before = pool.statistics().credential_refreshes  # the seeding assumed roles here
    async with pool.crawl("sqs", "list_queues", targets, runner=aiokit.Processes(2)) as crawl:
        items = [item async for item in crawl]
    assert len(items) == sum(counts.values())
    per_worker = crawl.worker_statistics
    # One statistics per worker run: per shard with targets (the organization's account
    # ids are random: 6 of them land in both shards but 3 times in 100).
    accounts = {t.account for t in targets}
    shards = {aiokit.Processes(2).shard(t) for t in targets}
    assert len(per_worker) == len(shards)
    assert all(isinstance(s, aiokit.PoolStatistics) for s in per_worker)
    # each worker assumed the roles of its own accounts, and no other's
    assert sum(s.credential_refreshes for s in per_worker) == len(accounts)
    assert all(s.in_flight == 0 for s in per_worker)
    # the throttling scopes are disjoint: every (account, region, service) in one worker;
    # only the hub's STS (AssumeRole, budgeted: split between the workers) is in both
    scopes = [set(s.scopes) for s in per_worker]
    assert all(scopes)
    if len(scopes) == 2:  # (the pool's own identity: account None)
        assert {(k.account, k.service) for k in scopes[0] & scopes[1]} == {(None, "sts")}
    assert sum(len(s) for s in scopes) == len(set().union(*scopes)) + len(scopes) - 1
    assert pool.statistics().credential_refreshes == before  # the driver assumed nothing


async def test_in_process_crawls_have_no_worker_statistics(seeded: Seeded) -> None:
    pool, targets, _ = seeded
    crawl = pool.crawl("sqs", "list_queues", targets[:2])
    await crawl.collect()
    assert crawl.worker_statistics == []


async def test_the_sts_budget_is_split_between_the_workers(org_pool: OrgPool) -> None:
    async with org_pool() as pool:  # sts_concurrency=16, the default
        assert pool_spec(pool).split_sts(2).options["sts_concurrency"] == 8
        assert pool_spec(pool).split_sts(3).options["sts_concurrency"] == 5
        assert pool_spec(pool).split_sts(64).options["sts_concurrency"] == 1  # at least one
        assert pool_spec(pool).options["sts_concurrency"] == 16  # the driver's own: untouched


async def test_a_deadline_is_one_for_the_whole_run_and_reported(seeded: Seeded) -> None:
    pool, targets, _ = seeded
    async with pool.crawl(
        "sqs", "list_queues", targets, concurrency=1, deadline=0.05, runner=aiokit.Processes(2)
    ) as crawl:
        items = [item async for item in crawl]
    statistics = crawl.statistics()
    assert statistics.deadline_reached
    assert statistics.started == statistics.done + statistics.in_flight + statistics.interrupted
    assert statistics.in_flight == 0
    assert crawl.report.never_visited == 18 - crawl.report.targets > 0
    assert len(set(_keys(items))) == len(items)


_SCRIPT = """
import sys, anyio, aiokit
from aiokit.testing import TEST_CREDENTIALS

async def nap(ctx):
    await anyio.sleep(60)  # Ctrl-C comes here, mid-run, with every worker busy

async def main(endpoint, role, accounts):
    async with aiokit.SessionPool(
        endpoint_url=endpoint, region="us-east-1", credentials=TEST_CREDENTIALS, role=role
    ) as pool:
        targets = [aiokit.Target.assume(a, "us-east-1", role) for a in accounts]
        # (a large job: more than a pipe holds, so sending it blocks until the worker reads)
        extra = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        targets += [aiokit.Target.assume(f"{n:012d}", "us-east-1", role) for n in range(extra)]
        fan_out = pool.fan_out(nap, targets, concurrency=1, runner=aiokit.Processes(2))
        async with fan_out as outcomes:
            print("item", flush=True)
            async for _ in outcomes:
                pass

def run():
    try:
        anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3].split(","))
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    except aiokit.AiokitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
"""


def _script(
    tmp_path: Any, fake_organization: FakeOrganization, guarded: bool, extra_targets: int = 0
) -> list[str]:
    import sys

    script = tmp_path / "crawl_script.py"
    main = 'if __name__ == "__main__":\n    run()\n' if guarded else "run()\n"
    script.write_text(_SCRIPT + main)
    return [
        sys.executable,
        str(script),
        fake_organization.endpoint_url,
        fake_organization.role_name,
        ",".join(fake_organization.account_ids),
        str(extra_targets),
    ]


def _popen(args: list[str]) -> Any:
    import subprocess

    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell's foreground job
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


def _ignores_sigint(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def worker_processes(children: list[Any]) -> list[Any]:
    """The worker processes among a driver's descendants ``children`` (psutil processes):
    not multiprocessing's resource tracker, nor the fork server its workers are forked from
    (a worker forked by it has its command line: told apart by its parent)."""
    import psutil

    found, servers = [], set()
    for child in children:
        try:
            line = " ".join(child.cmdline())
            if "resource_tracker" in line:
                continue
            if "forkserver" in line and child.ppid() not in servers:
                if not any(c.pid == child.ppid() for c in children):  # the driver's child
                    servers.add(child.pid)
                    continue
            found.append(child)
        except psutil.Error:
            pass  # it ended meanwhile
    return found


def _wait_until_the_workers_run(pid: int, shards: int) -> list[Any]:
    """The driver's workers, once each is past its interpreter's start (it ignores SIGINT)."""
    import time

    import psutil

    deadline = time.monotonic() + 60
    while True:
        children = psutil.Process(pid).children(recursive=True)
        workers = worker_processes(children)
        if len(workers) == shards and all(_ignores_sigint(w.pid) for w in workers):
            return children
        assert time.monotonic() < deadline, children
        time.sleep(0.05)


def test_ctrl_c_on_the_terminal_stops_driver_and_workers_quietly(
    fake_organization: FakeOrganization, tmp_path: Any
) -> None:
    """Ctrl-C reaches the whole foreground process group: the workers too. They leave the
    stopping to the driver (no traceback of theirs), and nothing is left running."""
    import time

    import psutil

    with _popen(_script(tmp_path, fake_organization, guarded=True)) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            if first != "item\n":
                raise AssertionError(first + proc.communicate(timeout=60)[1])
            shards = len({zlib.crc32(a.encode()) % 2 for a in fake_organization.account_ids})
            children = _wait_until_the_workers_run(proc.pid, shards)  # + resource tracker
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 130, err
    assert out == "interrupted\n"
    assert "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        assert time.monotonic() < deadline, [c.pid for c in children if c.is_running()]
        time.sleep(0.1)


def _blocks_sigint(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigBlk:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def test_ctrl_c_while_the_workers_still_import_is_quiet_too(
    fake_organization: FakeOrganization, tmp_path: Any
) -> None:
    """A Ctrl-C in a worker's first moments, before its main can ignore SIGINT (it is still
    importing aiokit and botocore), is held back by the signal mask it was started with,
    then dropped: no KeyboardInterrupt traceback from inside an import."""
    import time

    import psutil

    with _popen(_script(tmp_path, fake_organization, guarded=True)) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # the workers have just been started
            if first != "item\n":
                raise AssertionError(first + proc.communicate(timeout=60)[1])
            shards = len({zlib.crc32(a.encode()) % 2 for a in fake_organization.account_ids})
            deadline = time.monotonic() + 60
            while True:  # each worker, as soon as it exists
                children = psutil.Process(proc.pid).children(recursive=True)
                workers = worker_processes(children)
                if len(workers) == shards:
                    break
                assert time.monotonic() < deadline, children
                time.sleep(0.01)
            early = [w for w in workers if not _ignores_sigint(w.pid)]
            assert early, "every worker was past its start: this test saw nothing"
            assert all(_blocks_sigint(w.pid) for w in early)
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 130, err
    assert out == "interrupted\n"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    deadline = time.monotonic() + 10
    while any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        assert time.monotonic() < deadline, [c.pid for c in children if c.is_running()]
        time.sleep(0.1)


@pytest.mark.parametrize("extra_targets", [0, 5000], ids=["small-job", "job-over-a-pipe"])
def test_a_script_without_the_main_guard_gets_one_clear_error_and_no_restarts(
    fake_organization: FakeOrganization, tmp_path: Any, extra_targets: int
) -> None:
    """Spawn imports the main module in every worker: an unguarded script would start its
    crawl again in each (and their workers in turn). Each worker says so in one line and
    exits; the driver raises a ConfigurationError and starts none of them again. With a job
    larger than a pipe holds, the driver is still writing it when the worker ends: the same
    one error, not a BrokenPipeError traceback."""
    args = _script(tmp_path, fake_organization, guarded=False, extra_targets=extra_targets)
    with _popen(args) as proc:
        try:
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 2, err
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert lines[-1].startswith("error: runner=aiokit.Processes(2): worker process ")
    assert 'if __name__ == "__main__":' in lines[-1]
    # each started worker said why, once: none was started again
    said = [line for line in lines if line.startswith("aiokit: a worker process started")]
    assert 1 <= len(said) <= 2, err


async def test_on_the_fake_endpoint_throttled_and_faulted_the_items_are_exact() -> None:
    """The project's fake endpoint (own process): throttling buckets and 500s. In-process
    and over two worker processes, every (account, region) gets exactly the tables the
    server holds, once; the workers' retries are counted in the crawl's statistics."""
    from aiokit.testing import TEST_CREDENTIALS
    from benchmarks.fake_aws import FakeAWS, FakeConfig, expected_items

    config = FakeConfig(
        accounts=8,
        items={"tables": 9},
        page_size={"ListTables": 2},
        throttle=True,
        buckets={"dynamodb:*": [20.0, 10.0], "sts:*": [500.0, 500.0]},
        fault_500=0.1,
        fault_seed=11,
        fault_actions=["dynamodb:*"],
    )
    regions = ["us-east-1", "eu-west-1"]
    accounts = [str(100000000001 + i) for i in range(8)]
    targets = [
        aiokit.Target.assume(a, r, "OrganizationAccountAccessRole")
        for r in regions
        for a in accounts
    ]
    expected = sorted(
        (a, r, t) for a in accounts for r in regions for t in expected_items(config, a, r, "tables")
    )
    async with FakeAWS(config) as fake:
        async with aiokit.SessionPool(
            endpoint_url=fake.endpoint_url, region="us-east-1", credentials=TEST_CREDENTIALS
        ) as pool:
            results = {}
            for runner in (None, aiokit.Processes(2)):
                crawl = pool.crawl("dynamodb", "list_tables", targets, runner=runner)
                items, report = await crawl.collect()
                results[runner] = (sorted(_keys(items)), report.counts, crawl.statistics())
    for got, counts, statistics in results.values():
        assert got == expected  # exact: none lost, none twice
        assert counts == {"ok": 16}
        assert statistics.retries > 0  # the 500s were resent
    assert not multiprocessing.active_children()


async def test_a_worker_sends_from_its_loop_and_waits_off_it_when_the_pipe_is_full() -> None:
    """The worker's channel: a message that fits goes at once, from the loop; one that does
    not (the driver is behind) waits in a thread, the loop still running; every message
    arrives whole and in order."""
    import threading

    from aiokit._workers import _Channel

    receive, send = multiprocessing.Pipe(duplex=False)
    channel = _Channel(send)
    got: list[Any] = []
    reading = threading.Event()

    def reader() -> None:
        reading.wait()
        while len(got) < 40:
            got.append(receive.recv())

    thread = threading.Thread(target=reader)
    thread.start()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.01)
            ticks += 1
            if ticks == 30:
                reading.set()  # the driver catches up, 0.3 s on (the pipe is full by now)

    big = "x" * 100_000  # 40 of them: 4 MB, past any pipe's capacity
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(tick)
            for i in range(40):
                await channel.send_soon(("outcome", i, big))
                assert i < 5 or reading.is_set() or ticks < 30  # (it waited for the reader)
            tg.cancel_scope.cancel()
    finally:
        reading.set()
        thread.join(10)
        receive.close()
        send.close()
    assert [m[1] for m in got] == list(range(40))
    assert all(m[2] == big for m in got)
    assert ticks >= 30  # the loop ran on while the pipe was full


async def test_the_driver_raises_the_collectors_threshold_as_in_process(
    fake_organization: FakeOrganization, seed_queues: SeedQueues
) -> None:
    """``gc_threshold=`` holds in the driver of a sharded crawl too (it unpickles every
    item), and the threshold is back as it was afterwards."""
    import gc

    from aiokit.testing import TEST_CREDENTIALS

    before = gc.get_threshold()
    seen = []
    async with aiokit.SessionPool(
        endpoint_url=fake_organization.endpoint_url,
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        role=fake_organization.role_name,
        gc_threshold=50_000,
    ) as pool:
        await seed_queues(pool, REGIONS[:1], _count)
        targets = [
            aiokit.Target.assume(a, "us-east-1", ROLE) for a in fake_organization.account_ids
        ]
        async with pool.crawl("sqs", "list_queues", targets, runner=aiokit.Processes(2)) as crawl:
            async for _ in crawl:
                seen.append(gc.get_threshold()[0])
    assert seen and set(seen) == {50_000}
    assert gc.get_threshold() == before


def _descendants() -> set[int]:
    """This process's descendants (the moto server among them) but multiprocessing's
    resource tracker (it lives on)."""
    import psutil

    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.Error:
            pass  # it ended meanwhile
    return found


async def test_the_fork_server_aiokit_starts_is_stopped_with_the_last_run(seeded: Seeded) -> None:
    from multiprocessing import forkserver

    pool, targets, counts = seeded
    before = _descendants()
    items, report = await pool.crawl(
        "sqs", "list_queues", targets[:6], runner=aiokit.Processes(2)
    ).collect()
    assert report.counts == {"ok": 6}
    assert len(items) == sum(counts[(t.account, t.region)] for t in targets[:6])
    assert _descendants() == before  # no worker, nor the fork server they were forked from
    assert forkserver._forkserver._forkserver_pid is None


async def test_an_applications_own_fork_server_is_used_and_left_running(seeded: Seeded) -> None:
    from multiprocessing import forkserver

    pool, targets, _ = seeded
    server = forkserver._forkserver
    before = _descendants()
    server.ensure_running()  # the application's, started before aiokit's first run
    pid = server._forkserver_pid
    try:
        _, report = await pool.crawl(
            "sqs", "list_queues", targets[:6], runner=aiokit.Processes(2)
        ).collect()
        assert report.counts == {"ok": 6}
        assert server._forkserver_pid == pid
        assert _descendants() == before | {pid}
    finally:
        server._stop()
    assert _descendants() == before
