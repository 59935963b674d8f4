"""Result sinks: JSON Lines, CSV and SQLite, written incrementally with bounded memory.

A sink takes a crawl's events in order (``Item``s, and each target's ``Outcome`` after its
items) from ``Crawl.events()``::

    async with open_sink("inventory.db") as sink:
        await sink.begin(run)
        async with pool.crawl(...) as crawl:
            async for event in crawl.events():
                await sink.write(event)

SQLite is the inventory format: one row per item (account, region, service, operation, a
stable resource id where the item has one, the item as JSON, the run id) and one row per
target outcome. A target's outcome is committed only after its items, so a crawl killed at
any point leaves a valid file in which every target marked done has all its items; a resumed
run deletes the items of unfinished targets and runs those again: no item twice, none
missing. Writes happen in a worker thread, never on the event loop.
"""

from __future__ import annotations

import csv
import datetime
import json
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio

from ._crawl import Item
from ._exceptions import ConfigurationError
from ._fanout import Outcome, Status

__all__ = ["CsvSink", "JsonLinesSink", "Run", "Sink", "SqliteSink", "open_sink", "resource_id"]

_ID_SUFFIXES = ("Arn", "ARN", "Id", "ID", "Name", "Url", "URL", "Key")


def resource_id(item: Any) -> str | None:
    """A stable id for an item: the string itself, or its ``*Arn``/``*Id``/``*Name`` field."""
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        return None
    for suffix in _ID_SUFFIXES:
        for key, value in item.items():
            if key.endswith(suffix) and isinstance(value, str):
                return value
    return None


def _json(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"), sort_keys=True)


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass(frozen=True)
class Run:
    """One crawl run: what was crawled, with which parameters."""

    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def key(self) -> str:
        """What makes two runs the same crawl (for ``--resume``)."""
        return _json([self.service, self.operation, self.params])


class Sink:
    """Base of the sinks: ``begin``, ``write`` events, ``aclose``; an async context manager."""

    resumable = False

    async def begin(self, run: Run, *, resume: bool = False) -> set[tuple[str | None, str | None]]:
        """Start a run; with ``resume``, return the (account, region) cells already done."""
        if resume:
            raise ConfigurationError(f"{type(self).__name__} cannot resume; use SQLite (.db)")
        self._run = run
        return set()

    async def write(self, event: Item | Outcome[Any]) -> None:
        """Record one item or one target's outcome."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Flush and close; idempotent."""

    async def __aenter__(self) -> Sink:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _row(run: Run, item: Item) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "account": item.account,
        "region": item.region,
        "service": run.service,
        "operation": run.operation,
        "resource_id": resource_id(item.data),
        "item": item.data,
    }


