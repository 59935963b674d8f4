"""Tests of inventory.py as a pytest-asyncio user writes them."""

from __future__ import annotations

import pytest
from inventory import queue_inventory

import aiokit
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, FaultProxy

pytestmark = pytest.mark.asyncio


def org_pool(endpoint_url: str, org: FakeOrganization) -> aiokit.SessionPool:
    return aiokit.SessionPool(
        endpoint_url=endpoint_url,
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        role=org.role_name,
    )


async def seed(org: FakeOrganization) -> None:
    """Account i gets i + 1 queues (made directly on moto, not through any fault)."""
    async with org_pool(org.endpoint_url, org) as pool:
        for i, account in enumerate(org.account_ids):
            sqs = await pool.client("sqs", account=account)
            for q in range(i + 1):
                await sqs.create_queue(QueueName=f"q{q}")


async def test_counts_the_queues_of_my_own_account(aiokit_pool: aiokit.SessionPool) -> None:
    sqs = await aiokit_pool.client("sqs")
    await sqs.create_queue(QueueName="jobs")
    await sqs.create_queue(QueueName="mail")
    targets = await aiokit_pool.targets(regions=["us-east-1"])
    inventory = await queue_inventory(aiokit_pool, targets)
    assert list(inventory.counts.values()) == [2]


async def test_counts_every_member_account(fake_organization: FakeOrganization) -> None:
    await seed(fake_organization)
    async with org_pool(fake_organization.endpoint_url, fake_organization) as pool:
        targets = await pool.targets(aiokit.Organization(), regions=["us-east-1"])
        inventory = await queue_inventory(pool, targets)
    assert inventory.counts == {a: i + 1 for i, a in enumerate(fake_organization.account_ids)}
    assert inventory.unreachable == {}


async def test_is_complete_when_aws_throttles_and_fails(
    fake_organization: FakeOrganization, aws_faults: FaultProxy
) -> None:
    await seed(fake_organization)
    aws_faults.configure(throttle={"sts": (5, 2), "sqs": (5, 1)}, fail_rate=0.05, seed=1)
    async with org_pool(aws_faults.endpoint_url, fake_organization) as pool:
        targets = await pool.targets(fake_organization.account_ids, regions=["us-east-1"])
        inventory = await queue_inventory(pool, targets)
    assert inventory.counts == {a: i + 1 for i, a in enumerate(fake_organization.account_ids)}
    assert aws_faults.throttles > 0  # the faults were there, and were waited out


async def test_names_the_account_whose_role_is_denied(
    fake_organization: FakeOrganization, aws_faults: FaultProxy
) -> None:
    denied = fake_organization.account_ids[2]
    aws_faults.configure(deny_accounts=[denied])
    async with org_pool(aws_faults.endpoint_url, fake_organization) as pool:
        targets = await pool.targets(fake_organization.account_ids, regions=["us-east-1"])
        inventory = await queue_inventory(pool, targets)
    assert inventory.unreachable == {denied: "role not assumable"}
    assert denied not in inventory.counts
    assert len(inventory.counts) == len(fake_organization.account_ids) - 1
    assert aws_faults.faults["denied"] > 0
