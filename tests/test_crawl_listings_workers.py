"""A crawl of many listings over ``runner=aiokit.Processes(n)``: the same units, items and
outcomes as in one process, on moto; a worker killed mid-crawl; resume with ``done=``."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from typing import Any

import pytest

import aiokit
from aiokit import Target
from aiokit.inventory import CATALOGUE
from tests.test_inventory_store import GLOBAL, REGIONAL, REGIONS, seed

pytestmark = pytest.mark.asyncio

NAMES = REGIONAL + GLOBAL


def _regional(accounts: list[str]) -> list[Target]:
    return [Target(a, r) for a in accounts for r in REGIONS]


def _items(items: list[aiokit.Item]) -> Counter[tuple[Any, ...]]:
    return Counter(
        (i.listing.name if i.listing else None, i.account, i.region, repr(i.data)) for i in items
    )


async def _run(pool: Any, targets: list[Target], **kwargs: Any) -> tuple[Any, ...]:
    items: list[aiokit.Item] = []
    outcomes: dict[tuple[Any, ...], str] = {}
    types = [CATALOGUE[n] for n in NAMES]
    async with pool.crawl(types, targets, concurrency=8, **kwargs) as crawl:
        async for event in crawl.events():
            if isinstance(event, aiokit.Item):
                assert event.listing is not None and event.listing in [t.listing for t in types]
                items.append(event)
            else:
                assert event.listing is not None
                key = (event.listing.name, event.target.account, event.target.region)
                assert key not in outcomes  # one outcome per unit
                outcomes[key] = event.status.value
    return items, outcomes, crawl.report


async def test_many_listings_over_processes_match_in_process_exactly(
    org_pool: Any, fake_organization: Any
) -> None:
    """13 resource types (3 global) over 6 accounts x 3 regions: the same items (with their
    listing, account and region) and the same outcome per unit, cold and warm workers."""
    accounts = fake_organization.account_ids
    async with org_pool() as pool:
        await seed(pool, accounts)
        targets = _regional(accounts)
        local, local_outcomes, local_report = await _run(pool, targets)
        cold = await _run(pool, targets, runner=aiokit.Processes(2))
        async with aiokit.Processes(2) as processes:
            warm = await _run(pool, targets, runner=processes)
    units = len(REGIONAL) * len(targets) + len(GLOBAL) * len(accounts)
    assert len(local_outcomes) == units and set(local_outcomes.values()) == {"ok"}
    for items, outcomes, report in (cold, warm):
        assert _items(items) == _items(local)
        assert outcomes == local_outcomes
        assert report.counts == local_report.counts == {"ok": units}
        assert report.never_visited == 0 and report.items == len(local)
    for name in GLOBAL:  # once per account, region None
        assert {(a, r) for (n, a, r) in cold[1] if n == name} == {(a, None) for a in accounts}
    assert not multiprocessing.active_children()


async def test_a_worker_killed_mid_crawl_reruns_only_its_unfinished_units(
    org_pool: Any, fake_organization: Any
) -> None:
    accounts = fake_organization.account_ids
    async with org_pool() as pool:
        await seed(pool, accounts)
        targets = _regional(accounts)
        local, local_outcomes, _ = await _run(pool, targets)
        items: list[aiokit.Item] = []
        outcomes: list[aiokit.Outcome[Any]] = []
        killed: list[int] = []
        types = [CATALOGUE[n] for n in NAMES]
        async with pool.crawl(types, targets, concurrency=1, runner=aiokit.Processes(2)) as crawl:
            async for event in crawl.events():
                if isinstance(event, aiokit.Item):
                    items.append(event)
                    continue
                outcomes.append(event)
                if not killed:  # after the first unit: both workers have more to do
                    for child in multiprocessing.active_children():
                        os.kill(child.pid or 0, signal.SIGKILL)
                        killed.append(child.pid or 0)
    assert killed
    assert _items(items) == _items(local)  # nothing lost, nothing twice
    keys = [
        (o.listing.name if o.listing else "", o.target.account, o.target.region) for o in outcomes
    ]
    assert len(keys) == len(set(keys)) == len(local_outcomes)
    assert crawl.report.counts == {"ok": len(local_outcomes)}
    assert not multiprocessing.active_children()


async def test_done_units_are_skipped_in_the_workers_too(
    org_pool: Any, fake_organization: Any
) -> None:
    accounts = fake_organization.account_ids
    async with org_pool() as pool:
        await seed(pool, accounts)
        targets = _regional(accounts)
        local, local_outcomes, _ = await _run(pool, targets)
        done = {k for k in local_outcomes if k[0] in ("sqs.queues", GLOBAL[0])}
        done = {(a, r, n) for n, a, r in done}
        items, outcomes, report = await _run(pool, targets, runner=aiokit.Processes(2), done=done)
    assert set(outcomes) == {k for k in local_outcomes if (k[1], k[2], k[0]) not in done}
    rest = [
        i for i in local if (i.account, i.region, i.listing.name if i.listing else "") not in done
    ]
    assert _items(items) == _items(rest)
    assert report.never_visited == 0
    assert not multiprocessing.active_children()