class _FileSink(Sink):
    def __init__(self, path: str | Path | TextIO) -> None:
        self._path = path
        self._file: TextIO | None = None
        self._buffer: list[dict[str, Any]] = []

    def _open(self) -> TextIO:
        if self._file is None:
            if isinstance(self._path, str | Path):
                self._file = open(self._path, "w", encoding="utf-8", newline="")
            else:
                self._file = self._path
        return self._file

    async def write(self, event: Item | Outcome[Any]) -> None:
        if isinstance(event, Item):
            self._buffer.append(_row(self._run, event))
            if len(self._buffer) >= 500:
                await self._flush()
        else:
            await self._flush()

    async def _flush(self) -> None:
        rows, self._buffer = self._buffer, []
        if rows:
            await anyio.to_thread.run_sync(self._write_rows, self._open(), rows)

    def _write_rows(self, out: TextIO, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        await self._flush()
        if self._file is not None and isinstance(self._path, str | Path):
            file, self._file = self._file, None
            await anyio.to_thread.run_sync(file.close)


class JsonLinesSink(_FileSink):
    """One JSON object per item per line (``account``, ``region``, ..., ``item``)."""

    def _write_rows(self, out: TextIO, rows: list[dict[str, Any]]) -> None:
        out.writelines(_json(row) + "\n" for row in rows)
        out.flush()


class CsvSink(_FileSink):
    """One CSV row per item; the item itself as a JSON column."""

    _COLUMNS = ("run_id", "account", "region", "service", "operation", "resource_id", "item")

    def __init__(self, path: str | Path | TextIO) -> None:
        super().__init__(path)
        self._header = False

    def _write_rows(self, out: TextIO, rows: list[dict[str, Any]]) -> None:
        writer = csv.writer(out)
        if not self._header:
            writer.writerow(self._COLUMNS)
            self._header = True
        for row in rows:
            writer.writerow([*(row[c] for c in self._COLUMNS[:-1]), _json(row["item"])])
        out.flush()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, key TEXT NOT NULL, service TEXT, operation TEXT, params TEXT,
    started TEXT, finished TEXT
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, account TEXT, region TEXT, service TEXT,
    operation TEXT, resource_id TEXT, item TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_cell ON items (run_id, account, region);
CREATE TABLE IF NOT EXISTS outcomes (
    run_id TEXT NOT NULL, account TEXT, region TEXT, status TEXT, reason TEXT, error TEXT,
    duration REAL, items INTEGER, retries INTEGER, throttles INTEGER,
    PRIMARY KEY (run_id, account, region)
);
"""


_INSERT_ITEM = (
    "INSERT INTO items (run_id, account, region, service, operation, resource_id, item) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class SqliteSink(Sink):
    """The inventory database; see the module docstring. Resumable."""

    resumable = True

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._db: sqlite3.Connection | None = None
        self._buffer: list[tuple[Any, ...]] = []
        self._counts: dict[tuple[str | None, str | None], int] = {}
        self._limiter = anyio.CapacityLimiter(1)  # one writer thread at a time

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread off: every use is serialised through the one-slot limiter.
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    async def begin(self, run: Run, *, resume: bool = False) -> set[tuple[str | None, str | None]]:
        if self._db is None:  # one file can hold several runs (the demo writes four)
            self._db = await self._call(self._connect)
        self._counts.clear()
        return set(await self._call(self._begin, run, resume))

    def _begin(self, run: Run, resume: bool) -> Iterable[tuple[str | None, str | None]]:
        db = self._db
        assert db is not None
        if resume:
            found = db.execute(
                "SELECT run_id FROM runs WHERE key = ? AND finished IS NULL "
                "ORDER BY started DESC LIMIT 1",
                (run.key,),
            ).fetchone()
            if found is not None:
                object.__setattr__(run, "run_id", found[0])
                self._run = run
                with db:
                    # Failed targets run again; items of targets without an outcome (the
                    # run was killed mid-target) go, and those targets run again too.
                    db.execute(
                        "DELETE FROM outcomes WHERE run_id = ? AND status = 'failed'",
                        (run.run_id,),
                    )
                    db.execute(
                        "DELETE FROM items WHERE run_id = ? AND NOT EXISTS (SELECT 1 FROM "
                        "outcomes o WHERE o.run_id = items.run_id AND o.account IS "
                        "items.account AND o.region IS items.region)",
                        (run.run_id,),
                    )
                rows = db.execute(
                    "SELECT account, region FROM outcomes WHERE run_id = ?", (run.run_id,)
                ).fetchall()
                return [(a, r) for a, r in rows]
        self._run = run
        with db:
            db.execute(
                "INSERT INTO runs (run_id, key, service, operation, params, started) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run.run_id,
                    run.key,
                    run.service,
                    run.operation,
                    _json(run.params),
                    datetime.datetime.now(datetime.UTC).isoformat(),
                ),
            )
        return []

    async def write(self, event: Item | Outcome[Any]) -> None:
        run = self._run
        if isinstance(event, Item):
            cell = (event.account, event.region)
            self._counts[cell] = self._counts.get(cell, 0) + 1
            self._buffer.append(
                (
                    run.run_id,
                    event.account,
                    event.region,
                    run.service,
                    run.operation,
                    resource_id(event.data),
                    _json(event.data),
                )
            )
            if len(self._buffer) >= 1000:
                rows, self._buffer = self._buffer, []
                await self._call(self._insert_items, rows)
            return
        rows, self._buffer = self._buffer, []
        t = event.target
        n = self._counts.pop((t.account, t.region), 0)
        outcome = (
            run.run_id,
            t.account,
            t.region,
            event.status.value,
            event.reason,
            str(event.error) if event.error is not None else None,
            event.duration,
            n,
            event.retries,
            event.throttles,
        )
        await self._call(self._commit_target, rows, outcome, event.status)

    def _insert_items(self, rows: list[tuple[Any, ...]]) -> None:
        assert self._db is not None
        _insert_rows(self._db, rows)

    def _commit_target(
        self, rows: list[tuple[Any, ...]], outcome: tuple[Any, ...], status: Status
    ) -> None:
        assert self._db is not None
        with self._db:  # items, then the outcome that vouches for them: one transaction
            self._db.executemany(_INSERT_ITEM, rows)
            self._db.execute(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", outcome
            )

    async def finish(self) -> None:
        """Mark the run complete: a later ``--resume`` starts a new run."""
        if self._db is not None:
            await self._call(self._finish)

    def _finish(self) -> None:
        assert self._db is not None
        with self._db:
            self._db.execute(
                "UPDATE runs SET finished = ? WHERE run_id = ?",
                (datetime.datetime.now(datetime.UTC).isoformat(), self._run.run_id),
            )

    async def aclose(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            rows, self._buffer = self._buffer, []
            if rows:
                # Items of a target without an outcome: kept for inspection, and deleted by
                # a resumed run before that target runs again.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_insert_rows, db, rows, limiter=self._limiter)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(db.close, limiter=self._limiter)


def _insert_rows(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    with db:
        db.executemany(_INSERT_ITEM, rows)


def open_sink(path: str | Path | TextIO, format: str | None = None) -> Sink:
    """A sink for ``path``; the format from ``format`` or the file's extension.

    Raises:
        ConfigurationError: an unknown format.
    """
    if format is None:
        suffix = Path(path).suffix.lower() if isinstance(path, str | Path) else ".jsonl"
        format = {".db": "sqlite", ".sqlite": "sqlite", ".csv": "csv"}.get(suffix, "jsonl")
    if format == "sqlite":
        if not isinstance(path, str | Path):
            raise ConfigurationError("SQLite output needs a file path")
        return SqliteSink(path)
    if format == "csv":
        return CsvSink(path)
    if format == "jsonl":
        return JsonLinesSink(path)
    raise ConfigurationError(f"unknown output format {format!r}: use jsonl, csv or sqlite")
