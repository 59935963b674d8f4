"""What the worker processes' fork server loads before it forks them (``Processes(n)``).

Imported in multiprocessing's fork server, never in a driver: aiokit (and with it
botocore, aiobotocore and anyio), the botocore data every worker reads (endpoints,
partitions, the default configuration, STS, which every role assumption uses) and the
service models named by ``AIOKIT_PRELOAD_SERVICES`` (the crawl's services, set by the
driver while it starts the server), into the process-wide loader
(:func:`aiokit._botocore.loaders.shared_loader`). Then ``gc.freeze()``: every object so far
moves to the collector's permanent generation, so a worker's collections never walk (and
never write to) them, and the pages they are on stay shared between the server and every
worker forked from it instead of being copied into each (copy-on-write).

Measured (``python -m benchmarks.bench_scaleout``): see ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys

import aiokit
import aiokit._workers  # aiokit, botocore, aiobotocore, anyio
from aiokit._botocore.loaders import shared_loader

from .forkserver import PACKAGE_VARIABLE, SERVICES_VARIABLE

#: Loaded for every crawl: role assumption, endpoint resolution, defaults.
ALWAYS = ("sts",)


def _load(services: list[str]) -> None:
    loader = shared_loader()
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        with contextlib.suppress(Exception):
            loader.load_data(name)
    for service in services:
        for kind in ("service-2", "paginators-1", "waiters-2", "endpoint-rule-set-1"):
            with contextlib.suppress(Exception):  # not every service has each; a bad name
                loader.load_service_model(service, kind)


def _other_aiokit() -> bool:
    """The driver's aiokit is not this one (another checkout first on this sys.path)."""
    driver = os.environ.get(PACKAGE_VARIABLE)
    here = os.path.dirname(os.path.abspath(aiokit.__file__))
    return driver is not None and os.path.normcase(driver) != os.path.normcase(here)


if _other_aiokit():
    # Forget it: the workers import the driver's, along their own (the driver's) sys.path.
    for name in [m for m in sys.modules if m == "aiokit" or m.startswith("aiokit.")]:
        del sys.modules[name]
else:
    _load([*ALWAYS, *filter(None, os.environ.get(SERVICES_VARIABLE, "").split(","))])
gc.freeze()
