"""A crawl of many listings (``pool.crawl([...], targets)``) on moto: units, global once per
account, outcomes per unit, ``done=``, checks before any request, into the inventory store."""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import aiokit
from aiokit import Target
from aiokit.inventory import CATALOGUE, InventoryRun, InventoryStore
from tests.test_inventory_store import GLOBAL, REGIONAL, REGIONS, cells, seed

pytestmark = pytest.mark.asyncio

NAMES = REGIONAL + GLOBAL


def _regional(accounts: list[str]) -> list[Target]:
    return [Target(a, r) for a in accounts for r in REGIONS]


async def test_an_organization_inventory_by_one_crawl_into_the_store(
    org_pool: Any, fake_organization: Any, tmp_path: Path
) -> None:
    """13 resource types (3 of them global) over 6 accounts x 3 regions, in one crawl:
    every (type, account, region) has exactly its seeded count; the global types ran once
    per account, tagged region None (stored as "global"); one ok outcome per unit."""
    accounts = fake_organization.account_ids
    assert len(accounts) >= 6
    path = tmp_path / "inventory.db"
    async with org_pool() as pool:
        expected = await seed(pool, accounts)
        types = [CATALOGUE[n] for n in NAMES]
        units = [(t.account, t.region) for t in _regional(accounts)]
        units += [(a, None) for a in accounts]
        outcomes: list[aiokit.Outcome[Any]] = []
        async with InventoryStore(path) as store:
            await store.begin(InventoryRun(NAMES, tuple(units)))
            async with pool.crawl(types, _regional(accounts), concurrency=16) as crawl:
                async for event in crawl.events():
                    if isinstance(event, aiokit.Outcome):
                        outcomes.append(event)
                    await store.write(event)
            await store.finish()
    assert crawl.report.counts == {"ok": len(REGIONAL) * 18 + len(GLOBAL) * len(accounts)}
    assert crawl.report.never_visited == 0
    per_unit = Counter(
        (o.listing.name if o.listing else None, o.target.account, o.target.region) for o in outcomes
    )
    assert set(per_unit.values()) == {1}  # one outcome per unit, none twice
    for name in GLOBAL:  # once per account, not once per region
        assert {(a, r) for (n, a, r) in per_unit if n == name} == {(a, None) for a in accounts}
    with sqlite3.connect(path) as db:
        assert cells(db, 1) == expected


