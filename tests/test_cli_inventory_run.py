"""``aiokit inventory`` (a run), as a subprocess, against moto: an organization inventory with
exact counts per table, ``--resources``, ``--spec``, a second run and its diff, a failing
target ("unknown", exit 1), SIGINT then ``--resume``, and hostile input."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import pytest_asyncio
from aiohttp import web

import aiokit
from aiokit.testing import FakeOrganization, serve_on_loopback
from tests.conftest import relay
from tests.test_inventory_store import GLOBAL, REGIONAL, REGIONS, cells, seed

ROLE = "OrganizationAccountAccessRole"
NAMES = REGIONAL + GLOBAL


def aiokit_cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiokit.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},  # tables wide enough not to truncate
        timeout=180,
        **kw,
    )


def inventory_args(
    endpoint: str, out: Path, *extra: str, names: tuple[str, ...] = NAMES
) -> list[str]:
    return [
        "inventory", "--accounts", "org", "--role", ROLE, "--regions", ",".join(REGIONS),
        "--resources", ",".join(names), "--endpoint-url", endpoint, "--region", "us-east-1",
        "--out", str(out), *extra,
    ]  # fmt: skip


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def table_cells(db: Path, name: str) -> dict[tuple[str, str], int]:
    """Rows per (account, region) in the resource type's own table (every version)."""
    ((table,),) = rows(db, "SELECT table_name FROM resource_tables WHERE resource_type = ?", name)
    return {
        (a, r): n
        for a, r, n in rows(db, f'SELECT account, region, count(*) FROM "{table}" GROUP BY 1, 2')
    }


@pytest.fixture
def seeded(fake_organization: FakeOrganization, org_pool: Any) -> dict[tuple[str, str, str], int]:
    """The 13 resource types seeded over the organization's 6 accounts x 3 regions."""

    async def go() -> dict[tuple[str, str, str], int]:
        async with org_pool() as pool:
            return await seed(pool, fake_organization.account_ids)

    return anyio.run(go)


def test_an_organization_inventory_has_exact_counts_per_table(
    seeded: dict[tuple[str, str, str], int], moto_endpoint: str, tmp_path: Path
) -> None:
    db = tmp_path / "inventory.db"
    result = aiokit_cli(*inventory_args(moto_endpoint, db))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        assert cells(conn, 1) == seeded
    for name in NAMES:  # each type's table: its seeded rows per (account, region), no more
        want = {(a, r): n for (t, a, r), n in seeded.items() if t == name}
        assert table_cells(db, name) == want, name
    accounts = {a for (_, a, _) in seeded}
    units = len(REGIONAL) * len(accounts) * len(REGIONS) + len(GLOBAL) * len(accounts)
    assert rows(db, "SELECT status, count(*) FROM outcomes GROUP BY 1") == [("ok", units)]
    assert rows(db, "SELECT run_id, finished IS NOT NULL FROM runs") == [(1, 1)]
    # The summary: items per resource type, then the outcomes.
    for name in NAMES:
        items = sum(n for (t, _, _), n in seeded.items() if t == name)
        line = next(x for x in result.stderr.splitlines() if f" {name} " in x)
        assert line.split("│")[2].strip() == str(items), line
    assert f"{units} units: {units} ok, 0 skipped, 0 failed" in result.stderr
    assert result.stdout == ""


def test_an_inventory_over_worker_processes_is_the_same(
    seeded: dict[tuple[str, str, str], int], moto_endpoint: str, tmp_path: Path
) -> None:
    """--workers 2: the same rows per (type, account, region), every unit ok once, and no
    worker process left when the command has exited."""
    db = tmp_path / "inventory.db"
    result = aiokit_cli(*inventory_args(moto_endpoint, db, "--workers", "2"))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        assert cells(conn, 1) == seeded
    accounts = {a for (_, a, _) in seeded}
    units = len(REGIONAL) * len(accounts) * len(REGIONS) + len(GLOBAL) * len(accounts)
    assert rows(db, "SELECT status, count(*) FROM outcomes GROUP BY 1") == [("ok", units)]
    assert "Traceback" not in result.stderr


SPEC = """
[resources."logs.first_groups"]
service = "logs"
operation = "describe_log_groups"
params = { logGroupNamePrefix = "/g0" }
records = "logGroups[]"
primary_key = "logGroupArn"
description = "the log groups named /g0*"
"""


