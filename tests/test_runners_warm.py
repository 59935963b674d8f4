"""``async with aiokit.Processes(n)``: warm worker processes kept across crawls, on moto."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import aiokit
from tests.test_runners import (
    REGIONS,
    Seeded,
    _crawl,
    _keys,
    _Unpicklable,
    count_queues,
    divide_by_zero,
    seeded,
)

if TYPE_CHECKING:
    from tests.conftest import OrgPool

pytestmark = pytest.mark.asyncio

__all__ = ["seeded"]  # the fixture, imported to be found here


def _pids() -> set[int]:
    return {p.pid or 0 for p in multiprocessing.active_children()}


async def test_warm_workers_run_every_crawl_and_give_the_same_items(seeded: Seeded) -> None:
    """Two crawls in one block: the same two processes run both, each crawl exact; the
    block's end stops them."""
    pool, targets, counts = seeded
    local, local_report, local_statuses = await _crawl(pool, targets, None)
    async with aiokit.Processes(2) as processes:
        assert repr(processes) == "aiokit.Processes(2)"
        started = _pids()
        assert len(started) == 2  # started on entering, before any crawl
        for _ in range(2):
            items, report, statuses = await _crawl(pool, targets, processes)
            assert sorted(_keys(items)) == sorted(_keys(local))
            assert len(set(_keys(items))) == len(items) == sum(counts.values())
            assert statuses == local_statuses
            assert report.counts == local_report.counts == {"ok": 18}
            assert _pids() == started  # the same processes, waiting for the next crawl
    assert not multiprocessing.active_children()


async def test_the_statistics_of_each_crawl_are_its_own(seeded: Seeded) -> None:
    pool, targets, _ = seeded
    async with aiokit.Processes(2) as processes:
        firsts = []
        for _ in range(2):
            async with pool.crawl("sqs", "list_queues", targets, runner=processes) as crawl:
                async for _ in crawl:
                    pass
            firsts.append(crawl.statistics())
    assert firsts[0].done == firsts[1].done == 18
    assert firsts[0].calls == firsts[1].calls  # not the first crawl's counted again


async def test_a_crawl_left_early_gives_fresh_workers_to_the_next(seeded: Seeded) -> None:
    pool, targets, counts = seeded
    async with aiokit.Processes(2) as processes:
        started = _pids()
        async with pool.crawl(
            "sqs", "list_queues", targets, concurrency=1, runner=processes
        ) as crawl:
            async for _ in crawl:
                break
        assert crawl.report.never_visited == 18 - crawl.report.targets
        items, report, _ = await _crawl(pool, targets, processes)
        assert len(set(_keys(items))) == len(items) == sum(counts.values())
        assert report.counts == {"ok": 18}
        assert len(_pids()) == 2 and _pids() != started  # the busy ones were replaced
    assert not multiprocessing.active_children()


async def test_a_warm_worker_killed_mid_crawl_loses_and_repeats_nothing(seeded: Seeded) -> None:
    pool, targets, counts = seeded
    async with aiokit.Processes(2) as processes:
        killed: list[int] = []
        items: list[aiokit.Item] = []
        async with pool.crawl(
            "sqs", "list_queues", targets, concurrency=1, runner=processes
        ) as crawl:
            async for item in crawl:
                items.append(item)
                if not killed:
                    for pid in _pids():
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
        assert killed
        assert len(set(_keys(items))) == len(items) == sum(counts.values())
        assert crawl.report.counts == {"ok": 18}
        again, report, _ = await _crawl(pool, targets, processes)  # new warm workers
        assert len(again) == len(items) and report.counts == {"ok": 18}
        assert not _pids() & set(killed)
    assert not multiprocessing.active_children()


async def test_two_crawls_at_once_both_exact(seeded: Seeded) -> None:
    """The second crawl finds the warm workers taken: it runs on workers of its own."""
    pool, targets, counts = seeded
    results: list[Any] = []
    async with aiokit.Processes(2) as processes:

        async def one() -> None:
            results.append(await _crawl(pool, targets, processes))

        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            tg.start_soon(one)
        assert len(_pids()) == 2  # the warm ones; the second crawl's stopped with it
    for items, report, _ in results:
        assert len(set(_keys(items))) == len(items) == sum(counts.values())
        assert report.counts == {"ok": 18}
    assert not multiprocessing.active_children()


