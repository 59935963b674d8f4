"""CPU and memory to obtain clients for many (account, region) pairs: aiokit vs aioboto3.

Each contender runs in a fresh child process (so CPU time and peak RSS are its own) and gets
an EC2 client for every (account, region) pair, keeping them all open as a crawl would:

- ``aioboto3``: a new ``aioboto3.Session`` per pair, with the account's keys;
- ``aiokit``: one ``SessionPool``, ``pool.client("ec2", region, identity=StaticKeys(...))``.

No request is sent: this measures client creation only. Prints CPU ms per pair, peak RSS,
RSS growth per account (aiokit, from two sizes), and ``ratio: N`` (CPU per pair, aioboto3 /
aiokit).

    python benchmarks/bench_clients.py            # aiokit 1,000 pairs, baseline 252
    python benchmarks/bench_clients.py --quick    # baseline 100 pairs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import subprocess
import sys
import time
from typing import Any

REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2"]
ENDPOINT = "http://127.0.0.1:9"  # never contacted: no request is sent


def _pairs(accounts: int) -> list[tuple[str, str]]:
    return [(f"{100000000000 + a}", r) for a in range(accounts) for r in REGIONS]


async def _aioboto3(accounts: int) -> None:
    import aioboto3

    contexts = []
    for account, region in _pairs(accounts):
        session = aioboto3.Session(
            aws_access_key_id=f"AKIA{account}", aws_secret_access_key="secret-" + account
        )
        ctx = session.client("ec2", region_name=region, endpoint_url=ENDPOINT)
        await ctx.__aenter__()
        contexts.append(ctx)
    for ctx in contexts:
        await ctx.__aexit__(None, None, None)


async def _aiokit(accounts: int) -> None:
    import aiokit

    async with aiokit.SessionPool(endpoint_url=ENDPOINT, region="us-east-1") as pool:
        held = []
        for account, region in _pairs(accounts):
            keys = aiokit.StaticKeys(f"AKIA{account}", "secret-" + account)
            held.append(await pool.client("ec2", region, identity=keys))
        assert pool.statistics().clients_created == len(REGIONS)


def child(contender: str, accounts: int) -> None:
    """Run one contender in this process and print its figures as JSON."""
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0 = time.process_time()
    asyncio.run(_aioboto3(accounts) if contender == "aioboto3" else _aiokit(accounts))
    cpu = time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"cpu": cpu, "peak_rss_kb": rss, "import_rss_kb": rss0}))


def run(contender: str, accounts: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", contender, "--accounts", str(accounts)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["pairs"] = accounts * len(REGIONS)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller baseline run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--accounts", type=int, default=250, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.accounts)
        return
    # A session per pair costs ~20 MB: 1,000 of them would not fit in this machine's 24 GB,
    # so the baseline runs fewer pairs; CPU per pair is what is compared.
    base_accounts = 25 if args.quick else 63
    print(f"bench_clients: python {platform.python_version()}, {platform.machine()}")
    baseline = run("aioboto3", base_accounts)
    small = run("aiokit", 250)
    large = run("aiokit", 500)
    rows = [("aioboto3 session per pair", baseline), ("aiokit SessionPool", small)]
    print(f"{'contender':28} {'pairs':>6} {'cpu s':>7} {'cpu ms/pair':>12} {'peak RSS MB':>12}")
    for name, r in rows:
        print(
            f"{name:28} {r['pairs']:6d} {r['cpu']:7.2f} {1000 * r['cpu'] / r['pairs']:12.3f} "
            f"{r['peak_rss_kb'] / 1024:12.1f}"
        )
    per_pair_base = baseline["cpu"] / baseline["pairs"]
    per_pair_kit = small["cpu"] / small["pairs"]
    growth = (large["peak_rss_kb"] - small["peak_rss_kb"]) / 1024 / 250
    kit_marginal = (large["cpu"] - small["cpu"]) / (large["pairs"] - small["pairs"])
    print(f"aiokit marginal cpu per pair (500 vs 250 accounts): {1000 * kit_marginal:.3f} ms")
    print(f"aiokit peak RSS growth per account: {growth:.3f} MB")
    print(f"ratio: {per_pair_base / per_pair_kit:.1f}")


if __name__ == "__main__":
    main()
