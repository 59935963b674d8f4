"""The command line's consoles (stdout for items, stderr for the human), its handled
failure and its exit codes."""

from __future__ import annotations

import errno
import sys

from rich.console import Console

import aiokit

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNFINISHED",
    "EXIT_USAGE",
    "Failure",
    "check_stdout",
    "err",
    "out",
]


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich's default exits 1 on the spot; a closed stdout (`| head`) is handled as the
        # BrokenPipeError it is, by the one place that turns it into a quiet exit.
        raise BrokenPipeError(errno.EPIPE, "the reader of stdout went away")


class _StderrConsole(_Console):
    def _check_buffer(self) -> None:
        # stderr is for the human; the exit code and the output say what happened. A stderr
        # that cannot be written (`2>/dev/full`, a log on a full disk, a closed pipe) must not
        # turn a crawl that worked into exit code 1: what it cannot take is dropped.
        try:
            super()._check_buffer()
        except OSError:
            self.quiet = True
            del self._buffer[:]


err = _StderrConsole(stderr=True, soft_wrap=True)
out = _Console(soft_wrap=True)


class Failure(Exception):
    """A handled failure: message already printed; exit with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# Exit codes: see the module docstring and docs/guides/cli.md.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNFINISHED = 0, 1, 2, 3
# The reader of stdout went away (`| head -1`): it has what it wanted, as with the AWS CLI
# and `grep | head`; exit 0, quietly, not 141 (which fails a `set -o pipefail` script).
EXIT_BROKEN_PIPE = EXIT_OK


def check_stdout() -> None:
    """Items that go to stdout need one: started with it closed (``>&-``), Python has none,
    and rich would print into nothing and exit 0. Checked before the first request."""
    if sys.stdout is None:
        raise aiokit.ConfigurationError(
            "cannot write the output: stdout is closed; pass --out PATH or open stdout"
        )
