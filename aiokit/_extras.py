"""Optional dependencies: a missing one is one line naming the extra that installs it."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from ._exceptions import MissingDependencyError

__all__ = ["cli_main", "import_extra"]


def import_extra(module: str, extra: str, feature: str) -> ModuleType:
    """``import module``, or :class:`MissingDependencyError` naming
    ``pip install 'aiokit[extra]'``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module.split(".")[0]:
            raise  # the package is there but broken: its own error says more
        raise MissingDependencyError(
            f"{feature} needs {module}, which is not installed: pip install 'aiokit[{extra}]'"
        ) from None


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
