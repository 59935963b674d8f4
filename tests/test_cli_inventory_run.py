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


def inventory_args(endpoint: str, out: Path, *extra: str, names: tuple[str, ...] = NAMES) -> list[str]:
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
