"""Suite-wide setup: asyncio backend, AWS isolation, leaks surfaced as errors.

The ``aiokit.testing`` plugin (moto server, isolation fixtures) is enabled in pyproject's
``addopts``; warnings, ResourceWarning and never-awaited coroutines included, are errors.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import pytest

from aiokit.testing import FakeOrganization

SeedQueues = Callable[[Any, Sequence[str], Callable[[int, int], int]], Awaitable[dict[Any, int]]]


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


@pytest.fixture
def seed_queues(fake_organization: FakeOrganization) -> SeedQueues:
    """``await seed_queues(pool, regions, count)``: in every member account (the ``i``-th)
    and region (the ``j``-th), ``count(i, j)`` SQS queues, made through ``pool`` (whose
    role must be assumable there). Returns ``{(account, region): count}``."""

    async def seed(
        pool: Any, regions: Sequence[str], count: Callable[[int, int], int]
    ) -> dict[Any, int]:
        counts = {}
        for i, account in enumerate(fake_organization.account_ids):
            for j, region in enumerate(regions):
                sqs = await pool.client("sqs", region, account=account)
                for q in range(count(i, j)):
                    await sqs.create_queue(QueueName=f"q{q}")
                counts[(account, region)] = count(i, j)
        return counts

    return seed
