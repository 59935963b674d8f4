"""``aiokit crawl --workers N`` and ``--dask ADDRESS_OR_FILE``: where a crawl's targets run.

Both are checked before the output is opened (a typo must not empty an earlier ``--out``).
``--workers N`` is ``runner=aiokit.Processes(n)`` with ``n`` capped at the number of
accounts the crawl visits: targets are sharded by account, so a worker beyond that would
have nothing to do (``--workers 10000`` on 6 accounts starts at most 6 processes).
``--dask`` is ``runner=aiokit.dask.DaskRunner(...)``: a value naming an existing file is a
scheduler file, any other an address (``tcp://host:8786``); ``aiokit.dask`` is imported
only then, and without ``distributed`` the error names the extra ``aiokit[dask]``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import click

import aiokit

from .._fleet.runners import Runner
from .._optional import import_extra

__all__ = ["RunnerChoice", "choose_runner", "describe"]


@dataclass(frozen=True)
class RunnerChoice:
    """What ``--workers`` / ``--dask`` asked for; :meth:`runner` makes the runner."""

    workers: int | None = None
    dask: Runner | None = None  # made (and so checked) up front

    def runner(self, targets: Iterable[aiokit.Target]) -> Runner | None:
        """The runner for a crawl of ``targets`` (``None``: in this process)."""
        if self.dask is not None:
            return self.dask
        if self.workers is None:
            return None
        accounts = len({t.account for t in targets})
        return aiokit.Processes(max(1, min(self.workers, accounts)))


def describe(runner: Runner, shards: int) -> str:
    """Where the crawl ran, for the summary line: ``shards`` worker processes had targets."""
    if isinstance(runner, aiokit.Processes):
        return f"{shards} worker process{'es' if shards != 1 else ''}"
    return f"a Dask cluster of {runner.workers} worker{'s' if runner.workers != 1 else ''}"


async def choose_runner(workers: int | None, dask: str | None) -> RunnerChoice:
    """``--workers`` / ``--dask`` checked: a usage error, or what to run the crawl on."""
    if workers is not None and dask is not None:
        raise click.UsageError(
            "--workers and --dask exclude each other: local processes or a Dask cluster"
        )
    if dask is None:
        return RunnerChoice(workers=workers)
    # In a thread: it looks at the file system, and importing distributed takes a while.
    return RunnerChoice(dask=await anyio.to_thread.run_sync(_dask_runner, dask))


def _dask_runner(value: str) -> Runner:
    if not value.strip():
        raise click.BadParameter(
            "give the scheduler's address (tcp://host:8786) or a scheduler file",
            param_hint="'--dask'",
        )
    path = Path(value)
    if path.is_dir():
        raise click.BadParameter(
            f"{value!r} is a directory, not a scheduler file", param_hint="'--dask'"
        )
    if not path.exists() and "://" not in value and ("/" in value or value.endswith(".json")):
        raise click.BadParameter(  # a path, not an address (host:port or tcp://...)
            f"no such scheduler file {value!r}", param_hint="'--dask'"
        )
    import_extra("distributed", "dask", "aiokit crawl --dask")
    dask: Any = importlib.import_module("aiokit.dask")
    try:
        if path.is_file():
            runner: Runner = dask.DaskRunner(scheduler_file=str(path))
        else:
            runner = dask.DaskRunner(value)
    except aiokit.ConfigurationError as exc:
        raise aiokit.ConfigurationError(f"--dask {value!r}: {exc}") from None
    return runner
