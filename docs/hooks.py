"""mkdocs hooks for the aiokit docs (see ``hooks:`` in mkdocs.yml).

- ``<!-- aiokit:exception-tree -->`` in a page becomes the tree drawn in
  ``aiokit/_exceptions.py``'s docstring, so the docs cannot drift from the code.
- reST leftovers in docstrings render cleanly: roles (``:class:`Target```) as plain code,
  and the ``::`` that introduces a code example is dropped (a lone ``::``) or becomes ``:``.
  mkdocstrings reads docstrings as Markdown and would show them as typed.
- Known docstring problems in modules under active change are logged as info, not warnings,
  so ``mkdocs build --strict`` tests everything else. Remove an entry once it is fixed.
"""

from __future__ import annotations

import logging
import re
import textwrap
from typing import Any

# (file, message start) of griffe warnings to log as info; each is a docstring to fix.
KNOWN_DOCSTRING_ISSUES: list[tuple[str, str]] = []

_ROLE = re.compile(r":(?:class|meth|func|attr|exc|mod|data|obj):(<code>)~?")
_LONE_COLONS = re.compile(r"<p>::</p>\s*")
_TRAILING_COLONS = re.compile(r"::</p>")
_TREE_MARKER = "<!-- aiokit:exception-tree -->"


class _Demote(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            message = record.getMessage()
            if any(f in message and m in message for f, m in KNOWN_DOCSTRING_ISSUES):
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def on_config(config: Any) -> Any:
    logger = logging.getLogger("mkdocs.plugins.griffe")
    if not any(isinstance(f, _Demote) for f in logger.filters):
        logger.addFilter(_Demote())
    return config


def exception_tree() -> str:
    """The indented block after ``::`` in the exceptions module's docstring."""
    from aiokit import _exceptions

    doc = _exceptions.__doc__ or ""
    _, _, rest = doc.partition("::\n")
    lines: list[str] = []
    for line in rest.splitlines():
        if line.strip() and not line.startswith(" "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines)).strip("\n")


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if _TREE_MARKER in markdown:
        markdown = markdown.replace(_TREE_MARKER, f"```text\n{exception_tree()}\n```")
    return markdown


def on_page_content(html: str, **kwargs: Any) -> str:
    html = _ROLE.sub(r"\1", html)
    html = _LONE_COLONS.sub("", html)
    return _TRAILING_COLONS.sub(":</p>", html)
