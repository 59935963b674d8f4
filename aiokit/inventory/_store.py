"""``InventoryStore``: the sink of an inventory crawl: typed tables, runs, snapshots.

One SQLite file holds every run. Each resource type has its table (see ``_tables``): one
row per *version* of a resource, keyed by (account, region, key, hash), with the run that
first saw the resource (``first_seen``), the last run that saw this version
(``last_seen``), its top-level scalar fields as typed columns and the record as JSON.
``seen`` says which version each run saw: a run is a snapshot. ``runs`` holds each run's
resource types and targets; ``outcomes`` one row per (run, account, region, resource
type).

A unit's (target, resource type) records are buffered and committed with its outcome in
one transaction, so a crash leaves a valid file in which every unit with an outcome has
all its records; a resumed run (``begin(run, resume=True)``) runs again the units without
an ok or skipped outcome, after deleting what their failed attempt stored. Writes happen
in one worker thread, never on the event loop.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from .._exceptions import ConfigurationError
from .._fleet.crawl import Item
from .._fleet.outcomes import Outcome
from .._sinks import Sink, _check_parent, _lock, transaction
from ._catalogue import CATALOGUE, ResourceType
from ._tables import (
    FIXED,
    GLOBAL,
    RESERVED,
    SELF,
    column_type,
    content_hash,
    dumps,
    ident,
    primary_key,
    value,
)

__all__ = ["InventoryRun", "InventoryStore", "Unit"]

Unit = tuple[str | None, str | None, str]
"""(account, region, resource type) as the crawl's targets say them (``None`` for none)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS aiokit_inventory (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY, key TEXT NOT NULL, started TEXT, finished TEXT,
    resource_types TEXT, targets TEXT
);
CREATE TABLE IF NOT EXISTS outcomes (
    run_id INTEGER NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,
    resource_type TEXT NOT NULL, status TEXT, reason TEXT, error TEXT, duration REAL,
    items INTEGER, PRIMARY KEY (run_id, account, region, resource_type)
);
CREATE TABLE IF NOT EXISTS resource_tables (resource_type TEXT PRIMARY KEY, table_name TEXT);
CREATE TABLE IF NOT EXISTS columns (
    table_name TEXT, field TEXT, column_name TEXT, type TEXT, PRIMARY KEY (table_name, field)
);
CREATE TABLE IF NOT EXISTS seen (
    run_id INTEGER NOT NULL, resource_type TEXT NOT NULL, account TEXT NOT NULL,
    region TEXT NOT NULL, key TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (run_id, resource_type, account, region, key)
);
INSERT OR IGNORE INTO aiokit_inventory VALUES ('format', 'aiokit-inventory'), ('version', '1');
"""


def stored(account: str | None, region: str | None) -> tuple[str, str]:
    """The (account, region) stored for a target's: ``self`` and ``global`` for ``None``."""
    return account or SELF, region or GLOBAL


@dataclass(frozen=True)
class InventoryRun:
    """One inventory run: the resource types and targets it asked for.

    Args:
        resource_types: the resource types' names (at least one).
        targets: the (account, region) pairs (``None`` as the crawl's targets have it).

    Raises:
        ConfigurationError: ``resource_types`` is empty or not names, or a target is not
            an (account, region) pair of str or None.
    """

    resource_types: tuple[str, ...]
    targets: tuple[tuple[str | None, str | None], ...] = ()
    run_id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        names: object = self.resource_types
        if isinstance(names, str) or not isinstance(names, tuple | list) or not names:
            raise ConfigurationError(
                f"InventoryRun resource_types must be a non-empty tuple of names, not {names!r}"
            )
        if not all(isinstance(n, str) for n in names):
            raise ConfigurationError(f"InventoryRun resource_types must be str: {names!r}")
        if not isinstance(self.targets, tuple | list) or not all(
            isinstance(t, tuple | list)
            and len(t) == 2
            and all(v is None or isinstance(v, str) for v in t)
            for t in self.targets
        ):
            raise ConfigurationError(
                "InventoryRun targets must be (account, region) pairs of str or None"
            )
        object.__setattr__(self, "resource_types", tuple(names))
        object.__setattr__(self, "targets", tuple(tuple(t) for t in self.targets))

    @property
    def key(self) -> str:
        """What makes two runs the same inventory (for ``resume``)."""
        return dumps([sorted(self.resource_types), sorted(map(list, self.targets), key=str)])


