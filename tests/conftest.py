"""Suite-wide setup: asyncio backend, AWS isolation, leaks surfaced as errors.

The ``aiokit.testing`` plugin (moto server, isolation fixtures) is enabled in pyproject's
``addopts``; warnings, ResourceWarning and never-awaited coroutines included, are errors.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated(aws_isolated_env: None) -> Iterator[None]:
    """Every test runs without the developer's AWS setup, and ends with a GC pass.

    Collecting here makes an unclosed session's ResourceWarning fire inside the test that
    leaked it, where the warnings-as-errors setting turns it into a failure.
    """
    yield
    gc.collect()
