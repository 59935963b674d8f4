"""Sinks from Python: a crawl on moto into JSON Lines, CSV and SQLite; SQLite resume."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
import pytest_asyncio

import aiokit
from aiokit.sinks import Run, SqliteSink, open_sink, resource_id

pytestmark = pytest.mark.asyncio


async def _crawl_into(pool: aiokit.SessionPool, path: Path) -> aiokit.Report:
    targets = [aiokit.Target(None, "us-east-1"), aiokit.Target(None, "eu-west-1")]
    async with open_sink(path) as sink:
        await sink.begin(Run("sqs", "list_queues"))
        async with pool.crawl("sqs", "list_queues", targets) as crawl:
            async for event in crawl.events():
                await sink.write(event)
    return crawl.report


@pytest_asyncio.fixture
async def queues(aiokit_pool: aiokit.SessionPool) -> aiokit.SessionPool:
    for region, n in (("us-east-1", 3), ("eu-west-1", 2)):
        sqs = await aiokit_pool.client("sqs", region)
        for i in range(n):
            await sqs.create_queue(QueueName=f"q{i}")
    return aiokit_pool


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".db"])
async def test_a_crawl_into_each_sink(
    queues: aiokit.SessionPool, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"out{suffix}"
    report = await _crawl_into(queues, path)
    assert report.items == 5
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        regions = [r["region"] for r in rows]
    elif suffix == ".csv":
        with path.open() as f:
            rows = list(csv.DictReader(f))
        regions = [r["region"] for r in rows]
        assert all(json.loads(r["item"]).startswith("http") for r in rows)
    else:
        with sqlite3.connect(path) as db:
            regions = [r for (r,) in db.execute("SELECT region FROM items")]
            assert db.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 2
    assert sorted(regions) == ["eu-west-1"] * 2 + ["us-east-1"] * 3


async def test_sqlite_resume_drops_items_of_unfinished_targets(tmp_path: Path) -> None:
    path = tmp_path / "inv.db"
    done = aiokit.Target("111111111111", "us-east-1")
    half = aiokit.Target("222222222222", "us-east-1")
    run = Run("sqs", "list_queues", {"MaxResults": 5})
    sink = SqliteSink(path)
    assert await sink.begin(run) == set()
    await sink.write(aiokit.Item(done, "a"))
    await sink.write(aiokit.Outcome(done, aiokit.Status.OK, value=1))
    await sink.write(aiokit.Item(half, "b"))  # killed before half's outcome
    await sink.aclose()

    again = SqliteSink(path)
    resumed = Run("sqs", "list_queues", {"MaxResults": 5})
    assert await again.begin(resumed, resume=True) == {("111111111111", "us-east-1")}
    assert resumed.run_id == run.run_id
    await again.write(aiokit.Item(half, "b"))
    await again.write(aiokit.Outcome(half, aiokit.Status.OK, value=1))
    await again.finish()
    await again.aclose()
    with sqlite3.connect(path) as db:
        items = sorted(db.execute("SELECT account, item FROM items").fetchall())
    assert items == [("111111111111", '"a"'), ("222222222222", '"b"')]


def test_resource_ids() -> None:
    assert resource_id("https://queue") == "https://queue"
    assert resource_id({"InstanceId": "i-1", "State": {}}) == "i-1"
    assert resource_id({"TableArn": "arn:t", "TableName": "t"}) == "arn:t"
    assert resource_id({"Size": 3}) is None


async def test_unknown_format_and_resume_without_sqlite(tmp_path: Path) -> None:
    with pytest.raises(aiokit.ConfigurationError, match="unknown output format"):
        open_sink(tmp_path / "x.out", "parquet")
    async with open_sink(tmp_path / "x.jsonl") as sink:
        with pytest.raises(aiokit.ConfigurationError, match="cannot resume"):
            await sink.begin(Run("s", "o"), resume=True)


async def test_sinks_are_checked_when_opened_and_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(aiokit.ConfigurationError, match="cannot tell the output format"):
        open_sink(tmp_path / "x.txt")
    with pytest.raises(aiokit.ConfigurationError, match="contradicts"):
        open_sink(tmp_path / "x.csv", "jsonl")
    sink = open_sink(tmp_path / "nowhere" / "x.jsonl")
    with pytest.raises(aiokit.ConfigurationError, match="does not exist"):
        await sink.open()
    await sink.aclose()  # does not try again, or raise
    async with open_sink(tmp_path / "x.csv") as sink:
        await sink.open()
    assert (tmp_path / "x.csv").read_text().splitlines() == [
        "run_id,account,region,service,operation,resource_id,item"
    ]

    db = tmp_path / "inv.db"
    async with SqliteSink(db) as first:
        await first.begin(Run("sqs", "list_queues"))
        await first.finish()
    with pytest.raises(aiokit.ConfigurationError, match="use --append"):
        await SqliteSink(db, existing="refuse").open()
    async with SqliteSink(db, existing="replace") as again:
        await again.begin(Run("sqs", "list_queues"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)


async def test_sqlite_commits_a_targets_items_with_its_outcome_or_neither(tmp_path: Path) -> None:
    """One transaction: an outcome that cannot be written takes its target's items with it
    (autocommit mode once committed each statement on its own)."""
    path = tmp_path / "inv.db"
    target = aiokit.Target("111111111111", "us-east-1")
    sink = SqliteSink(path)
    await sink.begin(Run("sqs", "list_queues"))
    rows = [(sink._run.run_id, "111111111111", "us-east-1", "sqs", "list_queues", None, '"a"')]
    with pytest.raises(sqlite3.ProgrammingError):  # an outcome row one value short
        await sink._call(sink._commit_target, rows, ("x",) * 9, aiokit.Status.OK)
    await sink.write(aiokit.Item(target, "b"))
    await sink.write(aiokit.Outcome(target, aiokit.Status.OK, value=1))
    await sink.aclose()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT item FROM items").fetchall() == [('"b"',)]
        assert db.execute("SELECT count(*) FROM outcomes").fetchone() == (1,)


async def test_sqlite_stores_an_error_whose_text_is_not_valid_unicode(tmp_path: Path) -> None:
    """A message with a lone surrogate (bytes decoded with surrogateescape) is stored with
    a replacement character, not a UnicodeEncodeError that stops the crawl."""
    path = tmp_path / "inv.db"
    target = aiokit.Target("111111111111", "us-east-1")
    async with SqliteSink(path) as sink:
        await sink.begin(Run("sqs", "list_queues"))
        await sink.write(aiokit.Item(target, "a"))
        error = RuntimeError("bad byte \udcff in a message")
        await sink.write(aiokit.Outcome(target, aiokit.Status.FAILED, error=error, reason="x"))
    with sqlite3.connect(path) as db:
        ((status, text),) = db.execute("SELECT status, error FROM outcomes").fetchall()
        assert db.execute("SELECT count(*) FROM items").fetchone() == (1,)
    assert status == "failed" and text == "bad byte \ufffd in a message"
