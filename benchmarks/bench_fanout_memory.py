"""Peak memory of a fan-out over many targets: aiokit vs the bare asyncio patterns.

Each contender runs in a fresh child process and visits N targets (account x region) with
at most 64 at once; each visit waits 1 ms (a stand-in for the request, so only the
executor's own memory is measured) and returns five item ids, which the caller counts and
drops as a sink would:

- ``gather``: ``asyncio.gather`` of one coroutine per target under a semaphore (how the
  hand-written crawlers in ``crawl_contenders.py`` do it): every task exists from the start;
- ``workers``: 64 worker tasks pulling targets from one iterator (the lean hand-written
  pattern);
- ``aiokit``: ``pool.fan_out`` over an async iterator of ``Target``s.

Prints peak RSS growth over the process's RSS after imports, at 10,000 and 100,000
targets, growth per 1,000 more targets, and ``ratio: N`` (gather / aiokit growth at the
larger size).

    python -m benchmarks.bench_fanout_memory            # 10,000 and 100,000 targets
    python -m benchmarks.bench_fanout_memory --quick    # 2,000 and 20,000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

CONCURRENCY = 64
REGIONS = [f"region-{i}" for i in range(16)]


def _targets(n: int) -> Iterator[tuple[str, str]]:
    for i in range(n):
        yield f"{100000000000 + i // len(REGIONS):012d}", REGIONS[i % len(REGIONS)]


async def _visit(account: str, region: str) -> list[str]:
    await asyncio.sleep(0.001)
    return [f"{account}/{region}/i-{k}" for k in range(5)]


async def _gather(n: int) -> int:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(account: str, region: str) -> list[str]:
        async with semaphore:
            return await _visit(account, region)

    results = await asyncio.gather(*(one(a, r) for a, r in _targets(n)))
    return sum(len(items) for items in results)


async def _workers(n: int) -> int:
    source = _targets(n)
    count = 0

    async def worker() -> None:
        nonlocal count
        for account, region in source:  # one shared iterator: each target taken once
            items = await _visit(account, region)
            count += len(items)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count


async def _aiokit(n: int) -> int:
    import aiokit
    from aiokit._gc import DEFAULT_GC_THRESHOLD

    async def targets() -> AsyncIterator[aiokit.Target]:
        for account, region in _targets(n):
            yield aiokit.Target(account, region)

    async def visit(ctx: aiokit.Context) -> list[str]:
        return await _visit(ctx.target.account or "", ctx.target.region)

    count = 0
    # as `aiokit crawl` runs (the library's default leaves the collector alone)
    async with aiokit.SessionPool(region="us-east-1", gc_threshold=DEFAULT_GC_THRESHOLD) as pool:
        async with pool.fan_out(visit, targets(), concurrency=CONCURRENCY) as outcomes:
            async for outcome in outcomes:
                count += len(outcome.value or ())
    return count


CONTENDERS = {"gather": _gather, "workers": _workers, "aiokit": _aiokit}


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(contender: str, n: int) -> None:
    """Run one contender here; print its figures as JSON."""
    if contender == "aiokit":
        import aiokit  # noqa: F401  (imports are not what is measured)
    base = _rss_kb("VmRSS")
    start = time.perf_counter()
    items = asyncio.run(CONTENDERS[contender](n))
    elapsed = time.perf_counter() - start
    assert items == 5 * n, (contender, items)
    print(json.dumps({"growth_kb": _rss_kb("VmHWM") - base, "seconds": elapsed}))


def run(contender: str, n: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_fanout_memory", "--child", contender, str(n)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 20,000 targets")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    small, large = (2_000, 20_000) if args.quick else (10_000, 100_000)
    print(
        f"bench_fanout_memory: python {platform.python_version()}, {platform.machine()}, "
        f"concurrency {CONCURRENCY}"
    )
    print(
        f"{'contender':10} {'MB @' + format(small, ','):>14} {'MB @' + format(large, ','):>14} "
        f"{'KB per 1k more':>15} {'s @' + format(large, ','):>12}"
    )
    growth = {}
    for name in CONTENDERS:
        a, b = run(name, small), run(name, large)
        growth[name] = b["growth_kb"]
        per_k = (b["growth_kb"] - a["growth_kb"]) / ((large - small) / 1000)
        print(
            f"{name:10} {a['growth_kb'] / 1024:14.1f} {b['growth_kb'] / 1024:14.1f} "
            f"{per_k:15.1f} {b['seconds']:12.2f}"
        )
    print(f"ratio: {growth['gather'] / max(growth['aiokit'], 1):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
