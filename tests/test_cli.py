"""The ``aiokit`` command line, driven as a subprocess against moto."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import aiokit
import aiokit.inventory
from aiokit.testing import TEST_CREDENTIALS

if TYPE_CHECKING:
    from tests.conftest import OrgPool, SeedQueues

ROLE = "OrganizationAccountAccessRole"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def aiokit_cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiokit.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        **kw,
    )


def _expected(i: int, j: int) -> int:
    return (i * 2 + j) % 3 + 1


@pytest.fixture
def seeded_org(seed_queues: SeedQueues, org_pool: OrgPool) -> dict[tuple[str, str], int]:
    async def seed() -> dict[tuple[str, str], int]:
        async with org_pool() as pool:
            return await seed_queues(pool, REGIONS, _expected)

    return anyio.run(seed)


def _crawl_args(endpoint: str, out: Path, *extra: str) -> list[str]:
    return [
        "crawl", "sqs", "list_queues", "--accounts", "org", "--role", ROLE,
        "--regions", ",".join(REGIONS), "--endpoint-url", endpoint, "--region", "us-east-1",
        "--out", str(out), *extra,
    ]  # fmt: skip


def _cells(db: Path) -> Counter[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT account, region FROM items").fetchall()
    return Counter((a, r) for a, r in rows)


def test_crawl_to_sqlite_has_exact_counts(
    seeded_org: dict[tuple[str, str], int], moto_endpoint: str, tmp_path: Path
) -> None:
    db = tmp_path / "inventory.db"
    result = aiokit_cli(*_crawl_args(moto_endpoint, db))
    assert result.returncode == 0, result.stderr
    assert _cells(db) == seeded_org
    with sqlite3.connect(db) as conn:
        statuses = conn.execute("SELECT status, count(*) FROM outcomes GROUP BY 1").fetchall()
        ids = conn.execute("SELECT resource_id FROM items").fetchall()
    assert statuses == [("ok", 18)]
    assert all(i[0].startswith("http") for i in ids)  # queue URLs are the ids
    assert "ok" in result.stderr and "items" in result.stderr


def test_jsonl_to_stdout_and_query(
    seeded_org: dict[tuple[str, str], int], moto_endpoint: str
) -> None:
    result = aiokit_cli(
        "crawl", "sqs", "list_queues", "--accounts", "org", "--role", ROLE,
        "--regions", "us-east-1", "--endpoint-url", moto_endpoint, "--region", "us-east-1",
        "--output", "jsonl", "--query", "@",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == sum(n for (_, r), n in seeded_org.items() if r == "us-east-1")
    assert {"account", "region", "item", "resource_id"} <= set(rows[0])


def test_killed_crawl_resumes_exactly(
    seeded_org: dict[tuple[str, str], int], moto_endpoint: str, tmp_path: Path
) -> None:
    db = tmp_path / "inventory.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "aiokit.cli", *_crawl_args(moto_endpoint, db, "--concurrency", "1")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 60
        done = 0
        while done < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
            if db.exists():
                try:
                    with sqlite3.connect(db) as conn:
                        done = conn.execute("SELECT count(*) FROM outcomes").fetchone()[0]
                except sqlite3.OperationalError:
                    pass  # tables not there yet
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    with sqlite3.connect(db) as conn:
        finished = conn.execute("SELECT count(*) FROM outcomes").fetchone()[0]
    assert 4 <= finished < 18, "the crawl should have been killed mid-way"

    result = aiokit_cli(*_crawl_args(moto_endpoint, db, "--resume"))
    assert result.returncode == 0, result.stderr
    assert _cells(db) == seeded_org  # nothing missing, nothing twice
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 18
        assert conn.execute("SELECT count(DISTINCT run_id) FROM items").fetchone()[0] == 1
        dup = conn.execute(
            "SELECT account, region, resource_id FROM items "
            "GROUP BY account, region, resource_id HAVING count(*) > 1"
        ).fetchall()
    assert dup == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["crawl", "sqsx", "list_queues"], "unknown service 'sqsx'", id="service"),
        pytest.param(["crawl", "sqs", "list_quuues"], "did you mean list_queues", id="operation"),
        pytest.param(
            ["crawl", "sqs", "list_queues", "--param", "Bogus=1"], "Bogus", id="parameter"
        ),
        pytest.param(["crawl", "sqs", "list_queues", "--regions", "mars-1"], "mars-1", id="region"),
        pytest.param(
            ["crawl", "sqs", "list_queues", "--accounts", "123", "--role", "R"],
            "12 digits",
            id="account",
        ),
        pytest.param(
            ["paginate", "sqs", "list_queues", "--profile", "nope"], "'nope'", id="profile"
        ),
        pytest.param(
            ["wait", "dynamodb", "table_exizts", "--param", "TableName=t"],
            "table_exists",
            id="waiter",
        ),
    ],
)
def test_errors_are_one_clear_line(moto_endpoint: str, args: list[str], message: str) -> None:
    result = aiokit_cli(*args, "--endpoint-url", moto_endpoint, "--region", "us-east-1")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr and "hint:" in result.stderr


def test_denied_role_fails_targets_with_nonzero_exit(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No credentials at all: the pool's own identity cannot be found.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    result = aiokit_cli("paginate", "sqs", "list_queues", "--endpoint-url", moto_endpoint)
    assert result.returncode == 2
    assert "no AWS credentials" in result.stderr
    assert "Traceback" not in result.stderr


def test_paginate_and_wait_one_offs(moto_endpoint: str) -> None:
    async def make() -> None:
        async with aiokit.SessionPool(
            endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
        ) as pool:
            sqs = await pool.client("sqs")
            for n in range(3):
                await sqs.create_queue(QueueName=f"p{n}")

    anyio.run(make)
    result = aiokit_cli(
        "paginate", "sqs", "list_queues", "--endpoint-url", moto_endpoint, "--region", "us-east-1"
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["QueueUrls"]) == 3  # merged, as the AWS CLI prints it
    result = aiokit_cli(
        "wait", "sqs", "QueueExists", "--param", "QueueName=p1", "--timeout", "20",
        "--endpoint-url", moto_endpoint, "--region", "us-east-1",
    )  # fmt: skip
    # sqs has no waiters: a clear error, not a traceback
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """Two inventories of the emulated organization and the diff of the changes between."""
    db = tmp_path / "demo.db"
    result = aiokit_cli("demo", "--out", str(db), "--member-accounts", "3")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        seen = dict(
            ((run, name), n)
            for run, name, n in conn.execute(
                "SELECT run_id, resource_type, count(*) FROM seen GROUP BY 1, 2"
            )
        )
        statuses = dict(conn.execute("SELECT status, count(*) FROM outcomes GROUP BY 1"))
        finished = conn.execute("SELECT count(*) FROM runs WHERE finished IS NOT NULL")
        assert finished.fetchone() == (2,)
    # 3 accounts x 4 regions: (i + j) % 3 + 1 instances, one table, j % 2 + 1 queues; one
    # bucket per account. Then one queue made, one table deleted, one instance tagged.
    first = {"ec2.instances": 24, "dynamodb.tables": 12, "sqs.queues": 18, "s3.buckets": 3}
    second = {**first, "dynamodb.tables": 11, "sqs.queues": 19}
    assert seen == {(1, n): c for n, c in first.items()} | {(2, n): c for n, c in second.items()}
    assert statuses == {"ok": 2 * (3 * 4 * 3 + 3)}
    diff = aiokit.inventory.diff(db)
    assert [(c.resource_type, c.key.rsplit("/", 1)[-1]) for c in diff.added] == [
        ("sqs.queues", "jobs-new")
    ]
    assert [(c.resource_type, c.key) for c in diff.removed] == [("dynamodb.tables", "orders-1")]
    assert [(c.resource_type, [f.name for f in c.fields]) for c in diff.changed] == [
        ("ec2.instances", ["Tags"])
    ]
    assert diff.unknown == []
    assert "1 added, 1 removed, 1 changed, 0 unknown" in result.stderr
    assert "inventory written" in result.stderr


# Records what the command sets Python's collector to (gc.set_threshold is the only way in).
_RECORD_GC = """
import gc, sys
seen = []
set_threshold = gc.set_threshold
def record(*args):
    seen.append(args[0])
    set_threshold(*args)
gc.set_threshold = record
from aiokit.cli import main
try:
    main(sys.argv[1:])
finally:
    print("gc thresholds set:", seen, file=sys.stderr)
"""


def test_crawl_raises_the_gc_threshold_while_it_runs(moto_endpoint: str) -> None:
    """The command, not the library, chooses to raise the collector's threshold for a crawl
    (contract: ``SessionPool(gc_threshold=None)`` by default); it is put back at the end."""
    from aiokit._gc import DEFAULT_GC_THRESHOLD

    result = subprocess.run(
        [
            sys.executable, "-c", _RECORD_GC, "crawl", "sqs", "list_queues", "--regions",
            "us-east-1", "--endpoint-url", moto_endpoint, "--region", "us-east-1",
            "--output", "jsonl",
        ],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("gc thresholds set:"))
    seen = json.loads(line.partition(":")[2])
    assert seen[:1] == [DEFAULT_GC_THRESHOLD] and len(seen) == 2, line  # raised, put back
