"""Fan-out and crawl: exact multi-account totals on moto, isolation, bounds, classification."""

from __future__ import annotations

import gc
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiohttp import web

import aiokit
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, serve_on_loopback

if TYPE_CHECKING:
    from tests.conftest import OrgPool, SeedQueues

pytestmark = pytest.mark.asyncio

ROLE = "OrganizationAccountAccessRole"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def _expected(i: int, j: int) -> int:
    return (i + j) % 4 + 1


@pytest_asyncio.fixture
async def seeded(
    fake_organization: FakeOrganization, seed_queues: SeedQueues, org_pool: OrgPool
) -> AsyncIterator[tuple[Any, list[Any]]]:
    """6 accounts x 3 regions, each holding a known number of SQS queues."""
    async with org_pool() as pool:
        await seed_queues(pool, REGIONS, _expected)
        targets = [
            aiokit.Target.assume(account, region, ROLE)
            for region in REGIONS
            for account in fake_organization.account_ids
        ]
        yield pool, targets


async def test_crawl_gives_exact_totals_per_account_and_region(
    seeded: tuple[aiokit.SessionPool, list[aiokit.Target]], fake_organization: FakeOrganization
) -> None:
    pool, targets = seeded
    seen: list[aiokit.Progress] = []
    async with pool.crawl(
        "sqs",
        "list_queues",
        targets,
        concurrency=5,
        progress=seen.append,
        PaginationConfig={"PageSize": 2},
    ) as crawl:
        per_cell = Counter([(item.account, item.region) async for item in crawl])
    expected = {
        (account, region): _expected(i, j)
        for i, account in enumerate(fake_organization.account_ids)
        for j, region in enumerate(REGIONS)
    }
    assert dict(per_cell) == expected
    report = crawl.report
    assert report.counts == {"ok": 18}
    assert report.items == sum(expected.values())
    assert seen[-1].done == 18 and seen[-1].items == report.items
    assert crawl.statistics().calls >= 18


async def test_fan_out_isolates_a_failing_target(
    seeded: tuple[aiokit.SessionPool, list[aiokit.Target]],
) -> None:
    pool, targets = seeded
    broken = targets[4]

    async def count(ctx: aiokit.Context) -> int:
        sqs = await ctx.client("sqs")
        if ctx.target == broken:
            await sqs.get_queue_url(QueueName="does-not-exist")
        return len((await sqs.list_queues()).get("QueueUrls", []))

    outcomes = await pool.fan_out(count, targets, concurrency=4).collect()
    assert len(outcomes) == 18
    failed = [o for o in outcomes if not o.ok]
    assert [o.target for o in failed] == [broken]
    assert failed[0].status is aiokit.Status.FAILED
    assert failed[0].reason is not None and "NonExistentQueue" in failed[0].reason
    assert isinstance(failed[0].error, aiokit.AWSError)
    assert all(o.calls >= 1 for o in outcomes)


async def test_a_bug_in_fn_surfaces_as_itself(
    seeded: tuple[aiokit.SessionPool, list[aiokit.Target]],
) -> None:
    pool, targets = seeded

    async def buggy(ctx: aiokit.Context) -> int:
        await ctx.client("sqs")
        if ctx.target == targets[2]:
            return len(None)  # type: ignore[arg-type]
        return 1

    with pytest.raises(TypeError):
        async with pool.fan_out(buggy, targets, concurrency=3) as outcomes:
            async for _ in outcomes:
                pass


async def test_per_account_and_global_bounds_hold(
    seeded: tuple[aiokit.SessionPool, list[aiokit.Target]],
) -> None:
    pool, targets = seeded
    running: Counter[str | None] = Counter()
    peak: Counter[str | None] = Counter()
    total = {"now": 0, "peak": 0}

    async def work(ctx: aiokit.Context) -> None:
        account = ctx.target.account
        running[account] += 1
        total["now"] += 1
        peak[account] = max(peak[account], running[account])
        total["peak"] = max(total["peak"], total["now"])
        await anyio.sleep(0.01)
        running[account] -= 1
        total["now"] -= 1

    outcomes = await pool.fan_out(work, targets, concurrency=5, per_account=1).collect()
    assert all(o.ok for o in outcomes)
    assert max(peak.values()) == 1
    assert total["peak"] <= 5