class InventoryStore(Sink):
    """The inventory database; see the module docstring. Resumable; an async context manager.

    Args:
        path: the database file (created if missing).
        catalogue: the resource types the events' listings are named after; the built-in
            ``CATALOGUE`` by default.

    Raises:
        ConfigurationError: ``catalogue`` is not a mapping of resource types.
    """

    def __init__(
        self, path: str | os.PathLike[str], catalogue: Mapping[str, ResourceType] | None = None
    ) -> None:
        catalogue = CATALOGUE if catalogue is None else catalogue
        if not isinstance(catalogue, Mapping) or not all(
            isinstance(v, ResourceType) for v in catalogue.values()
        ):
            raise ConfigurationError("InventoryStore catalogue must map names to ResourceTypes")
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise ConfigurationError(f"InventoryStore path must be a file path, not {path!r}")
        self._path = str(path)
        self._catalogue = catalogue
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._current: InventoryRun | None = None
        self._units: dict[Unit, list[Any]] = {}
        self._tables: dict[str, str] = {}
        self._columns: dict[str, dict[str, str]] = {}
        self._limiter = anyio.CapacityLimiter(1)

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @property
    def run(self) -> InventoryRun | None:
        """The run begun (with its ``run_id``), or ``None`` before ``begin``."""
        return self._current

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def open(self, *, resume: bool = False) -> None:
        """Create, or check, the database now, before any request; idempotent.

        Raises:
            ConfigurationError: the path cannot be written, is a directory, is not SQLite,
                is corrupt, is an SQLite database but not an inventory, or is being
                written by another store.
        """
        if self._db is None:
            self._db = await self._call(self._connect, resume)

    def _connect(self, resume: bool) -> sqlite3.Connection:
        path = Path(self._path)
        _check_parent(path)
        fresh = not path.exists()
        db = None
        try:
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            if not fresh:  # a new file is locked once it exists (after the schema)
                self._take_lock()
            tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "aiokit_inventory" not in tables:
                raise ConfigurationError(
                    f"{self._path!r} is an SQLite database but not an aiokit inventory; "
                    "refusing to write into it"
                )
            if tables and db.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
                raise sqlite3.DatabaseError("database is corrupt")
            if resume and not tables:
                raise ConfigurationError(f"resume: {self._path!r} holds no inventory to resume")
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            if fresh:
                self._take_lock()
            self._load_names(db)
        except sqlite3.DatabaseError as exc:
            self._close(db)
            raise ConfigurationError(
                f"{self._path!r} is not a usable aiokit inventory: {exc}"
            ) from None
        except OSError as exc:
            self._close(db)
            raise ConfigurationError(
                f"cannot write {self._path!r}: {exc.strerror or exc}"
            ) from None
        except BaseException:
            self._close(db)
            if fresh and path.exists() and path.stat().st_size == 0:
                path.unlink()
            raise
        return db

    def _close(self, db: sqlite3.Connection | None) -> None:
        if db is not None:
            db.close()
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock

    def _take_lock(self) -> None:
        # The same advisory lock as the SQLite sink: a second writer is refused, readers not.
        self._lock_fd = os.open(self._path, os.O_RDONLY)
        _lock(self._lock_fd, self._path)

    async def begin(  # type: ignore[override]
        self, run: InventoryRun, *, resume: bool = False
    ) -> set[Unit]:
        """Start a run; with ``resume``, continue the latest unfinished run of the same
        resource types and targets and return its units already done (ok or skipped).

        Raises:
            ConfigurationError: ``run`` is not an ``InventoryRun``, names a resource type
                the catalogue lacks, or (``resume``) the file holds no such run.
        """
        if not isinstance(run, InventoryRun):
            raise ConfigurationError(f"begin() takes an InventoryRun, not {type(run).__name__}")
        for name in run.resource_types:
            if name not in self._catalogue:
                raise ConfigurationError(f"resource type {name!r} is not in the catalogue")
        await self.open(resume=resume)
        self._units.clear()
        return set(await self._call(self._begin, run, resume))

    def _begin(self, run: InventoryRun, resume: bool) -> list[Unit]:
        db = self._db
        assert db is not None
        if resume:
            found = db.execute(
                "SELECT run_id FROM runs WHERE key = ? AND finished IS NULL "
                "ORDER BY run_id DESC LIMIT 1",
                (run.key,),
            ).fetchone()
            if found is None:
                raise ConfigurationError(
                    f"resume: {self._path!r} holds no unfinished run of these resource types "
                    "and targets"
                )
            run_id = found[0]
            with transaction(db):
                # A unit that failed runs again: what its attempt stored goes first.
                failed = db.execute(
                    "SELECT resource_type, account, region FROM outcomes WHERE run_id = ? "
                    "AND status NOT IN ('ok', 'skipped')",
                    (run_id,),
                ).fetchall()
                for name, account, region in failed:
                    self._forget(db, run_id, name, account, region)
                db.execute(
                    "DELETE FROM outcomes WHERE run_id = ? AND status NOT IN ('ok', 'skipped')",
                    (run_id,),
                )
            self._current = InventoryRun(run.resource_types, run.targets, run_id)
            rows = db.execute(
                "SELECT account, region, resource_type FROM outcomes WHERE run_id = ?", (run_id,)
            ).fetchall()
            return [(None if a == SELF else a, None if r == GLOBAL else r, n) for a, r, n in rows]
        with transaction(db):
            cur = db.execute(
                "INSERT INTO runs (key, started, resource_types, targets) VALUES (?, ?, ?, ?)",
                (run.key, _now(), dumps(list(run.resource_types)), dumps(list(run.targets))),
            )
        self._current = InventoryRun(run.resource_types, run.targets, cur.lastrowid)
        return []

    def _forget(
        self, db: sqlite3.Connection, run_id: int, name: str, account: str, region: str
    ) -> None:
        """Undo what run ``run_id`` stored of one unit: its sightings, the versions only it
        saw, and ``last_seen`` back to the run before."""
        db.execute(
            "DELETE FROM seen WHERE run_id = ? AND resource_type = ? AND account = ? "
            "AND region = ?",
            (run_id, name, account, region),
        )
        table = self._tables.get(name)
        if table is None:
            return
        db.execute(
            f'UPDATE "{table}" SET last_seen = (SELECT max(s.run_id) FROM seen s WHERE '
            f's.resource_type = ? AND s.account = "{table}".account AND s.region = '
            f'"{table}".region AND s.key = "{table}".key AND s.hash = "{table}".hash) '
            "WHERE account = ? AND region = ? AND last_seen = ?",
            (name, account, region, run_id),
        )
        db.execute(
            f'DELETE FROM "{table}" WHERE account = ? AND region = ? AND last_seen IS NULL',
            (account, region),
        )

    async def write(self, event: Item | Outcome[Any]) -> None:
        """Record one item, or the outcome of one (target, resource type) unit.

        Raises:
            ConfigurationError: before ``begin``, an event without a listing, or a listing
                named after no resource type of the catalogue.
        """
        if self._current is None or self._db is None:
            raise ConfigurationError("InventoryStore.write() before begin()")
        listing = event.listing
        if listing is None or listing.name not in self._catalogue:
            raise ConfigurationError(
                f"an inventory event needs the listing of a catalogue resource type, not "
                f"{getattr(listing, 'name', None)!r}"
            )
        unit = (event.target.account, event.target.region, listing.name)
        if isinstance(event, Item):
            self._units.setdefault(unit, []).append(event.data)
            return
        records = self._units.pop(unit, [])
        await self._call(self._commit, unit, records, event)

    def _commit(self, unit: Unit, records: list[Any], outcome: Outcome[Any]) -> None:
        db, run = self._db, self._current
        assert db is not None and run is not None and run.run_id is not None
        account, region = stored(unit[0], unit[1])
        rtype = self._catalogue[unit[2]]
        try:
            self._commit_unit(db, run.run_id, rtype, account, region, records, outcome)
        except (TypeError, ValueError, OverflowError) as exc:
            self._load_names(db)
            raise ConfigurationError(
                f"a {rtype.name} record of account {account}, region {region} cannot be "
                f"stored ({exc}); nothing of that unit was written"
            ) from None
        except BaseException:
            self._load_names(db)  # rolled back: tables and columns it made are gone
            raise

    def _load_names(self, db: sqlite3.Connection) -> None:
        self._tables = dict(db.execute("SELECT resource_type, table_name FROM resource_tables"))
        self._columns = {}
        for t, fld, col in db.execute("SELECT table_name, field, column_name FROM columns"):
            self._columns.setdefault(t, {})[fld] = col

    def _commit_unit(
        self,
        db: sqlite3.Connection,
        run_id: int,
        rtype: ResourceType,
        account: str,
        region: str,
        records: list[Any],
        outcome: Outcome[Any],
    ) -> None:
        # The unit's records and the outcome that vouches for them: one transaction.
        with transaction(db):
            table = self._table(db, rtype.name)
            for record in records:
                self._store(db, table, rtype, run_id, account, region, record)
            db.execute(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    account,
                    region,
                    rtype.name,
                    outcome.status.value,
                    outcome.reason,
                    None
                    if outcome.error is None
                    else f"{type(outcome.error).__name__}: {outcome.error}",
                    outcome.duration,
                    len(records),
                ),
            )

    def _table(self, db: sqlite3.Connection, name: str) -> str:
        table = self._tables.get(name)
        if table is None:
            table = ident(name, RESERVED | {t.lower() for t in self._tables.values()})
            db.execute(
                f'CREATE TABLE "{table}" (account TEXT NOT NULL, region TEXT NOT NULL, '
                "key TEXT NOT NULL, hash TEXT NOT NULL, first_seen INTEGER, last_seen INTEGER, "
                "record TEXT NOT NULL, PRIMARY KEY (account, region, key, hash))"
            )
            db.execute(f'CREATE INDEX "{table}_cell" ON "{table}" (account, region)')
            db.execute("INSERT INTO resource_tables VALUES (?, ?)", (name, table))
            self._tables[name] = table
        return table

    def _column(self, db: sqlite3.Connection, table: str, fld: str, sample: Any) -> str:
        columns = self._columns.setdefault(table, {})
        column = columns.get(fld)
        if column is None:
            # A new field adds a column; an existing one keeps its name and declared type.
            column = ident(fld, set(FIXED) | {c.lower() for c in columns.values()})
            kind = column_type(sample)
            db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {kind}')
            db.execute("INSERT INTO columns VALUES (?, ?, ?, ?)", (table, fld, column, kind))
            columns[fld] = column
        return column

    def _store(
        self,
        db: sqlite3.Connection,
        table: str,
        rtype: ResourceType,
        run_id: int,
        account: str,
        region: str,
        record: Any,
    ) -> None:
        digest = content_hash(record)
        key = primary_key(rtype.primary_key, record, digest)
        fields = record if isinstance(record, dict) else {}
        cols = [self._column(db, table, f, v) for f, v in fields.items() if v is not None]
        vals = [value(v) for v in fields.values() if v is not None]
        first = db.execute(
            f'SELECT min(first_seen) FROM "{table}" WHERE account = ? AND region = ? AND key = ?',
            (account, region, key),
        ).fetchone()[0]
        names = ", ".join(f'"{c}"' for c in ("account", "region", "key", "hash", *cols))
        marks = ", ".join("?" * (4 + len(cols)))
        db.execute(
            f'INSERT INTO "{table}" ({names}, first_seen, last_seen, record) '
            f"VALUES ({marks}, ?, ?, ?) ON CONFLICT (account, region, key, hash) "
            "DO UPDATE SET last_seen = excluded.last_seen",
            (account, region, key, digest, *vals, first or run_id, run_id, dumps(record)),
        )
        # A key seen twice in one unit (a listing that repeats a record) is one resource.
        db.execute(
            "INSERT OR REPLACE INTO seen VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, rtype.name, account, region, key, digest),
        )

    async def finish(self) -> None:
        """Mark the run finished: it is then a snapshot ``diff`` compares."""
        if self._db is not None and self._current is not None:
            await self._call(self._finish)

    def _finish(self) -> None:
        assert self._db is not None and self._current is not None
        with transaction(self._db):
            self._db.execute(
                "UPDATE runs SET finished = ? WHERE run_id = ?", (_now(), self._current.run_id)
            )

    async def aclose(self) -> None:
        """Close the database; the records of units without an outcome are dropped (a
        resumed run lists them again). Idempotent."""
        db, self._db = self._db, None
        self._units.clear()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._close, db, limiter=self._limiter)

    async def __aenter__(self) -> InventoryStore:
        await self.open()
        return self

    def to_pandas(self, run_id: int | None = None) -> dict[str, Any]:
        """One DataFrame per resource type; see :func:`aiokit.inventory.to_pandas`."""
        from ._diff import to_pandas

        return to_pandas(self._path, run_id)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()
