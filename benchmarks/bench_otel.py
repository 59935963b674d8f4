"""CPU per request with aiokit.otel off, on with the API only, and on with the SDK.

Against one fake AWS endpoint (its own process, its CPU not counted), a pool client makes
small DynamoDB ``ListTables`` calls one after another; the figure is the client's CPU
(``time.process_time``) per request. Two processes, each measuring ``--pairs`` pairs of
``--burst`` calls on and ``--burst`` calls off, the two sides interleaved ten calls at a
time (on, off, on, ...: the state ``instrument()`` and ``uninstrument()`` set, switched
between steps), so that a shared machine whose speed drifts over seconds moves both sides
of a pair alike; each figure is the median of the paired ratios, with their quartiles:

- process 1, ``api`` against ``off``: the SDK is blocked from import (opentelemetry-api
  alone); the global providers are the API's no-op proxies;
- process 2, ``sdk`` against ``off``: ``instrument()`` with the SDK's ``TracerProvider`` (no
  span processor, so no exporter) and ``MeterProvider`` (an in-memory reader, never
  collected).

It also prints the hook's own CPU per call with the request itself stubbed out (``send``
returns at once), which a busy machine does not blur.

    python -m benchmarks.bench_otel [--pairs 30] [--burst 200]

Target (issue 19): ``api / off`` <= 1.02.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

import aiokit
from benchmarks.fake_aws import FakeAWS, FakeConfig

MODES = ("api", "sdk")
KEYS = aiokit.StaticKeys("AKIAFAKEMANAGEMENT00", "fake-secret")


def _providers(mode: str) -> dict[str, Any]:
    """``instrument()``'s keywords for ``mode`` (``api``: the global no-op proxies)."""
    if mode == "api":
        return {}
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    return {
        "tracer_provider": TracerProvider(),
        "meter_provider": MeterProvider(metric_readers=[InMemoryMetricReader()]),
    }


_STEP = 10  # calls per side of a step: on, off, off, on, ... within each pair


async def _pair(client: Any, tracing: Any, burst: int, first_on: bool) -> tuple[float, float]:
    """``burst`` calls on and ``burst`` off, interleaved ``_STEP`` calls at a time (so that a
    machine's drift moves both alike): (CPU per call on, CPU per call off)."""
    from aiokit import _observe

    cpu = {True: 0.0, False: 0.0}
    on = first_on
    for _ in range(2 * burst // _STEP):
        _observe.tracing = tracing if on else None  # what instrument() / uninstrument() set
        start = time.process_time()
        for _ in range(_STEP):
            await client.list_tables(Limit=5)
        cpu[on] += time.process_time() - start
        on = not on
    _observe.tracing = None
    return cpu[True] / burst, cpu[False] / burst


async def _pairs(endpoint: str, mode: str, pairs: int, burst: int) -> list[tuple[float, float]]:
    import aiokit.otel
    from aiokit import _observe

    aiokit.otel.instrument(**_providers(mode))
    tracing = _observe.tracing
    aiokit.otel.uninstrument()
    assert tracing is not None
    tracing.active = True  # type: ignore[attr-defined]  # its metrics observe, as when on
    async with aiokit.SessionPool(
        endpoint_url=endpoint, region="us-east-1", credentials=KEYS
    ) as pool:
        client = await pool.client("dynamodb")
        await _pair(client, tracing, burst, True)  # warm both paths: connection, caches
        return [await _pair(client, tracing, burst, i % 2 == 0) for i in range(pairs)]


async def _hook_cost(mode: str, n: int = 50_000) -> float:
    """CPU per call of the instrumented path alone, the request stubbed out (seconds)."""
    import aiokit.otel
    from aiokit import _observe
    from aiokit._where import Scope

    class Client:  # what the hook reads of a pool client
        class meta:
            endpoint_url = "https://dynamodb.us-east-1.amazonaws.com"

            class service_model:
                service_id = "DynamoDB"

    scope = Scope("123456789012", "us-east-1", "dynamodb")
    answer = {"ResponseMetadata": {"RequestId": "r", "HTTPStatusCode": 200}}

    async def send(operation: str, params: dict[str, Any]) -> Any:
        return answer

    aiokit.otel.instrument(**_providers(mode))
    tracing = _observe.tracing
    assert tracing is not None
    start = time.process_time()
    for _ in range(n):
        await send("ListTables", {})
    bare = time.process_time() - start
    start = time.process_time()
    for _ in range(n):
        await tracing.call(Client, scope, "ListTables", {}, send)
    hooked = time.process_time() - start
    aiokit.otel.uninstrument()
    return (hooked - bare) / n


def child(mode: str, endpoint: str, pairs: int, burst: int) -> None:
    """One process's pairs: prints them and the hook's cost as JSON."""
    if mode == "api":
        sys.modules["opentelemetry.sdk"] = None  # type: ignore[assignment]  # API only
    results = asyncio.run(_pairs(endpoint, mode, pairs, burst))
    hook = asyncio.run(_hook_cost(mode))
    sdk = any(
        name.startswith("opentelemetry.sdk.") and module for name, module in sys.modules.items()
    )
    print(json.dumps({"mode": mode, "pairs": results, "hook": hook, "sdk_imported": sdk}))


def _run(mode: str, endpoint: str, pairs: int, burst: int) -> dict[str, Any]:
    sizes = (str(pairs), str(burst))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_otel", "--child", mode, endpoint, *sizes],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_otel")
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--burst", type=int, default=200, help="calls per side of a pair")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, endpoint, pairs, burst = args.child
        child(mode, endpoint, int(pairs), int(burst))
        return 0
    config = FakeConfig(accounts=1, items={"tables": 20})
    with FakeAWS(config) as fake:
        runs = {mode: _run(mode, fake.endpoint_url, args.pairs, args.burst) for mode in MODES}
    print(
        f"bench_otel: python {platform.python_version()}, {platform.machine()}, "
        f"{args.pairs} pairs of {args.burst} dynamodb ListTables calls per mode"
    )
    print(f"{'mode':4} {'off us/req':>11} {'on us/req':>10} {'on/off':>7} {'quartiles':>12}"
          f" {'hook us/call':>13}")  # fmt: skip
    for mode, run in runs.items():
        if run["sdk_imported"] != (mode == "sdk"):
            raise SystemExit(f"bench_otel: the {mode} process imported the SDK: {run}")
        on = [p[0] for p in run["pairs"]]
        off = [p[1] for p in run["pairs"]]
        ratios = sorted(a / b for a, b in run["pairs"])
        q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
        print(
            f"{mode:4} {statistics.median(off) * 1e6:11.1f} {statistics.median(on) * 1e6:10.1f}"
            f" {statistics.median(ratios):7.3f} {q1:6.3f}-{q3:.3f} {run['hook'] * 1e6:13.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
