"""The command line's one output layer: ``--output json|jsonl|text|table|yaml`` on every
command that prints data, the default when it is not given, and one printer per format.

The default: ``table`` on a terminal for a command whose output is a set of records
(``targets``, ``inventory list``/``diff``, a ``call`` fan-out's outcomes, a ``crawl``'s
items); otherwise, and whenever stdout is not a terminal, nothing decorative: ``json``
(one document), or ``jsonl`` (one JSON value a line) for the commands that stream records
(``crawl``, a ``call`` fan-out).

- ``json``: one JSON document (indented by 4, as the AWS CLI's).
- ``jsonl``: one JSON value a line (a list's elements one a line).
- ``text``: the AWS CLI's tab-separated text (see :func:`text_lines`).
- ``table``: a rich table: a list of records as rows, its columns the records' keys,
  nested values as compact JSON; a mapping's scalars as key/value rows and each of its
  lists of records as a table of its own.
- ``yaml``: YAML, with PyYAML (in the ``cli`` extra); without it, one clear error before
  any request.

Timestamps are ISO 8601 in every format (``2026-12-01T18:11:32+00:00``): one encoding,
the sinks' (``_json.py``).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

import aiokit

from ._console import err, out
from ._json import dumps, text

__all__ = [
    "OUTPUTS",
    "Records",
    "choose",
    "output_option",
    "print_value",
    "tables",
    "text_lines",
    "warn_deprecated",
    "write_line",
]

OUTPUTS = ("json", "jsonl", "text", "table", "yaml")


def output_option(default: str, choices: tuple[str, ...] = OUTPUTS) -> Callable[[Any], Any]:
    """The ``--output`` option, its help saying this command's default."""
    return click.option(
        "--output",
        type=click.Choice(choices),
        default=None,
        help=f"Output format: {', '.join(choices)} (default: {default}).",
    )


def warn_deprecated(old: str, new: str) -> None:
    """One line on stderr: ``old`` still works, ``new`` is its name now."""
    err.print(
        f"[yellow]warning:[/] {old} is deprecated: use {new} (it takes the same values)",
        highlight=False,
        soft_wrap=True,
    )


def choose(output: str | None, *, records: bool, stream: bool = False) -> str:
    """The format to print in: ``output`` if given, else the default (see the module
    docstring). ``yaml`` without PyYAML is a :class:`aiokit.MissingDependencyError` here,
    before any request."""
    if output == "yaml":
        _yaml()
    if output is not None:
        return output
    if records and out.is_terminal:
        return "table"
    return "jsonl" if stream else "json"


def _yaml() -> Any:
    try:
        return importlib.import_module("yaml")
    except ImportError:
        raise aiokit.MissingDependencyError(
            "--output yaml needs PyYAML, in the cli extra: pip install 'aiokit[cli]' "
            "(or pip install pyyaml)"
        ) from None


# --- the printers -------------------------------------------------------------------------------


def write_line(line: str) -> None:
    """One line on stdout, as it is."""
    # Not through rich: it would turn the text output's tabs into spaces.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def print_value(
    value: Any, output: str, *, title: str | None = None, console: Console = out
) -> None:
    """``value`` (one result: a response, a merged listing, a list of records) in
    ``output``'s format on stdout (a table on ``console``)."""
    if output == "json":
        write_line(dumps(value, indent=4))
    elif output == "jsonl":
        for v in value if isinstance(value, list) else [value]:
            write_line(dumps(v))
    elif output == "text":
        for line in text_lines(value):
            write_line(line)
    elif output == "yaml":
        sys.stdout.write(yaml_text(value))
        sys.stdout.flush()
    else:
        for table in tables(value, title):
            console.print(table)


def yaml_text(value: Any) -> str:
    """``value`` as YAML, its timestamps and bytes encoded as in JSON (ISO 8601, UTF-8)."""
    plain = json.loads(dumps(value))
    return str(_yaml().safe_dump(plain, sort_keys=False, allow_unicode=True))