async def test_memory_is_bounded_by_concurrency_not_targets() -> None:
    async with aiokit.SessionPool(region="us-east-1", credentials=TEST_CREDENTIALS) as pool:
        produced = 0
        consumed = 0
        lead = 0

        async def many() -> AsyncIterator[aiokit.Target]:
            nonlocal produced, lead
            for i in range(20_000):
                produced += 1
                lead = max(lead, produced - consumed)
                yield aiokit.Target(f"{i:012d}", "us-east-1")

        async def noop(ctx: aiokit.Context) -> None:
            await anyio.lowlevel.checkpoint()

        async with pool.fan_out(noop, many(), concurrency=16) as outcomes:
            async for _ in outcomes:
                consumed += 1
                if consumed % 1000 == 0:
                    await anyio.sleep(0.001)  # a slow consumer
        assert consumed == 20_000
        # Started but not yet consumed: at most the workers plus the outcome buffer.
        assert lead <= 16 + 16 + 2


async def test_work_that_never_yields_still_streams_every_outcome_once() -> None:
    """``fn`` with no await inside: workers and consumer still take turns; nothing is lost."""
    async with aiokit.SessionPool(region="us-east-1", credentials=TEST_CREDENTIALS) as pool:
        targets = [aiokit.Target(f"{i:012d}", "us-east-1") for i in range(3000)]

        async def at_once(ctx: aiokit.Context) -> str:
            return ctx.target.account or ""

        seen: Counter[str] = Counter()
        async with pool.fan_out(at_once, targets, concurrency=4) as outcomes:
            async for outcome in outcomes:
                assert outcome.ok
                seen[outcome.value or ""] += 1
        assert len(seen) == 3000 and set(seen.values()) == {1}


async def test_targets_from_a_plain_generator_are_each_taken_once() -> None:
    async with aiokit.SessionPool(region="us-east-1", credentials=TEST_CREDENTIALS) as pool:

        def targets() -> Iterator[aiokit.Target]:
            for i in range(500):
                yield aiokit.Target(f"{i:012d}", "us-east-1")

        async def work(ctx: aiokit.Context) -> str:
            await anyio.lowlevel.checkpoint()  # workers interleave
            return ctx.target.account or ""

        outcomes = await pool.fan_out(work, targets(), concurrency=16).collect()
        seen = Counter(o.value for o in outcomes)
        assert len(seen) == 500 and set(seen.values()) == {1}


async def test_stopping_early_closes_the_callers_target_generator() -> None:
    async with aiokit.SessionPool(region="us-east-1", credentials=TEST_CREDENTIALS) as pool:
        produced = 0
        closed = False

        async def endless() -> AsyncIterator[aiokit.Target]:
            nonlocal produced, closed
            try:
                while True:
                    produced += 1
                    yield aiokit.Target(f"{produced:012d}", "us-east-1")
            finally:
                closed = True

        async def noop(ctx: aiokit.Context) -> None:
            await anyio.lowlevel.checkpoint()

        async with pool.fan_out(noop, endless(), concurrency=8) as outcomes:
            taken = 0
            async for _ in outcomes:
                taken += 1
                if taken == 100:
                    break
        assert closed  # the generator's cleanup ran when the fan-out ended, not at GC
        assert produced <= 100 + 8 + 8 + 1  # taken, in workers, in the outcome buffer


async def test_timeout_deadline_and_cancellation(
    seeded: tuple[aiokit.SessionPool, list[aiokit.Target]],
) -> None:
    pool, targets = seeded

    async def slow_for_some(ctx: aiokit.Context) -> int:
        await (await ctx.client("sqs")).list_queues()
        if ctx.target.region == "ap-southeast-2":
            await anyio.sleep(30)
        return 1

    outcomes = await pool.fan_out(slow_for_some, targets, concurrency=18, timeout=0.5).collect()
    reasons = Counter(o.reason for o in outcomes)
    assert reasons == {None: 12, "timeout": 6}

    fan = pool.fan_out(slow_for_some, targets, concurrency=18, deadline=1.0)
    kept = await fan.collect()
    assert len(kept) == 12  # the slow ones were stopped; what was produced is kept
    assert fan.statistics().deadline_reached

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with anyio.move_on_after(0.3):
            async with pool.crawl("sqs", "list_queues", targets, concurrency=2) as crawl:
                async for _ in crawl:
                    await anyio.sleep(0.2)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert pool.statistics().in_flight == 0
    # The pool is intact after the cancelled crawl.
    async with pool.crawl("sqs", "list_queues", targets[:2]) as crawl:
        assert len([i async for i in crawl]) > 0


