"""The shared limiter learns a small bucket fast: over real HTTP against the fake endpoint."""

from __future__ import annotations

import pytest

import aiokit
from aiokit.testing import TEST_CREDENTIALS

# timing: rates learnt against real clocks; `make test` runs these after the rest, with no
# other tests beside them (on a loaded machine a stalled client learns a bucket low).
pytestmark = [pytest.mark.asyncio, pytest.mark.timing]


async def _drain(
    endpoint: str,
    accounts: list[str],
    regions: list[str],
    listing: tuple[str, str, str, str] = (
        "ec2",
        "describe_instances",
        "Reservations[].Instances[]",
        "InstanceId",
    ),
) -> tuple[dict, list]:
    """Each target's items of ``listing`` (service, operation, search, item key or ""),
    and the statistics of the service's scopes."""
    service, operation, path, field = listing

    async def instances(ctx: aiokit.Context) -> list[str]:
        pager = ctx.paginate(service, operation)
        return [i[field] if field else i async for i in pager.search(path)]

    targets = [
        aiokit.Target.assume(a, r, "OrganizationAccountAccessRole")
        for r in regions
        for a in accounts
    ]
    found = {}
    async with aiokit.SessionPool(
        endpoint_url=endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        async with pool.fan_out(instances, targets, concurrency=8) as outcomes:
            async for outcome in outcomes:
                assert outcome.ok, outcome
                found[(outcome.target.account, outcome.target.region)] = outcome.value
        scopes = [s for k, s in pool.statistics().scopes.items() if k.service == service]
    return found, scopes


async def test_a_drained_small_bucket_is_learnt_within_a_few_throttles() -> None:
    from benchmarks.fake_aws import FakeAWS, FakeConfig, expected_items

    # EC2's documented bucket is 100 at 20/s; this one is 20 at 10/s: the quota table is
    # wrong for it, so the limiter must learn it from the throttles.
    config = FakeConfig(
        accounts=2,
        latency_ms=5,
        items={"instances": 60},
        page_size={"DescribeInstances": 1},
        throttle=True,
        buckets={"ec2:Describe*": [20.0, 10.0], "sts:*": [100.0, 100.0]},
    )
    accounts = config.member_accounts()
    regions = ["us-east-1"]
    async with FakeAWS(config) as fake:
        found, scopes = await _drain(fake.endpoint_url, accounts, regions)
        stats = fake.stats()
    for account in accounts:
        assert found[(account, "us-east-1")] == expected_items(
            config, account, "us-east-1", "instances"
        )
    assert len(scopes) == 2
    for scope in scopes:
        # A few throttles: the first one, and those of the probe that measures the refill.
        assert 1 <= scope.throttles <= 15, scope
        assert scope.rate is not None
        # Held near the refill rate (0.9x the rate measured), within 20 % below and 5 %
        # above: on a loaded machine the client may stall while the bucket refills, and the
        # accepted rate it then measures reads a little high (10.017 seen, under load 5-8).
        assert 8.0 <= scope.rate <= 10.5, scope
    assert sum(s.throttles for s in scopes) == stats["throttled"]


async def test_a_documented_quota_is_never_throttled() -> None:
    from benchmarks.fake_aws import FakeAWS, FakeConfig

    config = FakeConfig(
        accounts=1,
        latency_ms=2,
        items={"instances": 150},
        page_size={"DescribeInstances": 1},
        throttle=True,
        buckets={"ec2:Describe*": [100.0, 20.0], "sts:*": [100.0, 100.0]},
    )
    async with FakeAWS(config) as fake:
        found, scopes = await _drain(fake.endpoint_url, config.member_accounts(), ["us-east-1"])
        stats = fake.stats()
    assert stats["throttled"] == 0
    assert [s.throttles for s in scopes] == [0]
    assert len(next(iter(found.values()))) == 150


@pytest.mark.parametrize("latency_ms", [5, 20])
async def test_a_scope_without_a_documented_quota_learns_its_bucket_within_a_few_throttles(
    latency_ms: int,
) -> None:
    from benchmarks.fake_aws import FakeAWS, FakeConfig, expected_items

    # DynamoDB has no documented quota in aiokit's table: no bucket until the first
    # throttle, which comes once the burst is spent at whatever rate the pages come.
    config = FakeConfig(
        accounts=2,
        latency_ms=latency_ms,
        items={"tables": 60},
        page_size={"ListTables": 1},
        throttle=True,
        buckets={"dynamodb:*": [20.0, 10.0], "sts:*": [100.0, 100.0]},
    )
    accounts = config.member_accounts()
    async with FakeAWS(config) as fake:
        found, scopes = await _drain(
            fake.endpoint_url,
            accounts,
            ["us-east-1"],
            ("dynamodb", "list_tables", "TableNames[]", ""),
        )
        stats = fake.stats()
    for account in accounts:
        assert found[(account, "us-east-1")] == expected_items(
            config, account, "us-east-1", "tables"
        )
    assert len(scopes) == 2
    for scope in scopes:
        # The first one, and the probe's until its grants show the refill (13-20 each, seen,
        # with the probe held at the rate that emptied the bucket until 8 grants counted).
        assert 1 <= scope.throttles <= 16, scope
        assert scope.rate is not None and 8.0 <= scope.rate <= 10.5, scope
    assert sum(s.throttles for s in scopes) == stats["throttled"]