async def test_units_are_interleaved_and_a_failing_listing_fails_alone(
    org_pool: Any, fake_organization: Any
) -> None:
    """With one unit at a time the order is the schedule: neighbours differ in listing. A
    listing that fails (a queue that does not exist) fails in each target; the others in
    the same targets are ok."""
    accounts = fake_organization.account_ids[:3]
    broken = aiokit.Listing(
        "sqs",
        "list_dead_letter_source_queues",
        {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/absent"},
        name="sqs.broken",
    )
    listings = [CATALOGUE["sqs.queues"], CATALOGUE["sns.topics"], broken]
    async with org_pool() as pool:
        outcomes = [
            e
            async for e in _events(pool.crawl(listings, _regional(accounts), concurrency=1))
            if isinstance(e, aiokit.Outcome)
        ]
    names = [o.listing.name for o in outcomes if o.listing is not None]
    assert len(names) == 3 * len(accounts) * len(REGIONS)
    assert all(a != b for a, b in itertools.pairwise(names))
    status = {(o.listing.name, o.status.value) for o in outcomes if o.listing is not None}
    assert status == {("sqs.queues", "ok"), ("sns.topics", "ok"), ("sqs.broken", "failed")}


async def _events(crawl: Any) -> Any:
    async with crawl:
        async for event in crawl.events():
            yield event


async def test_done_units_are_not_run_again(org_pool: Any, fake_organization: Any) -> None:
    accounts = fake_organization.account_ids[:2]
    listings = [CATALOGUE["sqs.queues"], CATALOGUE["iam.users"]]
    done = {(accounts[0], "us-east-1", "sqs.queues"), (accounts[1], None, "iam.users")}
    async with org_pool() as pool:
        async with pool.crawl(listings, _regional(accounts), done=done) as crawl:
            units = {
                (e.target.account, e.target.region, e.listing.name)
                async for e in crawl.events()
                if isinstance(e, aiokit.Outcome) and e.listing is not None
            }
    everything = {(a, r, "sqs.queues") for a in accounts for r in REGIONS}
    everything |= {(a, None, "iam.users") for a in accounts}
    assert units == everything - done


@pytest.mark.parametrize(
    ("listing", "message"),
    [
        (aiokit.Listing("sqs", "list_queuez"), "list_queuez"),
        (aiokit.Listing("sqs", "list_queues", {"Bogus": 1}), "Bogus"),
    ],
    ids=["unknown-operation", "unknown-parameter"],
)
async def test_a_bad_listing_is_one_error_before_any_request(
    org_pool: Any, fake_organization: Any, listing: aiokit.Listing, message: str
) -> None:
    accounts = fake_organization.account_ids[:2]
    async with org_pool() as pool:
        before = _requests(pool)
        with pytest.raises(aiokit.AiokitError, match=message) as caught:
            async with pool.crawl([CATALOGUE["sqs.queues"], listing], _regional(accounts)):
                pass
        assert listing.name in str(caught.value)
        assert _requests(pool) == before
        await pool.crawl([CATALOGUE["sqs.queues"]], _regional(accounts)).collect()
        after = _requests(pool)
        assert after[0] > before[0] and after[1] > before[1]  # the counters do move


def _requests(pool: aiokit.SessionPool) -> tuple[int, int]:
    """HTTP attempts counted by the throttling scopes, and role credentials fetched."""
    stats = pool.statistics()
    return sum(s.requests for s in stats.scopes.values()), stats.credential_refreshes


def _dask_runner() -> Any:
    try:
        import aiokit.dask
    except ImportError:  # pragma: no cover - the test extra has Dask
        return 2  # still refused (runner= must be ...)
    return aiokit.dask.DaskRunner("tcp://127.0.0.1:1")  # never reached: refused first


@pytest.mark.parametrize(
    ("first", "kwargs", "match"),
    [
        ([], {}, "listing"),
        ([CATALOGUE["sqs.queues"]], {"key": "QueueUrls"}, "key"),
        ([CATALOGUE["sqs.queues"]], {"runner": _dask_runner()}, "not yet on Dask"),
        ("sqs", {"done": set()}, "done"),
    ],
    ids=["empty", "key-with-listings", "dask-not-yet", "done-without-listings"],
)
async def test_what_a_crawl_of_many_listings_refuses(
    aiokit_pool: aiokit.SessionPool, first: Any, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(aiokit.AiokitError, match=match):
        args: list[Any] = [first] if not isinstance(first, str) else [first, "list_queues"]
        async with aiokit_pool.crawl(*args, [Target(None, "us-east-1")], **kwargs):
            pass


async def test_to_pandas_gives_one_frame_per_listing(org_pool: Any, fake_organization: Any) -> None:
    pytest.importorskip("pandas")
    accounts = fake_organization.account_ids[:2]
    async with org_pool() as pool:
        sqs = await pool.client("sqs", "us-east-1", account=accounts[0])
        await sqs.create_queue(QueueName="frame")
        frames = await pool.crawl(
            [CATALOGUE["sqs.queues"], CATALOGUE["iam.users"]], _regional(accounts)
        ).to_pandas()
    assert set(frames) == {"sqs.queues", "iam.users"}
    assert {"account", "region"} <= set(frames["sqs.queues"].columns)
    assert (frames["sqs.queues"]["account"] == accounts[0]).sum() >= 1


async def test_leaving_early_stops_every_unit_and_owes_the_rest(
    org_pool: Any, fake_organization: Any
) -> None:
    accounts = fake_organization.account_ids[:3]
    async with org_pool() as pool:
        sqs = await pool.client("sqs", "us-east-1", account=accounts[0])
        await sqs.create_queue(QueueName="early")
        listings = [CATALOGUE["sqs.queues"], CATALOGUE["iam.users"]]
        async with pool.crawl(listings, _regional(accounts), concurrency=2) as crawl:
            async for _ in crawl.events():
                break  # the consumer leaves at the first event
        assert pool.statistics().in_flight == 0
    total = len(accounts) * len(REGIONS) + len(accounts)
    assert crawl.report.targets < total
    assert crawl.report.never_visited == total - crawl.report.targets