async def test_cancelling_a_crawl_on_warm_workers_leaves_no_process(seeded: Seeded) -> None:
    pool, targets, _ = seeded
    with anyio.move_on_after(30) as scope:
        async with aiokit.Processes(2) as processes:
            async with pool.crawl(
                "sqs", "list_queues", targets, concurrency=1, runner=processes
            ) as crawl:
                async for _ in crawl:
                    scope.cancel()
    assert scope.cancelled_caught
    assert not multiprocessing.active_children()


async def test_cancelled_while_the_workers_start_leaves_no_process() -> None:
    with anyio.move_on_after(0.05):
        async with aiokit.Processes(2):
            pytest.fail("the workers cannot be ready this soon")  # pragma: no cover
    assert not multiprocessing.active_children()


async def test_entering_twice_is_a_usage_error_and_it_can_be_entered_again(
    seeded: Seeded,
) -> None:
    pool, targets, _ = seeded
    processes = aiokit.Processes(1)
    async with processes:
        with pytest.raises(aiokit.UsageError, match=r"Processes\(1\) is already entered"):
            async with processes:
                pass  # pragma: no cover
        assert len(_pids()) == 1
    assert not multiprocessing.active_children()
    async with processes:
        _, report, _ = await _crawl(pool, targets[:3], processes)
        assert report.counts == {"ok": 3}
    assert not multiprocessing.active_children()
    # Left, it is the plain runner again: a crawl starts and stops workers of its own.
    _, report, _ = await _crawl(pool, targets[:3], processes)
    assert report.counts == {"ok": 3}
    assert processes == aiokit.Processes(1)
    assert not multiprocessing.active_children()


async def test_what_a_worker_cannot_receive_or_raises_leaves_it_warm(org_pool: OrgPool) -> None:
    targets = [aiokit.Target(None, region) for region in REGIONS]
    async with org_pool() as pool, aiokit.Processes(1) as processes:
        started = _pids()
        with pytest.raises(aiokit.ConfigurationError, match="cannot be sent to a worker"):
            await pool.crawl(
                "sqs", "list_queues", targets, runner=processes, QueueNamePrefix=_Unpicklable("q")
            ).collect()
        with pytest.raises(ZeroDivisionError):
            await pool.fan_out(divide_by_zero, targets, runner=processes).collect()
        outcomes = await pool.fan_out(count_queues, targets, runner=processes).collect()
        assert [o.status.value for o in outcomes] == ["ok"] * 3
        assert _pids() == started
    assert not multiprocessing.active_children()


_WARM_SCRIPT = """
import sys, anyio, aiokit

async def main():
    async with aiokit.Processes(2):
        print("ready", flush=True)
        await anyio.sleep(60)  # Ctrl-C comes here, the warm workers idle

def run():
    try:
        anyio.run(main)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    except aiokit.AiokitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
"""


def _run_script(tmp_path: Any, guarded: bool) -> Any:
    import subprocess
    import sys

    script = tmp_path / "warm_script.py"
    main = 'if __name__ == "__main__":\n    run()\n' if guarded else "run()\n"
    script.write_text(_WARM_SCRIPT + main)
    return subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


def _children(pid: int) -> list[int]:
    """Its child processes, whichever of its threads started them."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return found


def test_warm_workers_of_a_script_without_the_main_guard_say_so_once(tmp_path: Any) -> None:
    with _run_script(tmp_path, guarded=False) as proc:
        try:
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 2, err
    assert "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("error: aiokit.Processes(2): worker process "), err
    assert 'if __name__ == "__main__":' in last


def test_ctrl_c_with_warm_workers_idle_stops_them_all_quietly(tmp_path: Any) -> None:
    with _run_script(tmp_path, guarded=True) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n"
            workers = _children(proc.pid)
            os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert proc.returncode == 130, err
    assert out == "interrupted\n" and "Traceback" not in err, err
    assert len(workers) >= 2  # the two workers (and multiprocessing's resource tracker)
    # Each ends as its parent did (the tracker once the driver's end of its pipe closed):
    # within moments, not for good.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_gone(pid) for pid in workers):
        time.sleep(0.05)
    assert [pid for pid in workers if not _gone(pid)] == []


def _gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}") or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True
