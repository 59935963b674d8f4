"""``aiokit demo``: a real multi-account inventory against an embedded AWS emulator.

Starts moto on 127.0.0.1 (a free port), seeds an organization (accounts x regions holding
EC2 instances, DynamoDB tables, SQS queues and S3 buckets), and inventories it through the
same code as ``aiokit inventory`` into an inventory database. Then it changes a few
resources (creates a queue, deletes a table, tags an instance), runs a second inventory and
prints the diff of the two runs, as ``aiokit inventory diff`` does.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import anyio

import aiokit

from .. import inventory as inv
from .._sinks import _kind, output_format
from ._console import EXIT_FAILED, Failure, err
from ._crawl import CRAWL_GC_THRESHOLD
from ._inventory import print_diff
from ._inventory_run import InventoryState, open_store, run_inventory, summarise_inventory
from ._runners import RunnerChoice

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"]
# What the demo inventories: S3 buckets are global (listed once per account).
TYPES = ("ec2.instances", "dynamodb.tables", "sqs.queues", "s3.buckets")
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
    # The demo starts its inventory over, deleting the file: only an earlier demo's (an
    # inventory, or the crawl database earlier demos wrote) may go, never something else.
    if out_path.exists() and out_path.stat().st_size > 0:
        try:
            uri = f"{out_path.resolve().as_uri()}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
                kind = "aiokit" if _is_inventory(db) else _kind(db)
        except sqlite3.DatabaseError:
            kind = "foreign"
        if kind != "aiokit":
            raise aiokit.ConfigurationError(
                f"--out {str(out_path)!r} exists and is not an aiokit inventory; the demo "
                "replaces its --out: pass another path"
            )


def _is_inventory(db: sqlite3.Connection) -> bool:
    """Whether ``db`` is an aiokit inventory (raises ``DatabaseError`` if not SQLite)."""
    listed = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'aiokit_inventory'"
    ).fetchall()
    if not listed:
        return False
    found = db.execute("SELECT value FROM aiokit_inventory WHERE name = 'format'").fetchall()
    return found == [("aiokit-inventory",)]


async def _change(pool: aiokit.SessionPool, org: aiokit.testing.FakeOrganization) -> list[str]:
    """Between the two inventories: create a queue, delete a table, tag an instance."""
    first, second = org.account_ids[0], org.account_ids[-1]
    sqs = await pool.client("sqs", "us-east-1", account=first)
    await sqs.create_queue(QueueName="jobs-new")
    ddb = await pool.client("dynamodb", REGIONS[1], account=second)
    await ddb.delete_table(TableName="orders-1")  # the table seeded in the second region
    ec2 = await pool.client("ec2", "us-east-1", account=first)
    reservations = (await ec2.describe_instances())["Reservations"]
    instance = reservations[0]["Instances"][0]["InstanceId"]
    await ec2.create_tags(Resources=[instance], Tags=[{"Key": "owner", "Value": "demo"}])
    return [
        f"created SQS queue jobs-new in {first} us-east-1",
        f"deleted DynamoDB table orders-1 in {second} {REGIONS[1]}",
        f"tagged EC2 instance {instance} in {first} us-east-1 (owner=demo)",
    ]


async def _inventory(
    pool: aiokit.SessionPool,
    targets: list[aiokit.Target],
    out_path: Path,
    runner: aiokit.Processes | None = None,
) -> aiokit.Report:
    """One inventory run into ``out_path``, summed up as ``aiokit inventory`` does."""
    types = [inv.CATALOGUE[name] for name in TYPES]
    store = await open_store(str(out_path), inv.CATALOGUE, resume=False)
    state = InventoryState()
    try:
        report = await run_inventory(
            pool, types, targets, store, show_progress=err.is_terminal, state=state, runner=runner
        )
    finally:
        with anyio.CancelScope(shield=True):  # also when SIGTERM cancelled the crawl
            await store.aclose()
    summarise_inventory(report, state, types, str(out_path))
    return report


async def _two_inventories(
    pool: aiokit.SessionPool,
    org: aiokit.testing.FakeOrganization,
    out_path: Path,
    workers: int | None = None,
) -> bool:
    """Inventory, change, inventory again, print the diff; whether a unit failed. With
    ``workers``, both inventories run on the same warm worker processes."""
    services = sorted({inv.CATALOGUE[name].listing.service for name in TYPES})
    targets = await pool.targets(aiokit.Organization(role=org.role_name), REGIONS, services)
    runner = RunnerChoice(workers=workers).runner(targets)
    if isinstance(runner, aiokit.Processes):
        async with runner:
            return await _inventory_twice(pool, org, targets, out_path, runner)
    return await _inventory_twice(pool, org, targets, out_path, None)


async def _inventory_twice(
    pool: aiokit.SessionPool,
    org: aiokit.testing.FakeOrganization,
    targets: list[aiokit.Target],
    out_path: Path,
    runner: aiokit.Processes | None,
) -> bool:
    await anyio.to_thread.run_sync(lambda: out_path.unlink(missing_ok=True))
    err.print("\n[bold]inventory 1[/]")
    failed = bool((await _inventory(pool, targets, out_path, runner)).failed)
    err.print("\n[bold]changes[/]")
    for line in await _change(pool, org):
        err.print(f"  {line}", highlight=False)
    err.print("\n[bold]inventory 2[/]")
    failed |= bool((await _inventory(pool, targets, out_path, runner)).failed)
    err.print("\n[bold]diff[/] (aiokit inventory diff)")
    result = await anyio.to_thread.run_sync(inv.diff, out_path)
    print_diff(result, "table", console=err)
    return failed


def _try(out_path: Path, seconds: float) -> str:
    return (
        f"\ninventory written to {out_path} in {seconds:.1f} s. Try:\n"
        f"  aiokit inventory diff --db {out_path}\n"
        f'  sqlite3 {out_path} "SELECT account, region, count(*) FROM ec2_instances '
        'WHERE last_seen = 2 GROUP BY 1, 2"\n'
        f'  sqlite3 {out_path} "SELECT run_id, resource_type, status, count(*) FROM outcomes '
        'GROUP BY 1, 2, 3"'
    )


async def run_demo(
    out_path: Path, *, keep_running: bool, n_accounts: int, runner: RunnerChoice | None = None
) -> None:
    """Start the emulator, seed it, inventory it twice into ``out_path`` with changes in
    between, and print the diff; see the module docstring.

    ``runner`` (``--workers N``): both inventories run on the same warm worker processes
    (``async with aiokit.Processes(n)``), sharded by account. SIGINT and SIGTERM cancel
    it through the command line's signal handling (exit 130 / 143); the inventory and the
    emulator are still closed, shielded."""
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
            workers = None if runner is None else runner.workers
            failed = await _two_inventories(pool, org, out_path, workers)
        err.print(_try(out_path, time.perf_counter() - started))
        if keep_running:
            err.print(
                f"\nthe emulator keeps running at {endpoint} (Ctrl-C stops it). Try:\n"
                f"  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=x aiokit inventory "
                f"--accounts org --role {org.role_name} --regions {','.join(REGIONS)} "
                f"--resources sqs.queues,s3.buckets --endpoint-url {endpoint} "
                f"--region us-east-1 --out more.db"
            )
            await anyio.sleep_forever()
        if failed:
            raise Failure(EXIT_FAILED)
    finally:
        # Shielded: on Ctrl-C or SIGTERM the command is cancelled, and the emulator must
        # still be stopped, not left listening.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(server.stop)
