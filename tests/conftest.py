"""Suite-wide setup: AWS isolation, leaks surfaced as errors.

The ``aiokit.testing`` plugin (moto server, isolation fixtures) is enabled in pyproject's
``addopts``; warnings, ResourceWarning and never-awaited coroutines included, are errors.
Async tests run on pytest-asyncio in strict mode: ``pytest.mark.asyncio`` on the test,
``@pytest_asyncio.fixture`` on an async fixture.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import aiohttp
import pytest
from aiobotocore.session import AioSession
from aiohttp import web

import aiokit
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization

SeedQueues = Callable[[Any, Sequence[str], Callable[[int, int], int]], Awaitable[dict[Any, int]]]
OrgPool = Callable[[], aiokit.SessionPool]
PlainClient = Callable[[str], Any]


# A user's project, run by tests/test_testing.py in pytest subprocesses of its own.
collect_ignore = ["sample_project"]


@pytest.fixture(autouse=True)
def _isolated(aws_isolated_env: None) -> Iterator[None]:
    """Every test runs without the developer's AWS setup, and ends with a GC pass.

    Collecting here makes an unclosed session's ResourceWarning fire inside the test that
    leaked it, where the warnings-as-errors setting turns it into a failure. What survives
    the pass is frozen (``gc.freeze()``): it is not this test's garbage, and the next
    test's pass need not walk it again (with moto and botocore's models loaded a full pass
    took ~0.3 s, a third of the suite's time). ``_collect_everything`` unfreezes and
    collects once per module, for what was alive then and became garbage later.
    """
    yield
    # The CLI's logging set-up, run in-process by a test, sets aiokit's logger level: the
    # next test starts with the level unset again (caplog sets only the root's).
    for name in ("aiokit", "aiokit.fleet"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True, scope="module")
def _collect_everything() -> Iterator[None]:
    """After each module: one full pass, over what the per-test passes froze."""
    yield
    gc.unfreeze()
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


@pytest.fixture
def org_pool(fake_organization: FakeOrganization) -> OrgPool:
    """``async with org_pool() as pool``: a pool on the fake organization, in us-east-1, as
    its management account, assuming the organization's role in member accounts."""

    def make() -> aiokit.SessionPool:
        return aiokit.SessionPool(
            endpoint_url=fake_organization.endpoint_url,
            region="us-east-1",
            credentials=TEST_CREDENTIALS,
            role=fake_organization.role_name,
        )

    return make


@pytest.fixture
def plain_client(moto_endpoint: str) -> PlainClient:
    """``async with plain_client("s3") as s3``: a bare aiobotocore client (no aiokit) on
    the moto server, in us-east-1, with the test credentials: what pool clients are
    compared with."""

    def make(service: str) -> Any:
        return AioSession().create_client(
            service,
            region_name="us-east-1",
            endpoint_url=moto_endpoint,
            aws_access_key_id=TEST_CREDENTIALS.access_key_id,
            aws_secret_access_key=TEST_CREDENTIALS.secret_access_key,
        )

    return make


async def relay(request: web.Request, body: bytes, upstream: str) -> web.Response:
    """Send ``request`` (whose body is ``body``) on to ``upstream`` and hand back its answer
    as is: the forwarding half of the tests' recording and fault-injecting proxies."""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.request(
            request.method, upstream + request.path_qs, headers=headers, data=body
        ) as answer,
    ):
        payload = await answer.read()
        out = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in {"transfer-encoding", "content-length", "connection"}
        }
        return web.Response(status=answer.status, body=payload, headers=out)


async def inventory_events(
    pool: Any,
    resource_types: Sequence[Any],
    targets: Sequence[Any],
    *,
    fail: Any = frozenset(),
) -> Any:
    """The events an inventory crawl yields, built from real requests (until the crawl of
    many listings lands, the one place to swap for ``pool.crawl(...).events()``): per
    (target, resource type) unit its records, then its ok ``Outcome``. A unit in ``fail``
    (``(account, region, name)``) yields its first record only and a failed outcome, as
    a unit cut off by a timeout does. Global types run on targets whose region is None."""
    import jmespath

    from aiokit._fleet.crawl import Item
    from aiokit._fleet.outcomes import Outcome, Status

    for target in targets:
        for rt in resource_types:
            if rt.is_global != (target.region is None):
                continue
            records: list[Any] = []
            async for page in pool.paginate(
                rt.listing.service,
                rt.listing.operation,
                target.region,
                account=target.account,
                **rt.listing.request_params(),
            ):
                records.extend(jmespath.search(rt.records, page) or [])
            if (target.account, target.region, rt.name) in fail:
                for record in records[:1]:
                    yield Item(target, record, rt.listing)
                yield Outcome(
                    target,
                    Status.FAILED,
                    error=TimeoutError("timed out"),
                    reason="timeout",
                    listing=rt.listing,
                )
                continue
            for record in records:
                yield Item(target, record, rt.listing)
            yield Outcome(target, Status.OK, listing=rt.listing)
