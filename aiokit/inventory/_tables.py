"""How a resource type's records become rows: table and column names, typed values, keys.

Table names are the resource type's name with every character that is not a letter, digit
or ``_`` made ``_`` (``ec2.instances`` -> ``ec2_instances``), ``t_`` in front of a leading
digit, and ``_2``, ``_3``... after a name already taken (``a-b.c`` and ``a.b_c``); the
``resource_tables`` table maps each resource type to its table, so a name never changes.
Columns are named the same way from a record's top-level fields and kept in ``columns``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from typing import Any

import jmespath

__all__ = ["GLOBAL", "SELF", "FIXED", "column_type", "content_hash", "dumps", "ident", "value"]

GLOBAL = "global"
"""The region stored for a global resource type's target (its ``region`` is ``None``)."""

SELF = "self"
"""The account stored for a target without one (the pool's own identity's account)."""

# The columns every resource table has; a record field of one of these names gets a suffix.
FIXED = ("account", "region", "key", "hash", "first_seen", "last_seen", "record")

RESERVED = {"runs", "outcomes", "seen", "columns", "resource_tables", "aiokit_inventory"}


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime.datetime | datetime.date):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return str(obj)


def dumps(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, timestamps as ISO-8601."""
    return json.dumps(obj, default=_default, separators=(",", ":"), sort_keys=True)


def content_hash(record: Any) -> str:
    """The SHA-256 of a record's canonical JSON: equal records, equal hashes."""
    return hashlib.sha256(dumps(record).encode()).hexdigest()


def ident(name: str, taken: set[str]) -> str:
    """A valid, unquoted SQL identifier for ``name``, not in ``taken`` (compared lowercase:
    SQLite's names are case-insensitive)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
    if base[0].isdigit():
        base = "t_" + base
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base}_{n}"
    return candidate


_INT64 = range(-(2**63), 2**63)


def column_type(obj: Any) -> str:
    """The declared SQLite type of a new column for a field first seen holding ``obj``."""
    if isinstance(obj, bool) or (isinstance(obj, int) and obj in _INT64):
        return "INTEGER"
    if isinstance(obj, float):
        return "REAL"
    return "TEXT"  # str, ISO-8601 timestamps, and nested values as JSON text


def value(obj: Any) -> Any:
    """What a field's value is stored as: scalars as they are (an integer beyond 64 bits as
    its digits), timestamps as ISO-8601 text,
    nested values (and anything else) as JSON text; ``None`` as NULL."""
    if isinstance(obj, int) and obj not in _INT64:
        return str(obj)  # beyond SQLite's 64-bit integers: its digits, as text
    if obj is None or isinstance(obj, str | int | float):
        return int(obj) if isinstance(obj, bool) else obj
    if isinstance(obj, datetime.datetime | datetime.date):
        return obj.isoformat()
    return dumps(obj)


def primary_key(expression: str, record: Any, digest: str) -> str:
    """The record's key by ``expression``; a record without one (no match, or a nested
    value) is keyed by its content: ``"sha256:<hash>"`` (so a change to it reads as one
    resource removed and one added)."""
    found = jmespath.search(expression, record)
    if isinstance(found, str) and found:
        return found
    if isinstance(found, int | float) and not isinstance(found, bool):
        return str(found)
    return f"sha256:{digest}"
