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
        "SELECT status, reason FROM outcomes WHERE run_id = ? AND account = ? AND region = ? "
        "AND resource_type = ?",
        (run2, *failing),
    ).fetchone() == ("failed", "timeout")
    # Snapshots: last_seen is the last run that saw a version; first_seen is the
    # resource's first run, for its new version too.
    assert db.execute(
        "SELECT first_seen, last_seen, Version FROM ssm_parameters WHERE account = ? "
        "AND region = 'us-east-1' AND key = 'p0' ORDER BY last_seen",
        (a0,),
    ).fetchall() == [(run1, run1, 1), (run1, run2, 2)]
    db.close()
    frames = to_pandas(path)
    assert (
        len(frames["sqs.queues"])
        == sum(v for (t, _, _), v in expected.items() if t == "sqs.queues") + 1
    )
    assert set(frames) == set(names)


SMALL = ("sqs.queues", "sns.topics", "iam.users")


async def seed_small(pool: Any) -> dict[tuple[str, str, str], int]:
    expected = {}
    for j, region in enumerate(REGIONS):
        sqs, sns = await pool.client("sqs", region), await pool.client("sns", region)
        for q in range(j + 2):
            await sqs.create_queue(QueueName=f"q{q}")
            await sns.create_topic(Name=f"t{q}")
        expected[("sqs.queues", "self", region)] = expected[("sns.topics", "self", region)] = j + 2
    iam = await pool.client("iam")
    for u in range(3):
        await iam.create_user(UserName=f"u{u}")
    expected[("iam.users", "self", "global")] = 3
    return expected


async def test_interrupted_run_resumes_exactly(aiokit_pool: Any, tmp_path: Path) -> None:
    path = tmp_path / "inv.db"
    ts = [Target(None, r) for r in REGIONS] + [Target(None, None)]
    run = InventoryRun(SMALL, tuple((t.account, t.region) for t in ts))
    types = [CATALOGUE[n] for n in SMALL]
    expected = await seed_small(aiokit_pool)
    failing = (None, "eu-west-1", "sns.topics")
    # First attempt: one unit fails, and the run is cut off in the middle of a later unit
    # (after 4 outcomes and one more record): the store is closed as a killed crawl's is.
    outcomes = 0
    async with InventoryStore(path) as store:
        assert await store.begin(run) == set()
        async for event in inventory_events(aiokit_pool, types, ts, fail={failing}):
            if outcomes == 4:
                await store.write(event)
                break
            await store.write(event)
            outcomes += not hasattr(event, "data")
    db = sqlite3.connect(path)
    stored = db.execute("SELECT count(*) FROM seen").fetchone()[0]
    assert stored == 2 + 2 + 3 + 1  # two ok units of 2, one of 3, the failed unit's first
    db.close()

    async with InventoryStore(path) as store:
        done = await store.begin(run, resume=True)
        assert failing not in done and len(done) == 3
        async for event in inventory_events(aiokit_pool, types, ts):
            unit = (event.target.account, event.target.region, event.listing.name)
            if unit not in done:
                await store.write(event)
        await store.finish()
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert cells(db, 1) == expected
    assert table_cells(db, "sns_topics") == {
        ("self", r): n for (t, _, r), n in expected.items() if t == "sns.topics"
    }
    assert db.execute("SELECT count(*), count(DISTINCT status) FROM outcomes").fetchone() == (
        2 * len(REGIONS) + 1,
        1,
    )
    db.close()
    # A finished run is not resumed.
    with pytest.raises(ConfigurationError, match="no unfinished run"):
        async with InventoryStore(path) as store:
            await store.begin(run, resume=True)


