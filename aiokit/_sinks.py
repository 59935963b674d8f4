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

Every sink can be opened before the crawl starts (``await sink.open()``): a path that
cannot be written, or a file that is not an inventory, is then an error before the first
request. A JSON Lines or CSV file holds exactly one run's output (a run with no items
leaves an empty file, or the CSV header). An SQLite file holds runs; the ``latest_*``
views show the latest run of each crawl (see ``docs/guides/cli.md`` for the schema).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import anyio

from ._exceptions import ConfigurationError
from ._fleet.crawl import Item
from ._fleet.outcomes import Outcome, Status

__all__ = [
    "CsvSink",
    "JsonLinesSink",
    "Run",
    "Sink",
    "SqliteSink",
    "open_sink",
    "output_format",
    "resource_id",
]

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
    return json.dumps(value, default=json_default, separators=(",", ":"), sort_keys=True)


_SURROGATES = re.compile("[\ud800-\udfff]")


def _text(value: object) -> str:
    """``str(value)`` that SQLite and UTF-8 files take: a lone surrogate (bytes decoded with
    ``surrogateescape``) becomes U+FFFD rather than a ``UnicodeEncodeError`` mid-crawl."""
    return _SURROGATES.sub("\ufffd", str(value))


def json_default(value: Any) -> Any:
    """What JSON cannot hold, as aiokit writes it everywhere (the sinks, every command's
    output): datetimes in ISO 8601 (``2026-12-01T18:11:32+00:00``, as the AWS CLI prints
    them), bytes as UTF-8 text, anything else as its ``str``."""
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
    """Base of the sinks: ``begin``, ``write`` events, ``aclose``; an async context manager.

    Only a sink that overrides ``open`` and ``begin`` can resume (``SqliteSink``): the base
    refuses ``resume``.
    """

    async def open(self, *, resume: bool = False) -> None:
        """Open (create, or check) the output now, before any request; idempotent.

        Raises:
            ConfigurationError: the output cannot be written, or (SQLite) the file is not
                an inventory this sink may write into.
        """
        if resume:
            raise ConfigurationError(f"{type(self).__name__} cannot resume; use SQLite (.db)")

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
    """An item's row; in a crawl of many listings, its own listing's service and operation
    (and, in JSON lines, the listing's name as ``listing``)."""
    listing = item.listing
    row = {
        "run_id": run.run_id,
        "account": item.account,
        "region": item.region,
        "service": run.service if listing is None else listing.service,
        "operation": run.operation if listing is None else listing.operation,
        "resource_id": resource_id(item.data),
        "item": item.data,
    }
    if listing is not None:
        row["listing"] = listing.name
    return row


