"""The one JSON encoding of the command line's output: every command (``paginate``,
``crawl``, ``call``, ``inventory``) prints timestamps in ISO 8601, as the sinks store them
and as the AWS CLI prints them (``2026-12-01T18:11:32+00:00``)."""

from __future__ import annotations

import json
from typing import Any

from .._sinks import json_default

__all__ = ["dumps", "text"]


def dumps(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON, with the sinks' encoding of datetimes and bytes."""
    return json.dumps(value, default=json_default, indent=indent)


def text(value: Any) -> str:
    """``value`` for a tab-separated line: strings as they are, datetimes in ISO 8601,
    lists and mappings as JSON, anything else as its ``str``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return dumps(value)
    return str(json_default(value))  # a datetime's isoformat(), or str()
