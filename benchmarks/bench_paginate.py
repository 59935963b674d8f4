"""CPU per page: aiokit's paginator vs the bare aiobotocore paginator, side by side.

Both page through the same 10,000 DynamoDB table names (100 per page) on the project's fake
AWS endpoint, alternating, several rounds; the figure is client CPU (``time.process_time``)
per page, median of the rounds. The server runs in its own process, so its CPU is not
counted. Prints ``ratio: N`` = aiokit / bare (target <= 1.10).

    python -m benchmarks.bench_paginate [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

import aiokit
from benchmarks.fake_aws import FakeAWS, FakeConfig

ITEMS = 10_000
PAGE = 100
KEYS = {"aws_access_key_id": "AKIAFAKEMANAGEMENT00", "aws_secret_access_key": "fake-secret"}
CONFIG = {"retries": {"mode": "standard", "total_max_attempts": 3}}


async def bare(endpoint: str) -> tuple[int, float]:
    session = get_session()
    async with session.create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint, config=AioConfig(**CONFIG),
        **KEYS,
    ) as client:  # fmt: skip
        await client.list_tables(Limit=1)  # warm: connection, models
        start = time.process_time()
        pages = names = 0
        async for page in client.get_paginator("list_tables").paginate(
            PaginationConfig={"PageSize": PAGE}
        ):
            pages += 1
            names += len(page["TableNames"])
        cpu = time.process_time() - start
    assert names == ITEMS, names
    return pages, cpu


async def kit(endpoint: str) -> tuple[int, float]:
    async with aiokit.SessionPool(
        endpoint_url=endpoint,
        region="us-east-1",
        credentials=aiokit.StaticKeys(KEYS["aws_access_key_id"], KEYS["aws_secret_access_key"]),
        config=AioConfig(**CONFIG),
    ) as pool:
        await (await pool.client("dynamodb")).list_tables(Limit=1)  # warm, as for bare
        start = time.process_time()
        pager = pool.paginate("dynamodb", "list_tables", PaginationConfig={"PageSize": PAGE})
        names = len([name async for name in pager.items()])
        cpu = time.process_time() - start
    assert names == ITEMS, names
    return pager.pages, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    config = FakeConfig(accounts=1, items={"tables": ITEMS}, page_size={"ListTables": PAGE})
    per_page: dict[str, list[float]] = {"aiobotocore": [], "aiokit": []}
    with FakeAWS(config) as fake:
        for _ in range(rounds):
            for name, run in (("aiobotocore", bare), ("aiokit", kit)):
                pages, cpu = asyncio.run(run(fake.endpoint_url))
                per_page[name].append(cpu / pages)
    print(f"bench_paginate: python {platform.python_version()}, {platform.machine()}, "
          f"{ITEMS} items in pages of {PAGE}, {rounds} rounds")  # fmt: skip
    print(f"{'contender':12} {'cpu ms/page (median)':>22} {'min':>8} {'max':>8}")
    for name, values in per_page.items():
        print(
            f"{name:12} {1000 * statistics.median(values):22.3f} "
            f"{1000 * min(values):8.3f} {1000 * max(values):8.3f}"
        )
    ratio = statistics.median(per_page["aiokit"]) / statistics.median(per_page["aiobotocore"])
    print(f"ratio: {ratio:.3f}")


if __name__ == "__main__":
    main()
