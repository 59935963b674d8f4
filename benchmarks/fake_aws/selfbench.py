"""How many requests per second the fake endpoint sustains: ``python -m
benchmarks.fake_aws.selfbench [--requests N] [--concurrency N]``.

A bounded loop (a fixed number of requests, then it stops) of pre-signed-looking
DescribeInstances calls over keep-alive connections from a bare aiohttp client, so the
client costs as little as possible.  The client shares the machine's cores with the
server, so the figure is a floor for what the server alone could do.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

import aiohttp

from .controller import FakeAWS
from .model import FakeConfig

_AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIAFAKEBENCH0000000/20240101/us-east-1/ec2/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0"
)
_BODY = b"Action=DescribeInstances&Version=2016-11-15"


async def _run(url: str, requests: int, concurrency: int) -> float:
    remaining = requests
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.post(
                    url,
                    data=_BODY,
                    headers={
                        "Authorization": _AUTH,
                        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                    },
                ) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"unexpected status {response.status}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--instances", type=int, default=10, help="instances per page")
    args = parser.parse_args()
    config = FakeConfig(accounts=1, items={"instances": args.instances})
    with FakeAWS(config) as fake:
        before = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = asyncio.run(_run(fake.endpoint_url, args.requests, args.concurrency))
        after = resource.getrusage(resource.RUSAGE_SELF)
        stats = fake.stats()
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        f"fake AWS: {stats['requests']} DescribeInstances ({args.instances} instances each) "
        f"in {elapsed:.2f} s = {stats['requests'] / elapsed:,.0f} requests/s "
        f"(concurrency {args.concurrency}, client CPU {client_cpu:.2f} s, "
        f"server CPU {stats['cpu_seconds']:.2f} s = "
        f"{stats['cpu_seconds'] / stats['requests'] * 1e6:.0f} us/request, "
        f"max in flight {stats['max_in_flight']})"
    )


if __name__ == "__main__":
    main()
