"""InventoryStore on moto: typed tables, snapshots, diff, resume and hostile files."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aiokit import ConfigurationError, Target
from aiokit.inventory import CATALOGUE, InventoryRun, InventoryStore, diff, load_spec, to_pandas
from tests.conftest import inventory_events

pytestmark = pytest.mark.asyncio

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
REGIONAL = (
    "sqs.queues",
    "sns.topics",
    "dynamodb.tables",
    "logs.log_groups",
    "ssm.parameters",
    "secretsmanager.secrets",
    "ecr.repositories",
    "kms.keys",
    "cloudwatch.alarms",
    "events.rules",
)
GLOBAL = ("iam.users", "iam.groups", "s3.buckets")


def count(i: int, j: int) -> int:
    return (i + j) % 2 + 1


async def seed_cell(pool: Any, account: str, region: str, n: int) -> None:
    c = lambda s: pool.client(s, region, account=account)  # noqa: E731
    sqs, sns, ddb, logs = await c("sqs"), await c("sns"), await c("dynamodb"), await c("logs")
    ssm, sm, ecr, kms = await c("ssm"), await c("secretsmanager"), await c("ecr"), await c("kms")
    cw, ev = await c("cloudwatch"), await c("events")
    for q in range(n):
        await sqs.create_queue(QueueName=f"q{q}")
        await sns.create_topic(Name=f"t{q}")
        await ddb.create_table(
            TableName=f"tb{q}",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        await logs.create_log_group(logGroupName=f"/g{q}")
        await ssm.put_parameter(Name=f"p{q}", Value="v", Type="String")
        await sm.create_secret(Name=f"s{q}", SecretString="x")
        await ecr.create_repository(repositoryName=f"r{q}")
        await kms.create_key()
        await cw.put_metric_alarm(
            AlarmName=f"a{q}",
            MetricName="m",
            Namespace="n",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.5,
            ComparisonOperator="GreaterThanThreshold",
        )
        await ev.put_rule(Name=f"e{q}", ScheduleExpression="rate(5 minutes)")


async def seed(pool: Any, accounts: list[str]) -> dict[tuple[str, str, str], int]:
    """Seed every account and region; returns the expected rows per (type, account, region)."""
    expected: dict[tuple[str, str, str], int] = {}
    for i, account in enumerate(accounts):
        for j, region in enumerate(REGIONS):
            await seed_cell(pool, account, region, count(i, j))
            for name in REGIONAL:
                expected[(name, account, region)] = count(i, j)
            s3 = await pool.client("s3", region, account=account)
            config = (
                {}
                if region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            )
            await s3.create_bucket(Bucket=f"b-{account}-{region}", **config)
        iam = await pool.client("iam", account=account)
        for u in range(i % 3 + 1):
            await iam.create_user(UserName=f"u{u}")
        await iam.create_group(GroupName="g")
        expected[("iam.users", account, "global")] = i % 3 + 1
        expected[("iam.groups", account, "global")] = 1
        expected[("s3.buckets", account, "global")] = len(REGIONS)
    return expected


def targets(accounts: list[str]) -> list[Target]:
    return [Target(a, r) for a in accounts for r in REGIONS] + [Target(a, None) for a in accounts]


async def run_inventory(
    pool: Any, path: Path, accounts: list[str], names: tuple[str, ...], **kw: Any
) -> int:
    ts = targets(accounts)
    async with InventoryStore(path) as store:
        await store.begin(InventoryRun(names, tuple((t.account, t.region) for t in ts)))
        async for event in inventory_events(pool, [CATALOGUE[n] for n in names], ts, **kw):
            await store.write(event)
        await store.finish()
        assert store.run is not None and store.run.run_id is not None
        return store.run.run_id


def cells(db: sqlite3.Connection, run: int) -> dict[tuple[str, str, str], int]:
    rows = db.execute(
        "SELECT resource_type, account, region, count(*) FROM seen WHERE run_id = ? "
        "GROUP BY 1, 2, 3",
        (run,),
    )
    return {(t, a, r): n for t, a, r, n in rows}


def table_cells(db: sqlite3.Connection, table: str) -> dict[tuple[str, str], int]:
    rows = db.execute(f"SELECT account, region, count(*) FROM {table} GROUP BY 1, 2")
    return {(a, r): n for a, r, n in rows}


async def test_organization_inventory_tables_snapshots_and_diff(
    org_pool: Any, fake_organization: Any, tmp_path: Path
) -> None:
    accounts = fake_organization.account_ids
    names = REGIONAL + GLOBAL
    path = tmp_path / "inventory.db"
    async with org_pool() as pool:
        expected = await seed(pool, accounts)
        run1 = await run_inventory(pool, path, accounts, names)

        db = sqlite3.connect(path)
        assert cells(db, run1) == expected
        for name in names:
            table = name.replace(".", "_")
            want = {(a, r): n for (t, a, r), n in expected.items() if t == name}
            assert table_cells(db, table) == want, name
        assert len(expected) == len(REGIONAL) * 18 + len(GLOBAL) * 6
        # global types are stored once per account, with region "global"
        assert {r for (r,) in db.execute("SELECT DISTINCT region FROM s3_buckets")} == {"global"}
        # typed columns
        version, modified, kind_v, kind_m = db.execute(
            "SELECT Version, LastModifiedDate, typeof(Version), typeof(LastModifiedDate) "
            "FROM ssm_parameters LIMIT 1"
        ).fetchone()
        assert (version, kind_v, kind_m) == (1, "integer", "text")
        assert datetime.datetime.fromisoformat(modified).tzinfo is not None
        assert db.execute(
            "SELECT DISTINCT typeof(Threshold), Threshold FROM cloudwatch_alarms"
        ).fetchall() == [("real", 1.5)]
        nested = db.execute(
            "SELECT json_extract(imageScanningConfiguration, '$.scanOnPush'), "
            "typeof(imageScanningConfiguration) FROM ecr_repositories LIMIT 1"
        ).fetchone()
        assert nested == (0, "text")
        columns_before = [
            c for (c,) in db.execute("SELECT name FROM pragma_table_info('ssm_parameters')")
        ]
        assert "Description" not in columns_before
        assert db.execute(
            "SELECT count(*) FROM ssm_parameters WHERE first_seen = ? AND last_seen = ?",
            (run1, run1),
        ).fetchone()[0] == sum(v for (t, _, _), v in expected.items() if t == "ssm.parameters")
        db.close()

        a0, a1, a2 = accounts[:3]
        sqs = await pool.client("sqs", "us-east-1", account=a0)
        await sqs.create_queue(QueueName="new")
        sns = await pool.client("sns", "eu-west-1", account=a1)
        topic = (await sns.list_topics())["Topics"][0]["TopicArn"]
        await sns.delete_topic(TopicArn=topic)
        ssm = await pool.client("ssm", "us-east-1", account=a0)
        await ssm.put_parameter(
            Name="p0", Value="w", Type="String", Overwrite=True, Description="d"
        )
        iam = await pool.client("iam", account=a2)
        await iam.delete_user(UserName="u0")
        # a unit that fails in run 2 after a deletion there: its resources are unknown
        ddb = await pool.client("dynamodb", "ap-southeast-2", account=a2)
        await ddb.delete_table(TableName="tb0")
        failing = (a2, "ap-southeast-2", "dynamodb.tables")
        run2 = await run_inventory(pool, path, accounts, names, fail={failing})
        queue_url = (await sqs.get_queue_url(QueueName="new"))["QueueUrl"]

    result = diff(path)
    assert (result.run_a, result.run_b) == (run1, run2)
    assert [(c.resource_type, c.account, c.region, c.key) for c in result.added] == [
        ("sqs.queues", a0, "us-east-1", queue_url)
    ]
    assert [(c.resource_type, c.account, c.region, c.key) for c in result.removed] == sorted(
        [
            ("sns.topics", a1, "eu-west-1", topic),
            ("iam.users", a2, "global", f"arn:aws:iam::{a2}:user/u0"),
        ]
    )
    [changed] = result.changed
    assert (changed.resource_type, changed.account, changed.region, changed.key) == (
        "ssm.parameters",
        a0,
        "us-east-1",
        "p0",
    )
    fields = {f.name: (f.old, f.new) for f in changed.fields}
    assert set(fields) == {"Description", "LastModifiedDate", "Version"}
    assert fields["Version"] == (1, 2) and fields["Description"] == (None, "d")
    n_unknown = count(2, 2)
    assert [(c.resource_type, c.account, c.region) for c in result.unknown] == [
        ("dynamodb.tables", a2, "ap-southeast-2")
    ] * n_unknown
    assert not [c for c in result.removed if c.resource_type == "dynamodb.tables"]

    db = sqlite3.connect(path)
    columns_after = [
        c for (c,) in db.execute("SELECT name FROM pragma_table_info('ssm_parameters')")
    ]
    assert columns_after == [*columns_before, "Description"]  # added, nothing renamed
    assert db.execute(
        "SELECT status, reason FROM outcomes WHERE run_id = ? AND account = ? AND region = ? AND resource_type = ?",
        (run2, *failing),
    ).fetchone() == ("failed", "timeout")
    # snapshots: last_seen is the run that saw a version; the new version of p0 is first seen in run 1
    assert db.execute(
        "SELECT first_seen, last_seen, Version FROM ssm_parameters WHERE account = ? AND region = 'us-east-1' AND key = 'p0' ORDER BY last_seen",
        (a0,),
    ).fetchall() == [(run1, run1, 1), (run1, run2, 2)]
    db.close()
    frames = to_pandas(path)
    assert (
        len(frames["sqs.queues"])
        == sum(v for (t, _, _), v in expected.items() if t == "sqs.queues") + 1
    )
    assert set(frames) == set(names)