def test_resources_selects_and_spec_adds_a_type(
    seeded: dict[tuple[str, str, str], int], moto_endpoint: str, tmp_path: Path
) -> None:
    """A glob and a name select three built-in types; the spec's entry (its own params)
    is a fourth, with a table of its own: nothing else is listed."""
    spec = tmp_path / "extra.toml"
    spec.write_text(SPEC)
    db = tmp_path / "inventory.db"
    names = ("sqs.*", "iam.users", "s3.buckets", "logs.first_groups")
    result = aiokit_cli(*inventory_args(moto_endpoint, db, "--spec", str(spec), names=names))
    assert result.returncode == 0, result.stderr
    chosen = {"sqs.queues", "iam.users", "s3.buckets", "logs.first_groups"}
    assert {n for (n,) in rows(db, "SELECT resource_type FROM resource_tables")} == chosen
    (listed,) = rows(db, "SELECT resource_types FROM runs")
    assert json.loads(listed[0]) == ["sqs.queues", "iam.users", "s3.buckets", "logs.first_groups"]
    for name in chosen - {"logs.first_groups"}:
        assert table_cells(db, name) == {
            (a, r): n for (t, a, r), n in seeded.items() if t == name
        }, name
    # Every (account, region) has one log group /g0 (and maybe a /g1, not listed).
    first = {(a, r): 1 for (t, a, r) in seeded if t == "logs.log_groups"}
    assert table_cells(db, "logs.first_groups") == first
    ((table,),) = rows(
        db, "SELECT table_name FROM resource_tables WHERE resource_type = 'logs.first_groups'"
    )
    assert {n for (n,) in rows(db, f'SELECT DISTINCT logGroupName FROM "{table}"')} == {"/g0"}


LIGHT = ("sqs.queues", "logs.log_groups", "iam.users")


async def seed_light(pool: Any, accounts: list[str]) -> None:
    """Per (account, region): queues q0, q1 and log groups /g0, /g1; per account users u0, u1."""
    for account in accounts:
        for region in REGIONS:
            sqs = await pool.client("sqs", region, account=account)
            logs = await pool.client("logs", region, account=account)
            for n in range(2):
                await sqs.create_queue(QueueName=f"q{n}")
                await logs.create_log_group(logGroupName=f"/g{n}")
        iam = await pool.client("iam", account=account)
        for n in range(2):
            await iam.create_user(UserName=f"u{n}")


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return await anyio.to_thread.run_sync(lambda: aiokit_cli(*args))


