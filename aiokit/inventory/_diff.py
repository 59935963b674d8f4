"""Read an inventory: ``diff`` two runs (snapshots), ``to_pandas`` one.

A resource is *added* in run B when B saw it and A did not, *removed* when A saw it and B's
unit for it (its account, region and resource type) ended ok without it, *changed* when
both saw it with different content; a resource of a unit B did not finish ok (failed,
skipped or not asked) is *unknown*: B cannot say it is gone. Likewise a resource B saw in
a unit A did not finish ok is unknown, not added.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._exceptions import ConfigurationError

__all__ = ["Diff", "FieldChange", "ResourceChange", "diff", "to_pandas"]


@dataclass(frozen=True)
class FieldChange:
    """One top-level field that differs (``"@"`` for a record that is not an object)."""

    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ResourceChange:
    """One resource in a diff; ``fields`` only for a changed one."""

    resource_type: str
    account: str
    region: str
    key: str
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class Diff:
    """What changed from run ``run_a`` to run ``run_b``; each list sorted."""

    run_a: int
    run_b: int
    added: list[ResourceChange] = field(default_factory=list)
    removed: list[ResourceChange] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)
    unknown: list[ResourceChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The diff as JSON-ready data."""

        def one(c: ResourceChange) -> dict[str, Any]:
            d: dict[str, Any] = {
                "resource_type": c.resource_type,
                "account": c.account,
                "region": c.region,
                "key": c.key,
            }
            if c.fields:
                d["fields"] = [{"name": f.name, "old": f.old, "new": f.new} for f in c.fields]
            return d

        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            **{
                k: [one(c) for c in getattr(self, k)]
                for k in ("added", "removed", "changed", "unknown")
            },
        }


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """The inventory at ``path``, read-only.

    Raises:
        ConfigurationError: the file is missing, a directory, not SQLite, corrupt, or not
            an aiokit inventory.
    """
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise ConfigurationError(f"inventory path must be a file path, not {path!r}")
    p = Path(path)
    if p.is_dir():
        raise ConfigurationError(f"{str(p)!r} is a directory, not an aiokit inventory")
    if not p.is_file():
        raise ConfigurationError(f"no inventory at {str(p)!r}: the file does not exist")
    db = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "aiokit_inventory" not in tables:
            raise ConfigurationError(f"{str(p)!r} is not an aiokit inventory")
        db.execute("SELECT count(*) FROM runs").fetchone()
    except sqlite3.DatabaseError as exc:
        db.close()
        raise ConfigurationError(f"{str(p)!r} is not a usable aiokit inventory: {exc}") from None
    except BaseException:
        db.close()
        raise
    return db


def _run_id(db: sqlite3.Connection, path: object, run: object, what: str) -> int:
    if isinstance(run, str) and run.strip().isdigit():
        run = int(run)
    if not isinstance(run, int) or isinstance(run, bool):
        raise ConfigurationError(f"{what} must be a run id (an integer), not {run!r}")
    if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run,)).fetchone() is None:
        known = [r for (r,) in db.execute("SELECT run_id FROM runs ORDER BY run_id")]
        raise ConfigurationError(f"{what}: {str(path)!r} has no run {run} (its runs: {known})")
    return run


def _runs(db: sqlite3.Connection, path: object, run_a: object, run_b: object) -> tuple[int, int]:
    if run_a is not None and run_b is not None:
        return _run_id(db, path, run_a, "run_a"), _run_id(db, path, run_b, "run_b")
    finished = [
        r
        for (r,) in db.execute("SELECT run_id FROM runs WHERE finished IS NOT NULL ORDER BY run_id")
    ]
    if run_a is not None:  # one run given: compare it with the last finished run after it
        a = _run_id(db, path, run_a, "run_a")
        later = [r for r in finished if r > a]
        if not later:
            raise ConfigurationError(f"{str(path)!r} has no finished run after run {a}")
        return a, later[-1]
    if len(finished) < 2:
        raise ConfigurationError(
            f"{str(path)!r} has {len(finished)} finished run(s): a diff needs two"
        )
    return finished[-2], finished[-1]


