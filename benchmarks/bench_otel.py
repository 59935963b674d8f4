"""CPU per request with aiokit.otel off, on with the API only, and on with the SDK.

Each mode runs in its own process (OpenTelemetry's global providers are set once per
process), against one fake AWS endpoint (its own process, its CPU not counted): a pool
client makes ``--requests`` small DynamoDB ``ListTables`` calls one after another, after a
warm-up, and the figure is the client's CPU (``time.process_time``) per request. Rounds
alternate the modes (rotating their order); the ratios are the medians of each round's
paired ratios to ``off``, with their range.

- ``off``: ``aiokit.otel`` never instrumented (one module-global check per call);
- ``api``: ``aiokit.otel.instrument()`` with opentelemetry-api alone: the SDK is blocked
  from import, so the global providers are the API's no-op proxies;
- ``sdk``: the SDK's ``TracerProvider`` (no span processor, so no exporter) and
  ``MeterProvider`` (an in-memory reader, never collected) as the global providers.

    python -m benchmarks.bench_otel [--rounds 7] [--requests 2000]

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

import aiokit
from benchmarks.fake_aws import FakeAWS, FakeConfig

MODES = ("off", "api", "sdk")
KEYS = aiokit.StaticKeys("AKIAFAKEMANAGEMENT00", "fake-secret")


def _setup(mode: str) -> None:
    if mode == "off":
        return
    if mode == "api":
        sys.modules["opentelemetry.sdk"] = None  # type: ignore[assignment]  # API only
    else:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(TracerProvider())
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    import aiokit.otel

    aiokit.otel.instrument()


async def _requests(endpoint: str, n: int) -> float:
    async with aiokit.SessionPool(
        endpoint_url=endpoint, region="us-east-1", credentials=KEYS
    ) as pool:
        client = await pool.client("dynamodb")
        for _ in range(max(50, n // 10)):  # warm: connection, models, caches
            await client.list_tables(Limit=5)
        start = time.process_time()
        for _ in range(n):
            await client.list_tables(Limit=5)
        return (time.process_time() - start) / n


def child(mode: str, endpoint: str, n: int) -> None:
    """One mode's run, in this process: prints its CPU seconds per request as JSON."""
    _setup(mode)
    print(json.dumps({"mode": mode, "cpu": asyncio.run(_requests(endpoint, n))}))


def _run(mode: str, endpoint: str, n: int) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_otel", "--child", mode, endpoint, str(n)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["cpu"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_otel")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, endpoint, n = args.child
        child(mode, endpoint, int(n))
        return 0
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    config = FakeConfig(accounts=1, items={"tables": 20})
    with FakeAWS(config) as fake:
        for r in range(args.rounds):
            order = MODES[r % 3 :] + MODES[: r % 3]
            for mode in order:
                cpu[mode].append(_run(mode, fake.endpoint_url, args.requests))
    print(
        f"bench_otel: python {platform.python_version()}, {platform.machine()}, "
        f"{args.requests} dynamodb ListTables calls per run, {args.rounds} rounds"
    )
    print(f"{'mode':6} {'cpu us/request (median)':>24} {'min':>8} {'max':>8}")
    for mode in MODES:
        values = [v * 1e6 for v in cpu[mode]]
        print(f"{mode:6} {statistics.median(values):24.1f} {min(values):8.1f} {max(values):8.1f}")
    for mode in ("api", "sdk"):
        ratios = [a / b for a, b in zip(cpu[mode], cpu["off"], strict=True)]
        print(
            f"ratio {mode}/off: {statistics.median(ratios):.3f} "
            f"(range {min(ratios):.3f}-{max(ratios):.3f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
