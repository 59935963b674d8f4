"""What one more (region, service) client costs: aiokit against aiobotocore.

(``bench_clients.py`` measures the other axis: a client per (account, region) pair.)

A crawl over R regions makes a client per (region, service): 16 EC2 clients for the
1,000 x 16 scale scenario, ~370 for an inventory of 22 services over 17 regions. Side by
side in one run, for one service over N regions (no request: creation only):

- ``aiobotocore``: ``get_session().create_client(service, region_name=r)``, entered, one
  session for all (what a hand-written crawl does);
- ``aiokit``: ``pool.client(service, r)`` on one open ``SessionPool`` (a shared client per
  region and the bound client callers get).

Printed per client: memory kept (``tracemalloc``, in a run of its own) and CPU (process
time, in a run without tracemalloc, after one client of the service warmed the model
cache in both), and the ratios aiobotocore / aiokit.

Usage:
    python -m benchmarks.bench_region_clients [--service ec2] [--regions 16] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

REGIONS = (
    "us-east-1 us-east-2 us-west-1 us-west-2 eu-west-1 eu-west-2 eu-west-3 eu-central-1 "
    "eu-north-1 ap-south-1 ap-northeast-1 ap-northeast-2 ap-southeast-1 ap-southeast-2 "
    "ca-central-1 sa-east-1 ap-northeast-3"
).split()
KEYS = {"aws_access_key_id": "AKIAFAKE000000000000", "aws_secret_access_key": "fake-secret"}


async def _aiobotocore(service: str, regions: list[str], measure: Callable[..., Any]) -> Any:
    from aiobotocore.session import get_session

    session = get_session()
    clients = [await session.create_client(service, region_name="us-east-1", **KEYS).__aenter__()]

    async def make() -> None:
        for region in regions:
            clients.append(
                await session.create_client(service, region_name=region, **KEYS).__aenter__()
            )

    try:
        return await measure(make)
    finally:
        for client in clients:
            await client.close()


async def _aiokit(service: str, regions: list[str], measure: Callable[..., Any]) -> Any:
    import aiokit

    async with aiokit.SessionPool(
        region="us-east-1",
        credentials=aiokit.StaticKeys(KEYS["aws_access_key_id"], KEYS["aws_secret_access_key"]),
    ) as pool:
        await pool.client(service, "us-east-1")

        async def make() -> None:
            for region in regions:
                await pool.client(service, region)

        return await measure(make)


async def _memory(make: Callable[[], Awaitable[None]]) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    await make()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return kept


async def _cpu(make: Callable[[], Awaitable[None]]) -> float:
    start = time.process_time()
    await make()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--service", default="ec2")
    parser.add_argument("--regions", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="4 regions")
    args = parser.parse_args(argv)
    if args.quick:
        args.regions = 4
    from botocore.session import get_session

    if args.service not in get_session().get_available_services():
        parser.error(f"--service {args.service!r}: not a botocore service name")
    regions = REGIONS[1 : 1 + max(1, min(args.regions, len(REGIONS) - 1))]
    n = len(regions)
    rows = {}
    for name, run in (("aiobotocore", _aiobotocore), ("aiokit", _aiokit)):
        kept = asyncio.run(run(args.service, regions, _memory))
        cpu = asyncio.run(run(args.service, regions, _cpu))
        rows[name] = (kept / n / 2**20, cpu / n * 1000)
    print(f"bench_region_clients: {args.service}, {n} more regions after the first (creation only)")
    print(f"{'contender':<12} {'MB per client':>13} {'CPU ms per client':>17}")
    for name, (mb, ms) in rows.items():
        print(f"{name:<12} {mb:>13.2f} {ms:>17.1f}")
    (mb_a, ms_a), (mb_k, ms_k) = rows["aiobotocore"], rows["aiokit"]
    print(f"ratio (aiobotocore / aiokit): memory {mb_a / mb_k:.2f}, CPU {ms_a / ms_k:.2f}")


if __name__ == "__main__":
    main()
