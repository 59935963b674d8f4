"""Small HTML tables: what Jupyter shows for a Report, an Outcome or a Target.

Every cell is escaped: the reprs show AWS data (names, tags, error messages), which is not
trusted.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["html_table"]


def html_table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str | None = None
) -> str:
    """A small HTML table, every cell escaped (reprs show AWS data, which is not trusted)."""
    parts = ["<table>"]
    if caption is not None:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = "".join(f"<td>{html.escape(_cell(value))}</td>" for value in row)
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</table>")
    return "".join(parts)


def _cell(value: Any, limit: int = 120) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