def diff(
    path: str | os.PathLike[str], run_a: int | str | None = None, run_b: int | str | None = None
) -> Diff:
    """What changed in the inventory at ``path`` from ``run_a`` to ``run_b``; blocking.

    Args:
        path: the inventory database.
        run_a: the older run's id; by default the second-to-last finished run.
        run_b: the newer run's id; by default the last finished run (or, with only
            ``run_a``, the last finished run after it).

    Raises:
        ConfigurationError: a missing, corrupt or foreign file; a run id that is not an
            integer or not in the file; fewer than two finished runs.
    """
    db = connect(path)
    try:
        a, b = _runs(db, path, run_a, run_b)
        return _diff(db, a, b)
    finally:
        db.close()


def _ok_units(db: sqlite3.Connection, run: int) -> set[tuple[str, str, str]]:
    rows = db.execute(
        "SELECT resource_type, account, region FROM outcomes WHERE run_id = ? AND status = 'ok'",
        (run,),
    )
    return {(t, a, r) for t, a, r in rows}


def _seen(db: sqlite3.Connection, run: int) -> dict[tuple[str, str, str, str], str]:
    rows = db.execute(
        "SELECT resource_type, account, region, key, hash FROM seen WHERE run_id = ?", (run,)
    )
    return {(t, a, r, k): h for t, a, r, k, h in rows}


def _record(db: sqlite3.Connection, tables: dict[str, str], res: tuple[str, ...], h: str) -> Any:
    t, a, r, k = res
    row = db.execute(
        f'SELECT record FROM "{tables[t]}" WHERE account = ? AND region = ? AND key = ? '
        "AND hash = ?",
        (a, r, k, h),
    ).fetchone()
    return json.loads(row[0])


def _fields(old: Any, new: Any) -> tuple[FieldChange, ...]:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return (FieldChange("@", old, new),)
    return tuple(
        FieldChange(n, old.get(n), new.get(n))
        for n in sorted(old.keys() | new.keys())
        if old.get(n) != new.get(n)
    )


def _diff(db: sqlite3.Connection, a: int, b: int) -> Diff:
    seen_a, seen_b = _seen(db, a), _seen(db, b)
    ok_a, ok_b = _ok_units(db, a), _ok_units(db, b)
    tables = dict(db.execute("SELECT resource_type, table_name FROM resource_tables"))
    result = Diff(a, b)
    for res in sorted(seen_a.keys() | seen_b.keys()):
        unit = res[:3]
        change = ResourceChange(*res)
        if unit not in ok_b or (res not in seen_a and unit not in ok_a):
            result.unknown.append(change)
        elif res not in seen_a:
            result.added.append(change)
        elif res not in seen_b:
            result.removed.append(change)
        elif seen_a[res] != seen_b[res]:
            old = _record(db, tables, res, seen_a[res])
            new = _record(db, tables, res, seen_b[res])
            result.changed.append(ResourceChange(*res, fields=_fields(old, new)))
    return result


def to_pandas(path: str | os.PathLike[str], run_id: int | str | None = None) -> dict[str, Any]:
    """One pandas DataFrame per resource type (the dict's keys), of one run's snapshot.

    Each frame has the table's columns (account, region, key, the typed fields, record...)
    for the resources the run saw. ``account`` is ``"self"`` for a target without one and
    ``region`` ``"global"`` for a global resource type.

    Args:
        path: the inventory database.
        run_id: the run; the latest by default.

    Raises:
        ConfigurationError: a missing, corrupt or foreign file, a bad run id, a file
            without runs, or pandas not installed.
    """
    try:
        import pandas as pd
    except ImportError:
        raise ConfigurationError("to_pandas() needs pandas: pip install pandas") from None
    db = connect(path)
    try:
        if run_id is None:
            last = db.execute("SELECT max(run_id) FROM runs").fetchone()[0]
            if last is None:
                raise ConfigurationError(f"{str(path)!r} holds no run")
            run = int(last)
        else:
            run = _run_id(db, path, run_id, "run_id")
        frames = {}
        for name, table in db.execute(
            "SELECT resource_type, table_name FROM resource_tables"
        ).fetchall():
            frames[name] = pd.read_sql_query(
                f'SELECT t.* FROM "{table}" t JOIN seen s ON s.resource_type = ? AND '
                "s.account = t.account AND s.region = t.region AND s.key = t.key AND "
                "s.hash = t.hash WHERE s.run_id = ? ORDER BY t.account, t.region, t.key",
                db,
                params=(name, run),
            )
        return frames
    finally:
        db.close()
