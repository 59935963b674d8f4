"""What a client's requests make the fake server do: aiokit against aiobotocore.

The crawl benchmarks showed the fake server spending more CPU per request when aiokit was
the client (issue 18's anomaly). This runs the same requests from each client against one
fake (its own process), side by side, and prints per request: the server's CPU, and, when
``strace`` is on the machine, the server's system calls (``strace -c -f`` attached for the
phase): reads, writes and ``epoll_wait`` (its event loop's wakeups), plus the connections
it served and the header bytes it parsed. Extra packets, extra connections or odd framing
would show as more reads, writes or connections per request: what a real endpoint would
pay for too.

Both clients: one EC2 client, one identity, ``DescribeInstances`` ``--requests`` times with
``--concurrency`` in flight, the same ``Config(user_agent=..., max_pool_connections=...)``;
aiokit's shared limiter is given a quota far above the rate so it never paces (its
default for EC2 Describe* is the documented 20/s, which would spread the requests out).

Usage:
    python -m benchmarks.server_cost [--requests 2000] [--concurrency 32] [--latency-ms 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

KEYS = ("AKIAFAKEMANAGEMENT00", "fake-management-secret")
SYSCALLS = ("epoll_wait", "recvfrom", "sendto", "accept4")


async def _drive(call: Callable[[], Awaitable[Any]], requests: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one() for _ in range(requests)))


def _server_pid() -> int | None:
    import psutil

    for child in psutil.Process().children(recursive=True):
        if "fake_aws" in " ".join(child.cmdline()):
            return int(child.pid)
    return None


def _strace_counts(path: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[-1] in SYSCALLS and parts[3].isdigit():
                counts[parts[-1]] = int(parts[3])
    return counts


async def _phase(fake: Any, call: Callable[[], Awaitable[Any]], args: Any) -> dict[str, Any]:
    pid = _server_pid()
    trace = out = None
    if pid is not None and shutil.which("strace"):
        with tempfile.NamedTemporaryFile(suffix=".strace", delete=False) as f:
            out = f.name
        command = ["strace", "-c", "-f", "-p", str(pid), "-o", out]
        trace = await asyncio.create_subprocess_exec(*command, stderr=subprocess.DEVNULL)
        await asyncio.sleep(0.5)  # attached before the first request
    fake.reset()
    start = time.perf_counter()
    await _drive(call, args.requests, args.concurrency)
    wall = time.perf_counter() - start
    stats = fake.stats()
    counts: dict[str, int] = {}
    if trace is not None and out is not None:
        trace.send_signal(signal.SIGINT)
        await trace.wait()
        counts = _strace_counts(out)
        os.unlink(out)
    n = stats["requests"]
    return {
        "wall": wall,
        "server_us": stats["cpu_seconds"] / n * 1e6,
        "connections": stats.get("connections", 0),
        "header_bytes": stats.get("header_bytes", 0) / n,
        **{name: counts.get(name, 0) / n for name in SYSCALLS if counts},
    }


async def _run(args: Any) -> dict[str, dict[str, Any]]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    import aiokit
    from benchmarks.fake_aws import FakeAWS, FakeConfig

    config = FakeConfig(
        accounts=1,
        latency_ms=args.latency_ms,
        items={"instances": 5, "tables": 0, "functions": 0, "buckets": 0},
    )
    client_config = AioConfig(user_agent="server-cost", max_pool_connections=args.concurrency)
    results: dict[str, dict[str, Any]] = {}
    with FakeAWS(config) as fake:
        async with aiokit.SessionPool(
            endpoint_url=fake.endpoint_url,
            region="us-east-1",
            config=client_config,
            credentials=aiokit.StaticKeys(*KEYS),
            quotas={("ec2", "describe"): (1e6, 1e6)},  # never paced: see the docstring
        ) as pool:
            ec2 = await pool.client("ec2")
            await ec2.describe_instances()  # warm: models, connection
            results["aiokit"] = await _phase(fake, ec2.describe_instances, args)
        async with get_session().create_client(
            "ec2",
            region_name="us-east-1",
            endpoint_url=fake.endpoint_url,
            config=client_config,
            aws_access_key_id=KEYS[0],
            aws_secret_access_key=KEYS[1],
        ) as raw:
            await raw.describe_instances()
            results["aiobotocore"] = await _phase(fake, raw.describe_instances, args)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.latency_ms < 0:
        parser.error("--requests and --concurrency must be >= 1, --latency-ms >= 0")
    results = asyncio.run(_run(args))
    print(
        f"server_cost: {args.requests} DescribeInstances, concurrency {args.concurrency}, "
        f"{args.latency_ms:g} ms latency; per request unless said"
    )
    columns = ["wall s", "server us", "connections", "header bytes", *SYSCALLS]
    print(f"{'client':<12}" + "".join(f"{c:>13}" for c in columns))
    for name, r in results.items():
        values = [r["wall"], r["server_us"], r["connections"], r["header_bytes"]]
        values += [r.get(s, float("nan")) for s in SYSCALLS]
        print(f"{name:<12}" + "".join(f"{v:>13.2f}" for v in values))
    a, b = results["aiokit"], results["aiobotocore"]
    ratio = a["server_us"] / b["server_us"]
    print(f"ratio (aiokit / aiobotocore): server CPU per request {ratio:.2f}")


if __name__ == "__main__":
    main()