class Records:
    """Records printed as they come (``jsonl``, ``text``) or all at the end (``json``,
    ``yaml`` and ``table``: one document, one table).

    Args:
        output: the format.
        title: the table's title.
        line: one record as a ``text`` line (default: the AWS CLI's text of it).
        row: one record as a table row (default: as it is).
        sort: the key the table's rows are sorted by (default: in the order added).
    """

    def __init__(
        self,
        output: str,
        *,
        title: str | None = None,
        line: Callable[[Any], str] | None = None,
        row: Callable[[Any], Any] | None = None,
        sort: Callable[[Any], Any] | None = None,
    ) -> None:
        self.output = output
        self.title = title
        self._line = line
        self._row = row
        self._sort = sort
        self._kept: list[Any] = []

    def add(self, record: Any) -> None:
        """Print ``record`` now (jsonl, text), or keep it for :meth:`close`."""
        if self.output == "jsonl":
            write_line(dumps(record))
        elif self.output == "text":
            if self._line is not None:
                write_line(self._line(record))
            else:
                for line in text_lines(record):
                    write_line(line)
        else:
            self._kept.append(record)

    def close(self) -> None:
        """Print what was kept: one JSON or YAML document, or one table."""
        if self.output not in ("json", "yaml", "table"):
            return
        kept = self._kept
        if self.output == "table":
            if self._sort is not None:
                kept = sorted(kept, key=self._sort)
            if self._row is not None:
                kept = [self._row(r) for r in kept]
            if not kept:
                return  # nothing to show: no empty box (the summary on stderr says 0)
        print_value(kept, self.output, title=self.title)


# --- table ------------------------------------------------------------------------------------


def _cell(value: Any) -> Text:
    # Text, not markup: AWS data may hold "[bold]" and the like, to be shown as it is.
    return Text("" if value is None else text(value))


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _records_table(records: list[dict[str, Any]], title: str | None) -> Table:
    table = Table(title=title, title_justify="left")
    columns = list(dict.fromkeys(k for r in records for k in r))
    for column in columns:
        table.add_column(column, overflow="fold")  # ids, ARNs and URLs whole, not cut
    for r in records:
        table.add_row(*(_cell(r.get(c)) for c in columns))
    return table


def tables(value: Any, title: str | None = None) -> Iterator[Table]:
    """``value`` as rich tables: a list of records as rows and columns; a mapping's scalars
    as key/value rows, then each of its lists of records as its own table (a merged
    listing's ``Contents``); a list of scalars, or a scalar, in one column."""
    if _is_records(value):
        yield _records_table(value, title)
        return
    if isinstance(value, dict):
        nested = {k: v for k, v in value.items() if _is_records(v)}
        rest = {k: v for k, v in value.items() if k not in nested}
        if rest or not nested:
            table = Table(title=title, title_justify="left")
            table.add_column("key")
            table.add_column("value", overflow="fold")
            for k, v in rest.items():
                table.add_row(Text(str(k)), _cell(v))
            yield table
        for key, records in nested.items():
            yield _records_table(records, f"{title} {key}" if title else key)
        return
    table = Table(title=title, title_justify="left")
    table.add_column("value", overflow="fold")
    for v in value if isinstance(value, list) else [value]:
        table.add_row(_cell(v))
    yield table


# --- text: the AWS CLI's ----------------------------------------------------------------------


def text_lines(value: Any, identifier: str | None = None) -> Iterator[str]:
    """``value`` as the AWS CLI's ``--output text`` prints it: a mapping's scalars on one
    tab-separated line (keys sorted, prefixed by the upper-cased key it came under), its
    lists and mappings below; a list of mappings one line each, with the same columns; a
    list of scalars on one tab-separated line."""
    if isinstance(value, dict):
        yield from _text_dict(value, identifier, None)
    elif isinstance(value, list):
        yield from _text_list(value, identifier)
    elif value is not None:
        yield text(value)
    elif identifier is None:
        yield "None"  # a --query that matched nothing, as the AWS CLI prints it


def _text_list(items: list[Any], identifier: str | None) -> Iterator[str]:
    if any(isinstance(v, dict) for v in items):
        columns = sorted(
            {k for v in items if isinstance(v, dict) for k, x in v.items() if not _nested(x)}
        )
        for v in items:
            if isinstance(v, dict):
                yield from _text_dict(v, identifier, columns)
            else:
                yield from text_lines(v, identifier)
        return
    scalars = [v for v in items if not _nested(v)]
    if scalars:
        if identifier is None:
            yield "\t".join(_scalar(v) for v in scalars)
        else:
            yield from (f"{identifier.upper()}\t{_scalar(v)}" for v in scalars)
    for v in items:
        if _nested(v):
            yield from text_lines(v, identifier)


def _text_dict(
    item: dict[str, Any], identifier: str | None, columns: list[str] | None
) -> Iterator[str]:
    if columns is None:
        columns = sorted(k for k, v in item.items() if not _nested(v))
    scalars = [_scalar(item.get(k)) for k in columns]
    if scalars:
        yield "\t".join([identifier.upper(), *scalars] if identifier else scalars)
    for key in sorted(set(item) - set(columns)):
        if _nested(item[key]):
            yield from text_lines(item[key], key)


def _scalar(value: Any) -> str:
    """A scalar as the AWS CLI's text prints it: ``None`` for a null, one line."""
    return "None" if value is None else " ".join(text(value).split("\n"))


def _nested(value: Any) -> bool:
    return isinstance(value, dict | list)
