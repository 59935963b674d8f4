"""``aiokit demo``: a real multi-account crawl against an embedded AWS emulator.

Starts moto on 127.0.0.1 (a free port), seeds an organization (accounts x regions holding
EC2 instances, DynamoDB tables, SQS queues and S3 buckets), and crawls it through the same
code as ``aiokit crawl`` into an SQLite inventory.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import anyio

import aiokit

from .._sinks import SqliteSink, _kind, output_format
from ._console import err
from ._crawl import CRAWL_GC_THRESHOLD, outcome_table, run_crawl
from ._runners import RunnerChoice

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"]
# (service, operation, regions, JMESPath per item): EC2's items are reservations; the
# inventory wants the instances in them.
CRAWLS = [
    ("ec2", "describe_instances", REGIONS, "Instances[]"),
    ("dynamodb", "list_tables", REGIONS, None),
    ("sqs", "list_queues", REGIONS, None),
    ("s3", "list_buckets", ["us-east-1"], None),  # buckets are listed account-wide
]
CREDENTIALS = aiokit.StaticKeys("demo", "demo-secret")


async def _seed(pool: aiokit.SessionPool, org: aiokit.testing.FakeOrganization) -> int:
    """Give every (account, region) a few resources; return how many were made."""
    made = 0
    limiter = anyio.CapacityLimiter(8)

    async def seed_cell(i: int, account: str, j: int, region: str) -> None:
        nonlocal made
        async with limiter:
            ec2 = await pool.client("ec2", region, account=account)
            n = (i + j) % 3 + 1
            await ec2.run_instances(
                ImageId="ami-12c6146b", MinCount=n, MaxCount=n, InstanceType="t3.micro"
            )
            ddb = await pool.client("dynamodb", region, account=account)
            await ddb.create_table(
                TableName=f"orders-{j}",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            sqs = await pool.client("sqs", region, account=account)
            for q in range(j % 2 + 1):
                await sqs.create_queue(QueueName=f"jobs-{q}")
            made += n + 1 + j % 2 + 1
            if j == 0:
                s3 = await pool.client("s3", "us-east-1", account=account)
                await s3.create_bucket(Bucket=f"logs-{account}")
                made += 1

    async with anyio.create_task_group() as tg:
        for i, account in enumerate(org.account_ids):
            for j, region in enumerate(REGIONS):
                tg.start_soon(seed_cell, i, account, j, region)
    return made


def _check_out(out_path: Path) -> None:
    if out_path.is_dir():
        raise aiokit.ConfigurationError(f"--out {str(out_path)!r} is a directory")
    if not out_path.parent.is_dir():
        raise aiokit.ConfigurationError(
            f"--out {str(out_path)!r}: directory {str(out_path.parent)!r} does not exist"
        )
    try:
        output_format(out_path, "sqlite")
    except aiokit.ConfigurationError:  # `--out demo.jsonl`: the demo writes SQLite only
        raise aiokit.ConfigurationError(
            f"--out {str(out_path)!r}: the demo writes an SQLite inventory; name it .db"
        ) from None
    # The demo starts its inventory over, deleting the file: only an earlier demo's (or
    # another aiokit inventory) may go, never a file that is something else.
    if out_path.exists() and out_path.stat().st_size > 0:
        try:
            uri = f"{out_path.resolve().as_uri()}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
                kind = _kind(db)
        except sqlite3.DatabaseError:
            kind = "foreign"
        if kind != "aiokit":
            raise aiokit.ConfigurationError(
                f"--out {str(out_path)!r} exists and is not an aiokit inventory; the demo "
                "replaces its --out: pass another path"
            )


async def run_demo(
    out_path: Path, *, keep_running: bool, n_accounts: int, runner: RunnerChoice | None = None
) -> None:
    """Start the emulator, seed it, crawl it into ``out_path``; see the module docstring.

    ``runner`` (``--workers N``) runs each crawl's targets in worker processes.
    SIGINT and SIGTERM cancel it through the command line's signal handling (exit 130 /
    143); the sink and the emulator are still closed, shielded."""
    from aiokit.testing import MotoServer, make_fake_organization

    started = time.perf_counter()
    # The inventory's place is checked before the emulator starts, not after the seeding.
    await anyio.to_thread.run_sync(_check_out, out_path)
    server = MotoServer()
    err.print("starting the AWS emulator (moto) on 127.0.0.1 ...")
    await anyio.to_thread.run_sync(server.start)
    try:
        endpoint = server.endpoint_url
        org = await anyio.to_thread.run_sync(make_fake_organization, endpoint, n_accounts)
        async with aiokit.SessionPool(
            endpoint_url=endpoint,
            region="us-east-1",
            credentials=CREDENTIALS,
            role=org.role_name,
            gc_threshold=CRAWL_GC_THRESHOLD,
        ) as pool:
            made = await _seed(pool, org)
            err.print(
                f"emulator at {endpoint}: organization of {len(org.account_ids)} member "
                f"accounts x {len(REGIONS)} regions, {made} resources"
            )
            await anyio.to_thread.run_sync(lambda: out_path.unlink(missing_ok=True))
            sink = SqliteSink(out_path)
            try:
                await sink.open()
                for service, operation, regions, query in CRAWLS:
                    targets = await pool.targets(
                        aiokit.Organization(role=org.role_name), regions, [service]
                    )
                    report = await run_crawl(
                        pool,
                        service,
                        operation,
                        {},
                        targets,
                        sink=sink,
                        query=query,
                        show_progress=err.is_terminal,
                        runner=runner,
                    )
                    err.print(outcome_table(report, f"{service} {operation}"))
            finally:
                with anyio.CancelScope(shield=True):  # also when SIGTERM cancelled the crawl
                    await sink.aclose()
        err.print(
            f"\ninventory written to {out_path} in {time.perf_counter() - started:.1f} s. "
            "Try:\n"
            f'  sqlite3 {out_path} "SELECT service, account, region, count(*) FROM items '
            'GROUP BY 1, 2, 3"\n'
            f'  sqlite3 {out_path} "SELECT status, count(*) FROM outcomes GROUP BY 1"'
        )
        if keep_running:
            err.print(
                f"\nthe emulator keeps running at {endpoint} (Ctrl-C stops it). Try:\n"
                f"  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=x aiokit crawl sqs list_queues "
                f"--accounts org --role {org.role_name} --regions {','.join(REGIONS)} "
                f"--endpoint-url {endpoint} --region us-east-1"
            )
            await anyio.sleep_forever()
    finally:
        # Shielded: on Ctrl-C or SIGTERM the command is cancelled, and the emulator must
        # still be stopped, not left listening.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(server.stop)