async def test_odd_resource_type_and_field_names_are_sanitised(
    aiokit_pool: Any, tmp_path: Path
) -> None:
    spec = tmp_path / "extra.toml"
    spec.write_text(
        '[resources."sns.0odd_topics"]\n'
        'service = "sns"\noperation = "list_topics"\n'
        'records = \'Topics[].{"Topic Arn": TopicArn, "1x": TopicArn, account: TopicArn, '
        "ACCOUNT: TopicArn}'\n"
        "primary_key = '\"Topic Arn\"'\n"
    )
    catalogue = load_spec(spec)
    sns = await aiokit_pool.client("sns", "us-east-1")
    arn = (await sns.create_topic(Name="x"))["TopicArn"]
    path = tmp_path / "inv.db"
    async with InventoryStore(path, catalogue) as store:
        await store.begin(InventoryRun(("sns.0odd_topics",)))
        async for event in inventory_events(
            aiokit_pool, [catalogue["sns.0odd_topics"]], [Target(None, "us-east-1")]
        ):
            await store.write(event)
        await store.finish()
    db = sqlite3.connect(path)
    assert db.execute("SELECT table_name FROM resource_tables").fetchall() == [("sns_0odd_topics",)]
    cols = dict(db.execute("SELECT field, column_name FROM columns").fetchall())
    assert cols == {
        "Topic Arn": "Topic_Arn",
        "1x": "t_1x",
        "account": "account_2",
        "ACCOUNT": "ACCOUNT_3",
    }
    assert db.execute(
        "SELECT account, key, Topic_Arn, t_1x, account_2 FROM sns_0odd_topics"
    ).fetchall() == [("self", arn, arn, arn, arn)]
    db.close()


async def test_hostile_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        await InventoryStore(tmp_path / "no" / "inv.db").open()
    with pytest.raises(ConfigurationError, match="directory"):
        await InventoryStore(tmp_path).open()
    with pytest.raises(ConfigurationError, match=r"cannot write|not a usable"):
        await InventoryStore("/proc/inventory.db").open()
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(ConfigurationError, match="not a usable aiokit inventory"):
        await InventoryStore(corrupt).open()
    text = tmp_path / "text.db"
    text.write_text("hello, not a database\n" * 100)
    with pytest.raises(ConfigurationError, match="not a usable aiokit inventory"):
        await InventoryStore(text).open()
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ConfigurationError, match="not an aiokit inventory"):
        await InventoryStore(foreign).open()
    assert [r for r in sqlite3.connect(foreign).execute("SELECT name FROM sqlite_master")] == [
        ("t",)
    ]
    # a crawl's SQLite output (runs, items, outcomes) is not an inventory either
    from aiokit.sinks import SqliteSink

    crawl_db = tmp_path / "crawl.db"
    async with SqliteSink(crawl_db) as sink:
        await sink.open()
    with pytest.raises(ConfigurationError, match="not an aiokit inventory"):
        await InventoryStore(crawl_db).open()
    with pytest.raises(ConfigurationError, match="not an aiokit inventory"):
        diff(crawl_db)
    with pytest.raises(ConfigurationError, match="path"):
        InventoryStore("")
    with pytest.raises(ConfigurationError, match="path"):
        InventoryStore(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="catalogue"):
        InventoryStore(tmp_path / "a.db", {"x": 1})  # type: ignore[dict-item]


async def test_same_db_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inv.db"
    async with InventoryStore(path) as first:
        await first.begin(InventoryRun(("sqs.queues",)))
        with pytest.raises(ConfigurationError, match="another aiokit crawl"):
            async with InventoryStore(path):
                pass
        # readers are not held up
        assert sqlite3.connect(path).execute("SELECT count(*) FROM runs").fetchone() == (1,)
    async with InventoryStore(path) as again:  # released on close
        await again.begin(InventoryRun(("sqs.queues",)))


async def test_bad_runs_events_and_diff_arguments(tmp_path: Path) -> None:
    path = tmp_path / "inv.db"
    async with InventoryStore(path) as store:
        with pytest.raises(ConfigurationError, match="before begin"):
            await store.write(object())  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="InventoryRun"):
            await store.begin("run")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match=r"'nope\.x' is not in the catalogue"):
            await store.begin(InventoryRun(("nope.x",)))
        await store.begin(InventoryRun(("sqs.queues",)))
        with pytest.raises(ConfigurationError, match="listing"):
            from aiokit._fleet.crawl import Item

            await store.write(Item(Target(None, "us-east-1"), {}, None))
        await store.finish()
    with pytest.raises(ConfigurationError, match="1 finished run"):
        diff(path)
    for bad in ("x", -1, 99, True, 1.5, ""):
        with pytest.raises(ConfigurationError, match="run"):
            diff(path, bad, 1)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="does not exist"):
        diff(tmp_path / "missing.db")
    with pytest.raises(ConfigurationError, match="directory"):
        diff(tmp_path)
    with pytest.raises(ConfigurationError, match="no run 7"):
        to_pandas(path, 7)


