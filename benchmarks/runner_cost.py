"""One sharded crawl's cost, split by process: driver CPU, the workers' CPU, wall time.

A diagnostic beside ``bench_scaleout`` (which is the comparison): the scale crawl's shape
(``--accounts`` x 16 regions, one page of 5 instances per target) on the fake endpoint,
once, with ``--workers 0`` (in this process) or ``Processes(N)``. The workers' CPU is
``RUSAGE_CHILDREN`` read once they are joined (the fake server, also a child, is still
running then, so it is not in it).

The peak RSS figures are the driver's own and the largest of its reaped children (the
workers; the fake server is still running, so not among them).

Usage:
    python -m benchmarks.runner_cost --workers 0|1|2 [--accounts 500]
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Sequence

import anyio
from aiobotocore.config import AioConfig

import aiokit
from benchmarks.bench_scaleout import MANAGEMENT_KEY, ROLE_NAME, Size
from benchmarks.fake_aws import FakeAWS

REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1",
]  # fmt: skip


async def measure(workers: int, accounts: int) -> str:
    """The crawl, once: a line of figures."""
    async with FakeAWS(Size(accounts=accounts, regions=16).fake_config()) as fake:
        config = AioConfig(
            retries={"mode": "standard", "total_max_attempts": 10},
            connect_timeout=10.0,
            read_timeout=10.0,
            max_pool_connections=64,
        )
        ids = [str(100000000001 + i) for i in range(accounts)]
        targets = [aiokit.Target.assume(a, r, ROLE_NAME) for r in REGIONS for a in ids]
        async with aiokit.SessionPool(
            endpoint_url=fake.endpoint_url,
            region="us-east-1",
            credentials=aiokit.StaticKeys(*MANAGEMENT_KEY),
            config=config,
            concurrency=64,
            gc_threshold=50_000,
        ) as pool:
            cpu, wall = time.process_time(), time.perf_counter()
            items = 0
            runner = aiokit.Processes(workers) if workers else None
            async with pool.crawl(
                "ec2", "describe_instances", targets, key="Reservations", runner=runner
            ) as crawl:
                async for _ in crawl:
                    items += 1
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        f"workers={workers} items={items} wall={wall:.2f} driver_cpu={cpu:.2f} "
        f"workers_cpu={children.ru_utime + children.ru_stime:.2f} "
        f"driver_peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} "
        f"largest_worker_peak_rss_mb={children.ru_maxrss / 1024:.0f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--accounts", type=int, default=500)
    args = parser.parse_args(argv)
    if args.workers < 0 or args.accounts < 1:
        parser.error("--workers must be >= 0 and --accounts >= 1")
    print(anyio.run(measure, args.workers, args.accounts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