def _lock(fileno: int, path: object) -> None:
    """Hold an exclusive advisory lock on the output for the sink's life.

    Two crawls writing one file (the same command started twice, or a ``--resume`` while
    the first run still runs) would store items twice; the second is refused instead.
    ``flock`` locks are apart from SQLite's own, so readers (``sqlite3``) are not held up.
    """
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock
        return
    try:
        fcntl.flock(fileno, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ConfigurationError(
            f"{str(path)!r} is being written by another aiokit crawl; wait for it to end"
        ) from None
    except OSError:
        pass  # a file system without locks (some network mounts): go on without


def _check_parent(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise ConfigurationError(
            f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist"
        )
    if not parent.is_dir():
        raise ConfigurationError(f"cannot write {str(path)!r}: {str(parent)!r} is not a directory")
    if path.is_dir():
        raise ConfigurationError(f"cannot write {str(path)!r}: it is a directory")


class _FileSink(Sink):
    def __init__(self, path: str | Path | TextIO) -> None:
        self._path = path
        self._file: TextIO | None = None
        self._buffer: list[dict[str, Any]] = []
        self._run = Run("", "")
        self._unusable = False  # opening failed: aclose does not try again

    def _open(self) -> TextIO:
        if self._file is None:
            if isinstance(self._path, str | Path):
                path = Path(self._path)
                try:
                    _check_parent(path)
                    # Opened without truncating until the lock is ours; then truncated:
                    # the file holds this run's output, nothing older.
                    file = open(path, "a", encoding="utf-8", newline="")
                    try:
                        if path.is_file():  # not a FIFO or a device such as /dev/stdout
                            _lock(file.fileno(), path)
                            file.seek(0)
                            file.truncate()
                    except BaseException:
                        file.close()
                        raise
                    self._file = file
                except OSError as exc:
                    self._unusable = True
                    raise ConfigurationError(
                        f"cannot write {str(path)!r}: {exc.strerror or exc}"
                    ) from None
                except ConfigurationError:
                    self._unusable = True
                    raise
            else:
                self._file = self._path
            self._started(self._file)
        return self._file

    def _started(self, out: TextIO) -> None:
        """Write what precedes the rows (the CSV header)."""

    async def open(self, *, resume: bool = False) -> None:
        await super().open(resume=resume)
        if self._file is None:
            await anyio.to_thread.run_sync(self._open)

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
            await anyio.to_thread.run_sync(lambda: self._write_rows(self._open(), rows))

    def _write_rows(self, out: TextIO, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        # Shielded: an interrupted crawl still keeps what it collected.
        with anyio.CancelScope(shield=True):
            rows, self._buffer = self._buffer, []
            file = self._file
            if file is None and isinstance(self._path, str | Path) and not self._unusable:
                file = await anyio.to_thread.run_sync(self._open)  # no items: still the file
            if rows and file is not None:
                await anyio.to_thread.run_sync(self._write_rows, file, rows)
            if self._file is not None and isinstance(self._path, str | Path):
                file, self._file = self._file, None
                await anyio.to_thread.run_sync(file.close)


class JsonLinesSink(_FileSink):
    """One JSON object per item per line (``account``, ``region``, ..., ``item``)."""

    def _write_rows(self, out: TextIO, rows: list[dict[str, Any]]) -> None:
        out.writelines(_json(row) + "\n" for row in rows)
        out.flush()


class CsvSink(_FileSink):
    """One CSV row per item; the item itself as a JSON column. The header comes first."""

    _COLUMNS = ("run_id", "account", "region", "service", "operation", "resource_id", "item")

    def _started(self, out: TextIO) -> None:
        csv.writer(out).writerow(self._COLUMNS)
        out.flush()

    def _write_rows(self, out: TextIO, rows: list[dict[str, Any]]) -> None:
        writer = csv.writer(out)
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
CREATE VIEW IF NOT EXISTS latest_runs AS
    SELECT * FROM runs r WHERE r.started = (SELECT max(started) FROM runs WHERE key = r.key);
CREATE VIEW IF NOT EXISTS latest_items AS
    SELECT i.* FROM items i JOIN latest_runs l ON l.run_id = i.run_id;
CREATE VIEW IF NOT EXISTS latest_outcomes AS
    SELECT o.* FROM outcomes o JOIN latest_runs l ON l.run_id = o.run_id;
"""

# The tables an aiokit inventory has, each with the columns it must have.
_TABLES = {
    "runs": {"run_id", "key", "service", "operation", "params", "started", "finished"},
    "items": {"id", "run_id", "account", "region", "service", "operation", "resource_id", "item"},
    "outcomes": {"run_id", "account", "region", "status", "reason", "error", "duration"},
}

Existing = Literal["append", "refuse", "replace"]

_CHOICES = "use --append to add a run, --replace to start over, or --resume"


_INSERT_ITEM = (
    "INSERT INTO items (run_id, account, region, service, operation, resource_id, item) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class SqliteSink(Sink):
    """The inventory database; see the module docstring. Resumable.

    Args:
        path: the database file.
        existing: what to do with a file that already holds an inventory: ``"append"``
            (add runs: the library's default), ``"refuse"`` (the CLI's default: an error
            that names the choices) or ``"replace"`` (delete its runs first). A file that
            is not an aiokit inventory is never written into.
    """

    def __init__(self, path: str | Path, *, existing: Existing = "append") -> None:
        if existing not in ("append", "refuse", "replace"):
            raise ConfigurationError(f"existing={existing!r}: use 'append', 'refuse' or 'replace'")
        self._path = str(path)
        self._existing = existing
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._buffer: list[tuple[Any, ...]] = []
        self._counts: dict[tuple[str | None, str | None], int] = {}
        self._limiter = anyio.CapacityLimiter(1)  # one writer thread at a time

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def open(self, *, resume: bool = False) -> None:
        if self._db is None:  # one file can hold several runs (the demo writes four)
            self._db = await self._call(self._connect, resume)

    def _connect(self, resume: bool) -> sqlite3.Connection:
        path = Path(self._path)
        _check_parent(path)
        fresh = not path.exists()
        empty = fresh or path.stat().st_size == 0
        db = None
        try:
            # check_same_thread off: every use is serialised through the one-slot limiter.
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            if not fresh:
                self._take_lock()
            kind = "empty" if empty else _kind(db)
            if resume and kind == "empty" and not fresh:
                raise ConfigurationError(
                    f"--resume: {self._path!r} is empty, not an aiokit inventory to resume"
                )
            if kind == "foreign":
                raise ConfigurationError(
                    f"{self._path!r} is an SQLite database but not an aiokit inventory; "
                    "refusing to write into it: pass another --out"
                )
            if kind == "aiokit" and not resume:
                # An inventory without runs (a crawl that failed before its first run, e.g.
                # on a malformed account id) holds nothing to protect: it is not refused.
                has_runs = db.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is not None
                if self._existing == "refuse" and has_runs:
                    raise ConfigurationError(
                        f"{self._path!r} already holds an aiokit inventory: {_CHOICES}"
                    )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            # Take the write lock once: an unwritable file fails here, before any request.
            db.execute("BEGIN IMMEDIATE")
            if kind == "aiokit" and not resume and self._existing == "replace":
                for table in ("items", "outcomes", "runs"):
                    db.execute(f"DELETE FROM {table}")
            db.execute("COMMIT")
            if fresh:
                self._take_lock()
        except sqlite3.DatabaseError as exc:
            self._release_lock()
            if db is not None:
                db.close()
            raise ConfigurationError(
                f"{self._path!r} is not a usable aiokit inventory: {exc}"
            ) from None
        except BaseException:
            self._release_lock()
            if db is not None:
                db.close()
            raise
        return db

    def _take_lock(self) -> None:
        if self._lock_fd is None:
            self._lock_fd = os.open(self._path, os.O_RDONLY)
            try:
                _lock(self._lock_fd, self._path)
            except BaseException:
                self._release_lock()
                raise

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock

    async def begin(self, run: Run, *, resume: bool = False) -> set[tuple[str | None, str | None]]:
        await self.open(resume=resume)
        self._counts.clear()
        return set(await self._call(self._begin, run, resume))

    def _begin(self, run: Run, resume: bool) -> Iterable[tuple[str | None, str | None]]:
        db = self._db
        assert db is not None
        if resume:
            found = db.execute(
                "SELECT run_id FROM runs WHERE key = ? ORDER BY started DESC LIMIT 1",
                (run.key,),
            ).fetchone()
            if found is not None:
                object.__setattr__(run, "run_id", found[0])
                self._run = run
                with transaction(db):
                    # Failed targets run again, and so do targets without an outcome (never
                    # visited, or the run was killed mid-target: their items go). A run that
                    # finished with every target ok or skipped has nothing left to do.
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
            has_runs = db.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is not None
            if has_runs:
                raise ConfigurationError(
                    f"--resume: {self._path!r} holds no crawl of {run.service} "
                    f"{run.operation} with these parameters ({_json(run.params)})"
                )
        self._run = run
        with transaction(db):
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
            listing = event.listing
            self._buffer.append(
                (
                    run.run_id,
                    event.account,
                    event.region,
                    run.service if listing is None else listing.service,
                    run.operation if listing is None else listing.operation,
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
            _text(event.error) if event.error is not None else None,
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
        with transaction(self._db):  # items, then the outcome that vouches for them
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
        with transaction(self._db):
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
        if self._lock_fd is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._release_lock, limiter=self._limiter)


def _kind(db: sqlite3.Connection) -> str:
    """``"empty"``, ``"aiokit"`` or ``"foreign"``; raises ``DatabaseError`` if not SQLite."""
    tables = {
        name: {c for (c,) in db.execute("SELECT name FROM pragma_table_info(?)", (name,))}
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    if not tables:
        return "empty"
    if any(not cols <= tables.get(name, set()) for name, cols in _TABLES.items()):
        return "foreign"
    # The schema reads, but pages may not: a corrupt file is an error now, not mid-crawl.
    problems = db.execute("PRAGMA quick_check").fetchall()
    if problems != [("ok",)]:
        raise sqlite3.DatabaseError(f"database is corrupt ({problems[0][0]})")
    return "aiokit"


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed at the end, rolled back on any exception.

    The connection is in autocommit mode (``isolation_level=None``, so that nothing opens a
    transaction behind the sink's back), where ``with db:`` would commit nothing it had not
    already committed statement by statement: an error between a target's items and its
    outcome would have left the items written.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _insert_rows(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    with transaction(db):
        db.executemany(_INSERT_ITEM, rows)


# File name extensions and the formats they stand for.
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".db": "sqlite",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
}
FORMATS = ("jsonl", "csv", "sqlite")


def output_format(path: str | Path | None, format: str | None = None) -> str:
    """The format of ``path``: ``format`` if given (it must fit the extension), else the
    extension's.

    Raises:
        ConfigurationError: an unknown format or extension, or a format the extension
            contradicts.
    """
    if format is not None and format not in FORMATS:
        raise ConfigurationError(f"unknown output format {format!r}: use jsonl, csv or sqlite")
    if path is None:
        return format or "jsonl"
    suffix = Path(path).suffix.lower()
    implied = EXTENSIONS.get(suffix)
    if format is None:
        if implied is None:
            raise ConfigurationError(
                f"cannot tell the output format of {str(path)!r} from its extension "
                f"({suffix or 'none'}): name it .jsonl, .csv or .db, or pass --format"
            )
        return implied
    if implied is not None and implied != format:
        raise ConfigurationError(
            f"--format {format} contradicts {str(path)!r}, whose extension means {implied}"
        )
    return format


def open_sink(
    path: str | Path | TextIO, format: str | None = None, *, existing: Existing = "append"
) -> Sink:
    """A sink for ``path``; the format from ``format`` or the file's extension.

    ``existing`` is :class:`SqliteSink`'s. Nothing is opened yet: ``await sink.open()``
    (or the first ``begin``) does that.

    Raises:
        ConfigurationError: an unknown format or extension, or one contradicting the other.
    """
    if isinstance(path, str) and path.endswith(("/", os.sep)):
        # pathlib drops the slash, and "out.jsonl/" would quietly become the file out.jsonl.
        raise ConfigurationError(f"cannot write {path!r}: a path ending in / names a directory")
    if isinstance(path, str | Path):
        format = output_format(path, format)
    else:
        format = output_format(None, format)
    if format == "sqlite":
        if not isinstance(path, str | Path):
            raise ConfigurationError("SQLite output needs a file path")
        return SqliteSink(path, existing=existing)
    if format == "csv":
        return CsvSink(path)
    return JsonLinesSink(path)