async def test_a_unit_that_cannot_be_stored_leaves_nothing(
    aiokit_pool: Any, tmp_path: Path
) -> None:
    from aiokit._fleet.crawl import Item
    from aiokit._fleet.outcomes import Outcome, Status

    sns = await aiokit_pool.client("sns", "us-east-1")
    await sns.create_topic(Name="t")
    rt = CATALOGUE["sns.topics"]
    page = await sns.list_topics()
    [topic] = page["Topics"]
    target = Target(None, "us-east-1")
    path = tmp_path / "inv.db"
    async with InventoryStore(path) as store:
        await store.begin(InventoryRun(("sns.topics",)))
        await store.write(Item(target, {**topic, "Huge": 2**70}, rt.listing))
        await store.write(Item(target, {"Odd": {1: "a", "b": 2}}, rt.listing))  # not JSON
        with pytest.raises(ConfigurationError, match=r"sns\.topics record of account self"):
            await store.write(Outcome(target, Status.OK, listing=rt.listing))
        db = sqlite3.connect(path)
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "sns_topics" not in tables  # the unit's CREATE TABLE was rolled back too
        assert db.execute("SELECT count(*) FROM outcomes").fetchone() == (0,)
        db.close()
        # the store goes on: the next unit (a huge integer is kept, as text) is stored
        await store.write(Item(target, {**topic, "Huge": 2**70}, rt.listing))
        await store.write(Outcome(target, Status.OK, listing=rt.listing))
        await store.finish()
    db = sqlite3.connect(path)
    assert db.execute("SELECT Huge, typeof(Huge), key FROM sns_topics").fetchall() == [
        (str(2**70), "text", topic["TopicArn"])
    ]
    db.close()


@pytest.mark.parametrize(
    ("names", "targets"),
    [
        ((), ()),
        ("sqs.queues", ()),
        ((1,), ()),
        (None, ()),
        (("sqs.queues",), ("us-east-1",)),
        (("sqs.queues",), ((None, "us-east-1", "x"),)),
        (("sqs.queues",), ((1, "us-east-1"),)),
    ],
)
async def test_inventory_run_rejects_wrong_types(names: Any, targets: Any) -> None:
    with pytest.raises(ConfigurationError, match="InventoryRun"):
        InventoryRun(names, targets)


async def test_cancelled_run_keeps_whole_units_and_resumes(
    aiokit_pool: Any, tmp_path: Path
) -> None:
    import anyio

    path = tmp_path / "inv.db"
    ts = [Target(None, r) for r in REGIONS] + [Target(None, None)]
    run = InventoryRun(SMALL, tuple((t.account, t.region) for t in ts))
    types = [CATALOGUE[n] for n in SMALL]
    expected = await seed_small(aiokit_pool)
    outcomes = 0
    with anyio.CancelScope() as scope:
        async with InventoryStore(path) as store:
            await store.begin(run)
            async for event in inventory_events(aiokit_pool, types, ts):
                await store.write(event)
                outcomes += not hasattr(event, "data")
                if outcomes == 2:
                    scope.cancel()
                    await anyio.sleep(1)  # cancelled here, mid-run
    assert scope.cancelled_caught
    async with InventoryStore(path) as store:
        done = await store.begin(run, resume=True)
        assert len(done) == 2
        async for event in inventory_events(aiokit_pool, types, ts):
            if (event.target.account, event.target.region, event.listing.name) not in done:
                await store.write(event)
        await store.finish()
    db = sqlite3.connect(path)
    assert cells(db, 1) == expected
    db.close()
