"""Explore a small emulated AWS organization from a script: crawl, DataFrame, plot.

The script twin of ``explore_demo.ipynb``, with the sync facade (``aiokit.sync``) where the
notebook uses ``await``. It starts an AWS emulator (moto) on 127.0.0.1, or uses the one at
``$AIOKIT_ENDPOINT_URL``; builds an organization whose member accounts hold SQS queues and
DynamoDB tables in three regions; crawls them into one DataFrame; and plots the items per
account and region into ``items_per_account_region.png``.

    pip install 'aiokit[notebook,test]'
    python docs/examples/explore_demo.py
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable

import matplotlib

matplotlib.use("Agg")  # draw into a file, no window

import matplotlib.pyplot as plt
import pandas as pd

import aiokit
import aiokit.sync
from aiokit.sync import progress_bar
from aiokit.testing import FakeOrganization, MotoServer, make_fake_organization

REGIONS = ["us-east-1", "eu-west-1", "ap-northeast-1"]
ACCOUNTS = 4
CRAWLS = [("sqs", "list_queues"), ("dynamodb", "list_tables")]
PLOT = "items_per_account_region.png"


def seeder(org: FakeOrganization) -> Callable[[aiokit.Context], Awaitable[int]]:
    """The fan-out function that gives one (account, region) its queues and tables."""

    async def seed(ctx: aiokit.Context) -> int:
        # Fan-out functions are async even with the sync facade: they run concurrently on
        # the pool's event loop. ctx's clients act in the target's account and region.
        i = org.account_ids.index(str(ctx.target.account))
        j = REGIONS.index(str(ctx.target.region))
        sqs = await ctx.client("sqs")
        queues = (i + j) % 3 + 1
        for q in range(queues):
            await sqs.create_queue(QueueName=f"jobs-{q}")
        ddb = await ctx.client("dynamodb")
        tables = i % 2 + 1
        for t in range(tables):
            await ddb.create_table(
                TableName=f"orders-{t}",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        return queues + tables

    return seed


def explore(endpoint: str) -> pd.DataFrame:
    """Seed an organization at ``endpoint`` and crawl it: one row per queue or table."""
    org = make_fake_organization(endpoint, accounts=ACCOUNTS)
    with aiokit.sync.SessionPool(
        endpoint_url=endpoint,
        region="us-east-1",
        credentials=aiokit.StaticKeys("demo", "demo-secret"),
        role=org.role_name,
    ) as pool:
        targets = pool.targets(aiokit.Organization(role=org.role_name), REGIONS)
        print(f"{len(targets)} targets: {len(org.account_ids)} accounts x {len(REGIONS)} regions")

        outcomes = pool.fan_out(seeder(org), targets, concurrency=8)
        print(f"seeded {sum(o.value or 0 for o in outcomes)} resources")

        frames = []
        for service, operation in CRAWLS:
            with progress_bar(len(targets), description=f"{service} {operation}") as bar:
                crawl = pool.crawl(service, operation, targets, progress=bar)
                frames.append(crawl.to_pandas().assign(service=service))
            print(f"{service} {operation}: {crawl.report}")

    names = {t.account: t.name for t in targets}
    inventory = pd.concat(frames, ignore_index=True).rename(columns={"value": "name"})
    inventory["account_name"] = inventory["account"].map(names)
    return inventory


def plot(inventory: pd.DataFrame, path: str) -> None:
    """A bar chart of items per account, one bar per region."""
    counts = inventory.groupby(["account_name", "region"]).size().unstack("region", fill_value=0)
    ax = counts.plot.bar(figsize=(9, 4), rot=0, title="Items per account and region")
    ax.set_xlabel("account")
    ax.set_ylabel("SQS queues + DynamoDB tables")
    ax.legend(title="region", loc="upper left", bbox_to_anchor=(1, 1))
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=100)
    plt.close(ax.figure)


def main() -> None:
    endpoint = os.environ.get("AIOKIT_ENDPOINT_URL")
    with contextlib.ExitStack() as stack:
        if endpoint is None:
            endpoint = stack.enter_context(MotoServer()).endpoint_url
        inventory = explore(endpoint)
    print(inventory.groupby(["service", "region"]).size().unstack("region").to_string())
    print(f"inventory: {len(inventory)} items")
    plot(inventory, PLOT)
    print(f"plot written to {PLOT}")


if __name__ == "__main__":
    main()
