"""Optional dependencies: a missing one is one line naming the extra that installs it.

The library's side of ``aiokit._extras`` (which is also the ``aiokit`` command's entry
point, and so sits above the command line in the import graph, where this cannot)."""

from __future__ import annotations

import importlib
from types import ModuleType

from ._exceptions import MissingDependencyError

__all__ = ["import_extra"]


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
