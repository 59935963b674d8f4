"""Tests of the benchmark tooling (the fake AWS endpoint and the crawl harness).

They are not tests of aiokit: they prove the instruments the benchmarks measure with. Every
test runs without the developer's AWS setup (``aws_isolated_env`` from ``aiokit.testing``),
and ends with a GC pass so an unclosed session's ResourceWarning fails the test that leaked it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _isolated(aws_isolated_env: None) -> Iterator[None]:
    yield
    gc.collect()
