"""The ``aiokit`` command's entry point: one line and exit 2 without the ``cli`` extra.

It imports the command line, so the library never imports it: ``import_extra`` lives in
``_optional`` (re-exported here)."""

from __future__ import annotations

import sys

from ._optional import import_extra

__all__ = ["cli_main", "import_extra"]


# What `pip install 'aiokit[cli]'` adds for the command line.
_CLI_MODULES = {"click", "rich", "jmespath", "moto", "flask", "werkzeug"}


def cli_main() -> None:
    """The ``aiokit`` command: one line and exit 2 when the ``cli`` extra is missing."""
    try:
        from .cli import main
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _CLI_MODULES:
            raise
        print(
            f"aiokit: the command line needs the cli extra ({exc.name} is not installed): "
            "pip install 'aiokit[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    main()
