"""The command line's own dependencies, checked before anything imports them.

``pip install aiokit`` installs the library only; the ``aiokit`` command needs the ``cli``
extra. Without it, running ``aiokit`` says which extra to install, in one line, and exits 2,
rather than ending in an ``ImportError`` traceback.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["require_cli_extra"]

_NEEDED = ("click", "rich")


def _missing() -> list[str]:
    missing = []
    for name in _NEEDED:
        if name in sys.modules:
            if sys.modules[name] is None:  # blocked (python -c 'sys.modules["click"] = None')
                missing.append(name)
            continue
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


def require_cli_extra() -> None:
    """Exit 2 with one line naming the extra when click or rich is missing."""
    missing = _missing()
    if missing:
        sys.stderr.write(
            f"error: the aiokit command needs the cli extra ({', '.join(missing)} not "
            "installed): pip install 'aiokit[cli]'\n"
        )
        raise SystemExit(2)
