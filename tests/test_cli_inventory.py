"""``aiokit inventory list`` and ``aiokit inventory diff``, as subprocesses, on moto data."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aiokit import Target
from aiokit.inventory import CATALOGUE, InventoryRun, InventoryStore
from tests.conftest import inventory_events

REGIONS = ("us-east-1", "eu-west-1")
TYPES = ("sqs.queues", "iam.users")


def aiokit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiokit.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},  # a table wide enough not to truncate
        timeout=120,
    )


def test_list_prints_the_catalogue_as_json_and_table(tmp_path: Path) -> None:
    result = aiokit_cli("inventory", "list", "--output", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == list(CATALOGUE)
    s3 = next(r for r in rows if r["name"] == "s3.buckets")
    assert (s3["service"], s3["operation"], s3["global"]) == ("s3", "list_buckets", True)
    assert all(r["description"] for r in rows)
    spec = tmp_path / "extra.toml"
    spec.write_text(
        '[resources."ec2.transit_gateways"]\nservice = "ec2"\n'
        'operation = "describe_transit_gateways"\nrecords = "TransitGateways[]"\n'
        'primary_key = "TransitGatewayArn"\n'
    )
    table = aiokit_cli("inventory", "list", "--spec", str(spec), "--output", "table")
    assert table.returncode == 0, table.stderr
    assert "ec2.transit_gateways" in table.stdout and "describe_transit_gateways" in table.stdout
    assert f"{len(CATALOGUE) + 1} resource types" in table.stderr
    missing = aiokit_cli("inventory", "list", "--spec", str(tmp_path / "none.toml"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) <= 2


@pytest.mark.asyncio
async def test_diff_of_two_runs(aiokit_pool: Any, tmp_path: Path) -> None:
    path = tmp_path / "inventory.db"
    ts = [Target(None, r) for r in REGIONS] + [Target(None, None)]
    types = [CATALOGUE[n] for n in TYPES]

    async def one_run() -> None:
        async with InventoryStore(path) as store:
            await store.begin(InventoryRun(TYPES, tuple((t.account, t.region) for t in ts)))
            async for event in inventory_events(aiokit_pool, types, ts):
                await store.write(event)
            await store.finish()

    sqs = await aiokit_pool.client("sqs", "eu-west-1")
    iam = await aiokit_pool.client("iam")
    old = (await sqs.create_queue(QueueName="old"))["QueueUrl"]
    await iam.create_user(UserName="alice")
    await one_run()
    assert aiokit_cli("inventory", "diff", "--db", str(path)).returncode == 2  # one run
    await sqs.delete_queue(QueueUrl=old)
    new = (await sqs.create_queue(QueueName="new"))["QueueUrl"]
    await iam.tag_user(UserName="alice", Tags=[{"Key": "k", "Value": "v"}])
    await iam.create_user(UserName="bob", Path="/x/")
    await one_run()

    result = aiokit_cli("inventory", "diff", "--db", str(path), "--output", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["run_a"], data["run_b"]) == (1, 2)
    assert {(c["resource_type"], c["key"]) for c in data["added"]} == {
        ("sqs.queues", new),
        ("iam.users", "arn:aws:iam::123456789012:user/x/bob"),
    }
    assert [(c["resource_type"], c["region"], c["key"]) for c in data["removed"]] == [
        ("sqs.queues", "eu-west-1", old)
    ]
    assert data["changed"] == [] and data["unknown"] == []
    assert "2 added, 1 removed, 0 changed, 0 unknown" in result.stderr
    table = aiokit_cli("inventory", "diff", "1", "2", "--db", str(path), "--output", "table")
    assert table.returncode == 0 and "removed" in table.stdout and "sqs.queues" in table.stdout
    # piped stdout: JSON by default
    assert json.loads(aiokit_cli("inventory", "diff", "--db", str(path)).stdout) == data


def test_diff_hostile(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage" * 500)
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    for db in (tmp_path / "missing.db", corrupt, foreign, tmp_path):
        result = aiokit_cli("inventory", "diff", "--db", str(db))
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        assert "error:" in result.stderr and "Traceback" not in result.stderr
        assert str(db.name) in result.stderr
    result = aiokit_cli("inventory", "diff", "x", "y", "--db", str(tmp_path / "missing.db"))
    assert result.returncode == 2