# --- classification against AWS-shaped answers -------------------------------------------


class ErrorServer:
    """Answers every request with one AWS-shaped error (or stalls)."""

    def __init__(self) -> None:
        self.status = 400
        self.body = ""
        self.content_type = "application/x-amz-json-1.0"
        self.stall = False
        self.released = anyio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        if self.stall:
            await self.released.wait()
        return web.Response(status=self.status, text=self.body, content_type=self.content_type)


@pytest_asyncio.fixture
async def error_server() -> AsyncIterator[ErrorServer]:
    server = ErrorServer()
    async with serve_on_loopback(server.handle) as server.url:
        yield server
        server.released.set()


def _json_error(code: str) -> str:
    return f'{{"__type": "com.amazonaws#{code}", "message": "injected"}}'


def _ec2_error(code: str) -> str:
    return (
        f"<Response><Errors><Error><Code>{code}</Code><Message>injected</Message></Error>"
        "</Errors><RequestID>r-1</RequestID></Response>"
    )


def _sts_error(code: str) -> str:
    return (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        f"<Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error>"
        "<RequestId>r-1</RequestId></ErrorResponse>"
    )


CASES = [
    ("dynamodb", 400, _json_error("AccessDeniedException"), "skipped", "access denied"),
    ("dynamodb", 400, _json_error("UnrecognizedClientException"), "failed",
     "invalid credentials"),
    ("dynamodb", 400, _json_error("SubscriptionRequiredException"), "skipped",
     "subscription required"),
    ("ec2", 403, _ec2_error("UnauthorizedOperation"), "skipped", "access denied"),
    ("ec2", 401, _ec2_error("AuthFailure"), "failed", "invalid credentials"),
    ("ec2", 401, _ec2_error("OptInRequired"), "skipped", "opt-in required"),
    ("sts-role", 403, _sts_error("AccessDenied"), "skipped", "role not assumable"),
    ("dynamodb", 400, _json_error("ThrottlingException"), "failed", "throttled"),
    ("ec2", 503, _ec2_error("RequestLimitExceeded"), "failed", "throttled"),
    ("dynamodb", 500, _json_error("InternalServerError"), "failed", "error: InternalServerError"),
    ("dynamodb-stall", 200, "{}", "failed", "timeout"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("service", "status", "body", "verdict", "reason"),
    CASES,
    ids=[f"{c[0]}-{c[4]}-{c[2][:40]}" for c in CASES],
)
async def test_outcomes_are_classified_from_real_error_shapes(
    error_server: ErrorServer, service: str, status: int, body: str, verdict: str, reason: str
) -> None:
    error_server.status, error_server.body = status, body
    if service.startswith("ec2") or service.startswith("sts"):
        error_server.content_type = "text/xml"
    error_server.stall = service.endswith("stall")
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=0.3)
    async with aiokit.SessionPool(
        endpoint_url=error_server.url,
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        config=config,
        # botocore's own retries, one attempt: this test is about classification. (The
        # shared mode would keep resending throttled requests: see test_retry.py.)
        retry_mode="standard",
    ) as pool:
        if service == "sts-role":
            target = aiokit.Target.assume("111122223333", "us-east-1", "Denied")
            api = "dynamodb"
        else:
            target = aiokit.Target(None, "us-east-1")
            api = service.split("-")[0]

        async def call(ctx: aiokit.Context) -> Any:
            client = await ctx.client(api)
            if api == "ec2":
                return await client.describe_instances()
            return await client.list_tables()

        outcome = (await pool.fan_out(call, [target]).collect())[0]
    assert (outcome.status.value, outcome.reason) == (verdict, reason)
    assert outcome.error is not None


