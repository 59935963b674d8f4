"""``python -m aiokit.cli``: the same as the ``aiokit`` command."""

from . import main

main()