async def diff_of(db: Path) -> dict[str, Any]:
    result = await cli("inventory", "diff", "--db", str(db), "--output", "json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def keys(changes: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(c["resource_type"], c["account"], c["region"], c["key"]) for c in changes]


@pytest.mark.asyncio
async def test_a_second_run_and_its_diff_are_exact(
    fake_organization: FakeOrganization, org_pool: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    """Create a queue, delete a user, set a log group's retention: the diff of the two runs
    says exactly that: one added, one removed, one changed (in the one field)."""
    a0, a1, a2 = fake_organization.account_ids[:3]
    db = tmp_path / "inventory.db"
    async with org_pool() as pool:
        await seed_light(pool, fake_organization.account_ids)
        first = await cli(*inventory_args(moto_endpoint, db, names=LIGHT))
        assert first.returncode == 0, first.stderr
        sqs = await pool.client("sqs", "eu-west-1", account=a0)
        new = (await sqs.create_queue(QueueName="new"))["QueueUrl"]
        iam = await pool.client("iam", account=a1)
        arn = (await iam.get_user(UserName="u0"))["User"]["Arn"]
        await iam.delete_user(UserName="u0")
        logs = await pool.client("logs", "us-east-1", account=a2)
        await logs.put_retention_policy(logGroupName="/g1", retentionInDays=7)
        (group,) = (await logs.describe_log_groups(logGroupNamePrefix="/g1"))["logGroups"]
    second = await cli(*inventory_args(moto_endpoint, db, names=LIGHT))
    assert second.returncode == 0, second.stderr
    assert "run 2 in" in second.stderr
    data = await diff_of(db)
    assert (data["run_a"], data["run_b"]) == (1, 2)
    assert keys(data["added"]) == [("sqs.queues", a0, "eu-west-1", new)]
    assert keys(data["removed"]) == [("iam.users", a1, "global", arn)]
    assert keys(data["changed"]) == [("logs.log_groups", a2, "us-east-1", group["logGroupArn"])]
    assert [f["name"] for f in data["changed"][0]["fields"]] == ["retentionInDays"]
    assert data["unknown"] == []


class FailingRegion:
    """Forwards to moto, except SQS in one region: a 400 error no retry undoes."""

    def __init__(self, upstream: str, region: str) -> None:
        self.upstream, self.region, self.url, self.failed = upstream, region, "", 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if f"/{self.region}/sqs/" in request.headers.get("Authorization", ""):
            self.failed += 1
            return web.Response(
                status=400,
                headers={"x-amzn-query-error": "Boom;Sender"},
                content_type="application/x-amz-json-1.0",
                text=json.dumps({"__type": "com.amazonaws.sqs#Boom", "message": "injected"}),
            )
        return await relay(request, body, self.upstream)


@pytest_asyncio.fixture
async def failing_region(moto_endpoint: str) -> AsyncIterator[FailingRegion]:
    proxy = FailingRegion(moto_endpoint, "eu-west-1")
    async with serve_on_loopback(proxy.handle) as proxy.url:
        yield proxy


@pytest.mark.asyncio
async def test_a_failing_target_exits_1_and_its_resources_are_unknown(
    fake_organization: FakeOrganization,
    org_pool: Any,
    moto_endpoint: str,
    failing_region: FailingRegion,
    tmp_path: Path,
) -> None:
    """SQS fails in eu-west-1 in the second run (after a queue there was deleted): exit 1,
    each failed unit named; in the diff those queues are unknown, none removed; the
    other types of the same targets are compared as usual."""
    accounts = fake_organization.account_ids
    db = tmp_path / "inventory.db"
    async with org_pool() as pool:
        await seed_light(pool, accounts)
        first = await cli(*inventory_args(moto_endpoint, db, names=LIGHT))
        assert first.returncode == 0, first.stderr
        sqs = await pool.client("sqs", "eu-west-1", account=accounts[0])
        await sqs.delete_queue(QueueUrl=(await sqs.get_queue_url(QueueName="q0"))["QueueUrl"])
    second = await cli(*inventory_args(failing_region.url, db, names=LIGHT))
    assert second.returncode == 1, second.stderr
    assert failing_region.failed >= len(accounts)
    failed = [line for line in second.stderr.splitlines() if line.startswith("failed ")]
    assert sorted(line.partition(": ")[0] for line in failed) == sorted(
        f"failed sqs.queues {a} eu-west-1" for a in accounts
    ), second.stderr
    assert all("error: Boom" in line and "injected" in line for line in failed)
    assert "42 units: 36 ok, 0 skipped, 6 failed, 0 never visited" in second.stderr
    outcomes = rows(db, "SELECT status, count(*) FROM outcomes WHERE run_id = 2 GROUP BY 1")
    units = 2 * len(accounts) * len(REGIONS) + len(accounts)  # sqs, logs; iam once per account
    assert dict(outcomes) == {"failed": len(accounts), "ok": units - len(accounts)}
    data = await diff_of(db)
    assert data["removed"] == [] and data["added"] == [] and data["changed"] == []
    assert {(c["resource_type"], c["account"], c["region"]) for c in data["unknown"]} == {
        ("sqs.queues", a, "eu-west-1") for a in accounts
    }
    assert len(data["unknown"]) == 2 * len(accounts)  # q0 and q1 of each, the deleted one too


def _outcomes(db: Path) -> int:
    try:
        return int(rows(db, "SELECT count(*) FROM outcomes")[0][0])
    except sqlite3.OperationalError:
        return 0  # not there yet, or being created


def test_sigint_mid_run_then_resume_is_exact(
    seeded: dict[tuple[str, str, str], int], moto_endpoint: str, tmp_path: Path
) -> None:
    """Ctrl-C after a few units: exit 130, the run left unfinished with only whole units
    in it; --resume runs the others: every seeded resource once, one run, finished."""
    db = tmp_path / "inventory.db"
    argv = [sys.executable, "-m", "aiokit.cli", *inventory_args(moto_endpoint, db)]
    process = subprocess.Popen(
        [*argv, "--concurrency", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 90
        while _outcomes(db) < 6 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    accounts = {a for (_, a, _) in seeded}
    units = len(REGIONAL) * len(accounts) * len(REGIONS) + len(GLOBAL) * len(accounts)
    assert process.returncode == 130, stderr
    assert "interrupted by SIGINT" in stderr and "Traceback" not in stderr
    assert "inventory by resource type" in stderr  # what it did, summed up
    done = _outcomes(db)
    assert 6 <= done < units, "the inventory should have been interrupted mid-way"
    assert rows(db, "SELECT finished FROM runs") == [(None,)]
    # Every unit with an outcome has all its resources; none of the others has any.
    with sqlite3.connect(db) as conn:
        partial = cells(conn, 1)
        ok = {
            (t, a, r)
            for t, a, r in conn.execute(
                "SELECT resource_type, account, region FROM outcomes WHERE status = 'ok'"
            )
        }
    assert partial == {u: n for u, n in seeded.items() if u in ok}

    result = aiokit_cli(*inventory_args(moto_endpoint, db, "--resume"))
    assert result.returncode == 0, result.stderr
    assert f"({done} done by an earlier run, not visited again)" in result.stderr
    with sqlite3.connect(db) as conn:
        assert cells(conn, 1) == seeded  # nothing lost, nothing twice
    assert rows(db, "SELECT status, count(*) FROM outcomes GROUP BY 1") == [("ok", units)]
    assert [r[0] for r in rows(db, "SELECT run_id FROM runs WHERE finished IS NOT NULL")] == [1]
    for name in NAMES:
        want = {(a, r): n for (t, a, r), n in seeded.items() if t == name}
        assert table_cells(db, name) == want, name
    # A finished run has nothing to resume.
    again = aiokit_cli(*inventory_args(moto_endpoint, db, "--resume"))
    assert again.returncode == 2 and "no unfinished run" in again.stderr, again.stderr


# --- refused before any request ----------------------------------------------------------------

NOWHERE = ["--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1"]


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")


def _corrupt(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x13garbage" * 600)


def _text(path: Path) -> None:
    path.write_text("not a database\n" * 50)


HOSTILE: list[tuple[str, list[str], Callable[[Path], None] | None, str]] = [
    ("unknown-type", ["--resources", "ec2.instancez"], None, "did you mean ec2.instances"),
    ("unknown-service", ["--resources", "sqx.*"], None, "'sqx.*' matches no resource type"),
    ("empty-resources", ["--resources", ""], None, "no resource type given"),
    ("commas-only", ["--resources", ",,"], None, "no resource type given"),
    ("concurrency-zero", ["--concurrency", "0"], None, "'--concurrency': 0 is not in the range"),
    ("concurrency-minus", ["--concurrency", "-1"], None, "-1 is not in the range"),
    ("concurrency-abc", ["--concurrency", "abc"], None, "'abc' is not a valid integer"),
    ("concurrency-huge", ["--concurrency", "10000000"], None, "is not in the range"),
    ("workers-zero", ["--workers", "0"], None, "'--workers': 0 is not in the range x>=1"),
    ("management-without-org", ["--include-management-account"], None, "is for --accounts org"),
    ("workers-abc", ["--workers", "abc"], None, "'--workers': 'abc' is not a valid integer"),
    ("deadline-zero", ["--deadline", "0"], None, "'--deadline'"),
    ("spec-missing", ["--spec", "{tmp}/none.toml"], None, "does not exist"),
    ("spec-a-directory", ["--spec", "{tmp}"], None, "is a directory"),
    ("region-typo", ["--regions", "us-east-l"], None, "unknown region 'us-east-l'"),
    ("accounts-empty", ["--accounts", ""], None, "names no account"),
    ("out-a-directory", ["--out", "{tmp}"], None, "--out: cannot write"),
    ("out-missing-dir", ["--out", "{tmp}/nowhere/inv.db"], None, "nowhere"),
    ("out-unwritable", ["--out", "/proc/inventory.db"], None, "unable to open database file"),
    ("out-disk-full", ["--out", "/dev/full"], None, "database or disk is full"),
    ("out-corrupt", ["--out", "{file}"], _corrupt, "not a usable aiokit inventory"),
    ("out-a-text-file", ["--out", "{file}"], _text, "not a usable aiokit inventory"),
    ("out-foreign-sqlite", ["--out", "{file}"], _foreign, "not an aiokit inventory"),
    ("resume-nothing", ["--resume", "--out", "{tmp}/new.db"], None, "no inventory to resume"),
    ("option-with-list", ["--out", "{tmp}/x.db", "list"], None, "not of `inventory list`"),
]


@pytest.mark.parametrize(
    ("args", "setup", "says"), [pytest.param(a, s, m, id=i) for i, a, s, m in HOSTILE]
)
def test_hostile_input_is_one_clear_line_before_any_request(
    args: list[str], setup: Callable[[Path], None] | None, says: str, tmp_path: Path
) -> None:
    """Each mistake: exit 2, "error: ..." naming it (and a hint), no traceback, nothing
    written: an --out given is left as it was, none is created."""
    file = tmp_path / "given.db"
    if setup is not None:
        setup(file)
    before = file.read_bytes() if file.exists() else None
    argv = [a.format(tmp=tmp_path, file=file) for a in args]
    started = time.monotonic()
    result = aiokit_cli("inventory", *NOWHERE, "--resources", "sqs.queues", *argv)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and says in lines[0], result.stderr
    assert len(lines) <= 2 and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert (file.read_bytes() if file.exists() else None) == before
    assert {p.name for p in tmp_path.iterdir()} <= {"given.db"}
    assert not (Path.cwd() / "inventory.db").exists()
    assert time.monotonic() - started < 30  # no retries against the endpoint nowhere


def test_inventory_alone_prints_its_help_and_keeps_its_subcommands() -> None:
    result = aiokit_cli("inventory")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (result.stdout + result.stderr).startswith("Usage: aiokit inventory [OPTIONS]")
    assert "--resources" in result.stdout + result.stderr
    listed = aiokit_cli("inventory", "list", "--output", "json")
    assert listed.returncode == 0 and json.loads(listed.stdout)
    assert "--workers N" in aiokit_cli("inventory", "--help").stdout


@pytest.mark.asyncio
async def test_a_deadline_leaves_the_run_unfinished_and_resume_finishes_it(
    fake_organization: FakeOrganization, org_pool: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    accounts = fake_organization.account_ids
    db = tmp_path / "inventory.db"
    async with org_pool() as pool:
        await seed_light(pool, accounts)
    # A deadline far shorter than the run: 42 units one at a time take ~0.3 s on an idle
    # machine against moto (0.3 s was seen to finish them all).
    cut = await cli(*inventory_args(moto_endpoint, db, "--concurrency", "1", "--deadline",
                                    "0.02", names=LIGHT))  # fmt: skip
    assert cut.returncode == 3, cut.stderr
    assert "units never visited (--resume runs them)" in cut.stderr
    assert rows(db, "SELECT finished FROM runs") == [(None,)]
    done = _outcomes(db)
    units = 2 * len(accounts) * len(REGIONS) + len(accounts)
    assert done < units
    result = await cli(*inventory_args(moto_endpoint, db, "--resume", names=LIGHT))
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT status, count(*) FROM outcomes GROUP BY 1") == [("ok", units)]
    with sqlite3.connect(db) as conn:
        got = cells(conn, 1)
    want = {(n, a, r): 2 for n in LIGHT[:2] for a in accounts for r in REGIONS}
    assert got == want | {("iam.users", a, "global"): 2 for a in accounts}


@pytest.mark.asyncio
async def test_the_demo_replaces_an_earlier_demos_inventory_and_nothing_else(
    tmp_path: Path,
) -> None:
    """An inventory (what the demo writes now) and the crawl database earlier demos wrote
    may be replaced; a foreign SQLite file, or one claiming the format falsely, may not."""
    from aiokit.cli._demo import _check_out
    from aiokit.inventory import InventoryStore
    from aiokit.sinks import SqliteSink

    inventory = tmp_path / "inventory.db"
    async with InventoryStore(inventory):
        pass
    _check_out(inventory)
    crawl_db = tmp_path / "crawl.db"
    sink = SqliteSink(crawl_db)
    await sink.open()
    await sink.aclose()
    _check_out(crawl_db)
    foreign = tmp_path / "foreign.db"
    _foreign(foreign)
    liar = tmp_path / "liar.db"
    with sqlite3.connect(liar) as conn:
        conn.execute("CREATE TABLE aiokit_inventory (name TEXT, value TEXT)")
        conn.execute("INSERT INTO aiokit_inventory VALUES ('format', 'something else')")
    for path in (foreign, liar):
        with pytest.raises(aiokit.ConfigurationError, match="not an aiokit inventory"):
            _check_out(path)