async def test_crawl_through_organization_targets(
    seeded: tuple[aiokit.SessionPool, list[aiokit.Target]], fake_organization: FakeOrganization
) -> None:
    pool, _ = seeded
    targets = await pool.targets(aiokit.Organization(ous=["prod"]), regions=REGIONS)
    prod = [a.id for a in fake_organization.accounts if a.ou == "prod"]
    assert {t.account for t in targets} == set(prod)
    assert len(targets) == len(prod) * len(REGIONS)
    items, report = await pool.crawl("sqs", "list_queues", targets).collect()
    index = {a: i for i, a in enumerate(fake_organization.account_ids)}
    expected = {(a, r): _expected(index[a], j) for a in prod for j, r in enumerate(REGIONS)}
    assert dict(Counter((i.account, i.region) for i in items)) == expected
    assert report.counts == {"ok": len(targets)}


async def test_a_configuration_error_stops_the_fan_out_once(
    seeded: tuple[aiokit.SessionPool, list[aiokit.Target]],
) -> None:
    pool, targets = seeded
    with pytest.raises(aiokit.UnknownOperationError, match="list_quuues"):
        async with pool.crawl("sqs", "list_quuues", targets) as crawl:
            async for _ in crawl:
                pass


@pytest.mark.parametrize("kind", ["generator", "async-generator"])
async def test_huge_concurrency_over_a_few_targets_costs_a_few_tasks(
    aiokit_pool: aiokit.SessionPool, kind: str
) -> None:
    """``concurrency`` is a bound, not a number of tasks to start: three targets from a
    generator with ``concurrency=100_000`` run on three workers, not 100,000 idle ones
    (at 1,000,000 that was a minute and 3.4 GB before the first outcome)."""
    import asyncio

    regions = ["us-east-1", "eu-west-1", "us-west-2"]
    tasks_seen: list[int] = []

    async def fn(ctx: aiokit.Context) -> str | None:
        tasks_seen.append(len(asyncio.all_tasks()))
        return ctx.target.region

    def targets() -> Iterator[aiokit.Target]:
        for region in regions:
            yield aiokit.Target(None, region)

    async def async_targets() -> AsyncIterator[aiokit.Target]:
        for target in targets():
            yield target

    source = targets() if kind == "generator" else async_targets()
    async with aiokit_pool.fan_out(fn, source, concurrency=100_000) as outcomes:
        got = sorted([o.value async for o in outcomes if o.value is not None])
    assert got == sorted(regions)
    assert max(tasks_seen) < 20


async def test_a_target_given_twice_is_visited_once(aiokit_pool: aiokit.SessionPool) -> None:
    """Targets are cells: a repeated one would list the same items twice."""
    s3 = await aiokit_pool.client("s3")
    await s3.create_bucket(Bucket="twice")
    for i in range(5):
        await s3.put_object(Bucket="twice", Key=f"k{i}", Body=b"x")
    here = aiokit.Target(None, "us-east-1")
    again = aiokit.Target(None, "us-east-1", name="the same cell, another object")
    items, report = await aiokit_pool.crawl(
        "s3", "list_objects_v2", [here, again, here], Bucket="twice"
    ).collect()
    assert sorted(i.data["Key"] for i in items) == [f"k{i}" for i in range(5)]
    assert report.targets == 1
    assert report.never_visited == 0  # the repeats are not owed a visit of their own

    async def cells() -> AsyncIterator[aiokit.Target]:
        for target in [here, aiokit.Target(None, "eu-west-1"), again]:
            yield target

    async with aiokit_pool.fan_out(lambda ctx: anyio.lowlevel.checkpoint(), cells()) as outcomes:
        visited = [o.target.region async for o in outcomes]
    assert sorted(visited) == ["eu-west-1", "us-east-1"]


async def test_a_target_labelled_with_an_account_is_visited_in_that_account(
    org_pool: OrgPool, fake_organization: FakeOrganization, moto_endpoint: str
) -> None:
    """``Target(account, region)`` without an identity: the pool's role in that account
    (as ``pool.client(account=...)``), or the pool itself in its own account; it was the
    pool's own account whatever the label said, so items were filed under another."""
    member = fake_organization.accounts[2].id
    management = fake_organization.management_account

    async def caller(ctx: aiokit.Context) -> str:
        sts = await ctx.client("sts")
        return str((await sts.get_caller_identity())["Account"])

    targets = [aiokit.Target(member, "us-east-1"), aiokit.Target(management, "eu-west-1")]
    async with org_pool() as pool, pool.fan_out(caller, targets) as outcomes:
        visited = {o.target.account: o.value async for o in outcomes}
    assert visited == {member: member, management: management}
    # no role to reach the account with: said so, not visited as someone else
    async with aiokit.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        with pytest.raises(
            aiokit.ConfigurationError, match=f"no role to assume in account {member}"
        ):
            async with pool.fan_out(caller, [aiokit.Target(member, "us-east-1")]) as outcomes:
                async for _ in outcomes:
                    pass


async def test_who_the_pool_is_is_asked_once_for_many_labelled_targets(
    org_pool: OrgPool, fake_organization: FakeOrganization
) -> None:
    """Three targets labelled with the pool's account start at once: one GetCallerIdentity
    of the pool's (in its region), not one per target."""
    management = fake_organization.management_account
    regions = ("eu-west-1", "us-west-2", "ap-southeast-2")
    targets = [aiokit.Target(management, r) for r in regions]

    async def caller(ctx: aiokit.Context) -> str:
        sts = await ctx.client("sts")
        return str((await sts.get_caller_identity())["Account"])

    async with org_pool() as pool:
        async with pool.fan_out(caller, targets, concurrency=3) as outcomes:
            visited = [o.value async for o in outcomes]
        sts = {k.region: s.requests for k, s in pool.statistics().scopes.items()}
    assert visited == [management] * 3
    assert sts == {"us-east-1": 1, **{r: 1 for r in regions}}


class _Barrier:
    """Every target is under way before any raises, and none is cancelled by the first
    error while it waits: the errors are truly concurrent, as when many tasks resume from
    one event (a lock, a shared client) and fail alike in the same loop pass."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.arrived = 0
        self.event = anyio.Event()

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived == self.n:
            self.event.set()
        with anyio.CancelScope(shield=True):
            await self.event.wait()


async def test_a_bug_raised_by_many_targets_is_raised_once_as_itself(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    accounts = [f"{i:012d}" for i in range(1, 7)]
    targets = [aiokit.Target(a, "us-east-1") for a in accounts]
    barrier = _Barrier(len(targets))

    async def buggy(ctx: aiokit.Context) -> int:
        await barrier.wait()
        return {}[ctx.target.account]  # a KeyError whose message differs per target

    with anyio.fail_after(10):
        with pytest.raises(KeyError) as info:
            async with aiokit_pool.fan_out(buggy, targets, concurrency=6) as outcomes:
                async for _ in outcomes:
                    pass
    assert not isinstance(info.value, BaseExceptionGroup)
    assert info.value.args[0] in accounts
    assert any("5 more target(s) raised the same KeyError" in n for n in info.value.__notes__)


async def test_different_bugs_raised_at_once_stay_together_in_a_group(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    targets = [aiokit.Target(f"{i:012d}", "us-east-1") for i in range(1, 5)]
    barrier = _Barrier(len(targets))

    async def buggy(ctx: aiokit.Context) -> int:
        await barrier.wait()
        if ctx.target == targets[0]:
            raise ZeroDivisionError("one bug")
        raise LookupError("another bug")

    with anyio.fail_after(10):
        with pytest.raises(BaseExceptionGroup) as info:
            async with aiokit_pool.fan_out(buggy, targets, concurrency=4) as outcomes:
                async for _ in outcomes:
                    pass
    assert info.group_contains(ZeroDivisionError)
    assert info.group_contains(LookupError)


async def test_a_crawl_checks_its_request_once_before_any_target_starts(
    seeded: tuple[aiokit.SessionPool, list[aiokit.Target]],
) -> None:
    pool, targets = seeded
    before = pool.statistics().credential_refreshes
    for kwargs, fragment in [
        ({"Limitt": 5}, "Limitt"),
        ({"key": "Nope"}, "'Nope'"),
        ({"PaginationConfig": {"MaxItems": -1}}, "MaxItems"),
    ]:
        with anyio.fail_after(10):
            with pytest.raises(aiokit.InvalidParameterError, match=fragment) as info:
                async with pool.crawl("sqs", "list_queues", targets, **kwargs) as crawl:
                    async for _ in crawl:
                        pass
        assert not isinstance(info.value, BaseExceptionGroup)
        assert info.value.account is None  # not one target's error: the request's
    with pytest.raises(aiokit.UnknownOperationError, match="not paginated"):
        await pool.crawl("sqs", "create_queue", targets, QueueName="q").collect()
    # No target was started: no role was assumed for any of them.
    assert pool.statistics().credential_refreshes == before
