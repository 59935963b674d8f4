"""Shared adaptive retry: the limiter on a deterministic clock, and end to end over HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import pytest_asyncio
from aiohttp import web

import aiokit
from aiokit._ratelimit import RateLimiterRegistry, RetrySettings, ScopeKey, ScopeLimiter
from aiokit._where import Scope as Where
from aiokit.testing import TEST_CREDENTIALS, serve_on_loopback

pytestmark = [pytest.mark.asyncio, pytest.mark.timing]  # rates and throttles, real clocks


class FakeTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


# --- the limiter, deterministic -----------------------------------------------------------


async def test_a_seeded_bucket_paces_requests_at_its_rate() -> None:
    t = FakeTime()
    limiter = ScopeLimiter(rate=10.0, burst=2, clock=t.clock, sleep=t.sleep)
    for _ in range(7):
        await limiter.acquire()
        limiter.release()
    # 2 from the burst, then one every 0.1 s.
    assert t.now - 1000.0 == pytest.approx(0.5)
    assert limiter.statistics().requests == 7


async def test_a_newcomer_queues_behind_a_waiter_for_the_empty_bucket() -> None:
    """The bucket hands tokens out in arrival order: a request arriving while another
    waits for the next token does not take that token from it."""
    t = FakeTime()
    wake = anyio.Event()

    async def sleep(seconds: float) -> None:  # the time passes, the sleeper wakes later
        t.now += seconds
        await wake.wait()

    limiter = ScopeLimiter(rate=10.0, burst=1, clock=t.clock, sleep=sleep)
    order: list[str] = []

    async def take(name: str) -> None:
        await limiter.acquire()
        order.append(name)

    await take("a")  # the burst's one token
    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "b")
        await anyio.lowlevel.checkpoint()  # b sleeps for the next token, not awake yet
        tg.start_soon(take, "c")
        await anyio.lowlevel.checkpoint()  # c arrives while b still sleeps
        assert order == ["a"]
        wake.set()
    assert order == ["a", "b", "c"]
    assert t.now - 1000.0 == pytest.approx(0.2)


def test_the_first_throttle_starts_learning_and_the_grants_give_the_refill_rate() -> None:
    """A bucket of 20 refilled at 10/s, drained at 50/s: the first throttle says it is
    empty; the grants that follow come at the refill rate, which is then held under."""
    t = FakeTime()
    limiter = ScopeLimiter(rate=19.0, burst=95, clock=t.clock)
    for _ in range(20):  # the burst, granted at once
        t.now += 0.02
        limiter.on_success()
    limiter.on_throttle()
    assert limiter.max_rate <= 19.0 and limiter.capacity == 1.0  # probing, no burst
    for _ in range(8):  # the bucket grants one every 0.1 s and refuses one in between
        t.now += 0.05
        limiter.on_throttle()
        t.now += 0.05
        limiter.on_success(sent=t.now - 0.01)
    # 7 grants between the first refusal and the last (0.75 s): within one grant of the
    # 7.5 the bucket refilled meanwhile, then held at 0.9 of that.
    assert limiter.max_rate == pytest.approx(0.9 * 10.0, rel=0.08)
    assert limiter.throttles == 9
    held = limiter.max_rate
    for _ in range(200):  # held: no probing above what the bucket refills
        t.now += 1 / held
        limiter.on_success()
    assert limiter.max_rate == held


def test_a_stall_of_the_client_while_learning_does_not_lower_the_learnt_rate() -> None:
    """Refused and granted in turn at a 10/s refill, then the client stalls for a second (a
    backoff after an HTTP 500, a busy loop) and its next grants come as slowly as it sends:
    the grants between two refusals (the bucket empty at both) give the refill; the grants'
    rate over the whole time would say 3.7/s."""
    t = FakeTime()
    limiter = ScopeLimiter(rate=None, clock=t.clock)
    for _ in range(20):
        t.now += 0.02
        limiter.on_success()
    limiter.on_throttle()
    for _ in range(4):  # refused, granted: one grant every 0.1 s
        t.now += 0.05
        limiter.on_throttle()
        t.now += 0.05
        limiter.on_success(sent=t.now - 0.01)
    t.now += 1.0  # the stall
    for _ in range(4):  # sent slowly, so granted slowly: no refusal
        t.now += 0.15
        limiter.on_success(sent=t.now - 0.01)
    assert limiter._learning is None  # learnt
    assert limiter.max_rate >= 0.9 * 10.0 * 0.8  # 3 grants in 0.35 s: 8.6/s, held at 7.7


def test_a_rate_learnt_from_the_grants_rate_alone_climbs_back_until_refused() -> None:
    """Refused while learning, but then the grants come as slowly as a stalled client
    sends them: too few grants between two refusals to measure the refill by, so the rate
    learnt from the grants' rate is only a lower bound. It is raised by a quarter each
    quiet second, up to the rate that emptied the bucket, and a refusal ends the climb."""
    t = FakeTime()
    limiter = ScopeLimiter(rate=None, clock=t.clock)
    for _ in range(40):  # the burst, spent at 40/s
        t.now += 0.025
        limiter.on_success()
    limiter.on_throttle()
    ceiling = 40.0  # the rate that emptied the bucket
    assert limiter.max_rate == pytest.approx(ceiling / 2)  # the first probe: half of it
    for _ in range(2):
        t.now += 0.05
        limiter.on_success(sent=t.now - 0.01)
    t.now += 0.05
    limiter.on_throttle()  # two grants between refusals: not enough to measure by
    for _ in range(6):  # a grant every 0.5 s: the client's pace, not the bucket's
        t.now += 0.5
        limiter.on_success(sent=t.now - 0.01)
    assert limiter._learning is None
    learnt = limiter.max_rate
    assert learnt < 3.0  # the stalled pace (2/s), not the 40/s nor the bucket's refill
    rates = []
    for _ in range(4):
        t.now += 1.01
        limiter.on_success()
        rates.append(limiter.max_rate)
    assert rates == pytest.approx([learnt * 1.25**k for k in (1, 2, 3, 4)])
    for _ in range(30):
        t.now += 1.01
        limiter.on_success()
    assert limiter.max_rate == pytest.approx(ceiling)  # no higher than what emptied it
    limiter.on_throttle()  # learning again: the climb is over
    assert limiter._climb_to is None


def test_a_rate_learnt_between_refusals_does_not_climb() -> None:
    t = FakeTime()
    limiter = ScopeLimiter(rate=None, clock=t.clock)
    for _ in range(40):
        t.now += 0.025
        limiter.on_success()
    limiter.on_throttle()
    for _ in range(8):  # refused, granted: the bucket's pace, 10/s
        t.now += 0.05
        limiter.on_throttle()
        t.now += 0.05
        limiter.on_success(sent=t.now - 0.01)
    assert limiter._learning is None
    held = limiter.max_rate
    for _ in range(50):  # 50 quiet seconds: held (a learnt rate is raised after 60)
        t.now += 1.0
        limiter.on_success()
    assert limiter.max_rate == held


def test_a_documented_quota_is_held_until_aws_says_otherwise() -> None:
    t = FakeTime()
    limiter = ScopeLimiter(rate=19.0, burst=95, clock=t.clock)
    for _ in range(400):  # 20 s of successes at 20/s: no probing above the quota
        t.now += 0.05
        limiter.on_success()
    assert limiter.max_rate == 19.0
    limiter.on_throttle()  # the quota was lowered: learn from here on
    assert limiter.max_rate <= 19.0 and limiter.capacity == 1.0
    for _ in range(8):  # granted at 5/s now
        t.now += 0.2
        limiter.on_success()
    assert limiter.max_rate == pytest.approx(5.0, rel=0.05)  # never refused: kept as measured


def test_successes_of_attempts_sent_before_the_bucket_emptied_are_not_grants() -> None:
    t = FakeTime()
    limiter = ScopeLimiter(rate=None, clock=t.clock)
    for _ in range(40):
        t.now += 0.025
        limiter.on_success()
    limiter.on_throttle()
    start = t.now
    for _ in range(30):  # answers in flight when the throttle came: sent before it
        limiter.on_success(sent=start - 0.01)
    assert limiter._learning is not None  # still learning: those say nothing of the refill


def test_a_probe_refused_far_more_than_granted_slows_down() -> None:
    t = FakeTime()
    limiter = ScopeLimiter(rate=None, clock=t.clock)
    for _ in range(200):
        t.now += 0.005
        limiter.on_success()
    limiter.on_throttle()
    probe = limiter.max_rate
    for _ in range(10):
        t.now += 0.005
        limiter.on_throttle()
    assert limiter.max_rate < probe


async def test_in_flight_is_capped_per_scope() -> None:
    limiter = ScopeLimiter(rate=None, max_in_flight=2)
    await limiter.acquire()
    await limiter.acquire()
    third_started = False

    async def third() -> None:
        nonlocal third_started
        await limiter.acquire()
        third_started = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(third)
        await anyio.sleep(0.05)
        assert not third_started and limiter.statistics().in_flight == 2
        limiter.release()
    assert third_started


def test_retry_budget_is_a_circuit_breaker() -> None:
    limiter = ScopeLimiter(budget=20)
    assert [limiter.spend(5) for _ in range(5)] == [True, True, True, True, False]
    assert limiter.statistics().budget == 0
    limiter.on_success()
    assert limiter.statistics().budget == 1


def test_scope_keys_follow_aws_throttling() -> None:
    registry = RateLimiterRegistry(RetrySettings())

    class Scope:
        def __init__(self, service: str, region: str) -> None:
            self.partition, self.account, self.region, self.service = (
                "aws",
                "111122223333",
                region,
                service,
            )

    ec2 = registry.key(Scope("ec2", "eu-west-1"), "DescribeInstances")
    assert ec2 == ScopeKey("aws", "111122223333", "eu-west-1", "ec2", "describe")
    assert registry.key(Scope("ec2", "eu-west-1"), "RunInstances").group == "mutating"
    assert registry.key(Scope("iam", "eu-west-1"), "ListRoles").region is None  # global
    seeded = registry.limiter(ec2)
    # EC2's documented bucket (100, refill 20/s), with a 5 % margin.
    assert (seeded.max_rate, seeded.capacity) == pytest.approx((19.0, 95.0))
    assert registry.limiter(registry.key(Scope("sqs", "eu-west-1"), "ListQueues")).enabled is False


# --- end to end over HTTP ------------------------------------------------------------------


class Throttler:
    """A DynamoDB-shaped server: throttles the first ``throttles`` requests, then answers."""

    def __init__(self) -> None:
        self.throttles = 0
        self.status = 400
        self.code = "ThrottlingException"
        self.retry_after_ms: int | None = None
        self.requests = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests += 1
        if self.throttles > 0:
            self.throttles -= 1
            headers = {}
            if self.retry_after_ms is not None:
                headers["x-amz-retry-after"] = str(self.retry_after_ms)
            body = f'{{"__type": "com.amazonaws#{self.code}", "message": "slow down"}}'
            return web.Response(
                status=self.status,
                text=body,
                headers=headers,
                content_type="application/x-amz-json-1.0",
            )
        return web.json_response({"TableNames": ["t"]}, content_type="application/x-amz-json-1.0")


@pytest_asyncio.fixture
async def throttler() -> AsyncIterator[Throttler]:
    server = Throttler()
    async with serve_on_loopback(server.handle) as server.url:
        yield server


def _pool(url: str, **kw: Any) -> aiokit.SessionPool:
    return aiokit.SessionPool(
        endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS, **kw
    )


async def test_throttles_are_waited_out_without_using_attempts(throttler: Throttler) -> None:
    # More throttles than attempts: the shared mode resends until the scope allows.
    throttler.throttles = 4
    async with _pool(throttler.url, retry=RetrySettings(max_attempts=2)) as pool:
        ddb = await pool.client("dynamodb")
        answer = await ddb.list_tables()
        stats = pool.statistics()
    assert answer["TableNames"] == ["t"]
    assert throttler.requests == 5
    (scope,) = stats.scopes.values()
    assert scope.throttles == 4 and scope.requests == 5
    assert scope.rate is not None  # the bucket is on after a throttle


async def test_a_429_with_retry_after_is_a_throttle_and_is_honoured(throttler: Throttler) -> None:
    throttler.throttles, throttler.status, throttler.code = 1, 429, "TooManyRequestsException"
    throttler.retry_after_ms = 300
    async with _pool(throttler.url) as pool:
        ddb = await pool.client("dynamodb")
        start = anyio.current_time()
        await ddb.list_tables()
        waited = anyio.current_time() - start
        (scope,) = pool.statistics().scopes.values()
    assert scope.throttles == 1
    assert waited >= 0.3  # it waited as long as the service asked


async def test_throttle_deadline_ends_the_wait(throttler: Throttler) -> None:
    throttler.throttles = 10_000
    settings = RetrySettings(throttle_timeout=0.5)
    async with _pool(throttler.url, retry=settings) as pool:
        ddb = await pool.client("dynamodb")
        with pytest.raises(aiokit.ThrottlingError):
            await ddb.list_tables()
        assert pool.statistics().scopes  # counted


async def test_no_retry_stacking(throttler: Throttler) -> None:
    # Every answer a 500: aiokit's attempts only, botocore's are not multiplied in.
    throttler.throttles, throttler.status, throttler.code = 10_000, 500, "InternalServerError"
    async with _pool(throttler.url, retry=RetrySettings(max_attempts=3, max_backoff=0.01)) as pool:
        ddb = await pool.client("dynamodb")
        with pytest.raises(aiokit.AWSError, match="InternalServerError"):
            await ddb.list_tables()
        (scope,) = pool.statistics().scopes.values()
    assert throttler.requests == 3
    assert scope.retries == 2 and scope.requests == 3


async def test_botocore_modes_remain_available(throttler: Throttler) -> None:
    throttler.throttles, throttler.status, throttler.code = 10_000, 500, "InternalServerError"
    async with _pool(throttler.url, retry_mode="standard") as pool:
        ddb = await pool.client("dynamodb")
        with pytest.raises(aiokit.AWSError):
            await ddb.list_tables()
        assert pool.statistics().scopes == {}
    assert throttler.requests == 5  # botocore standard: 5 attempts in all


async def test_cancelled_request_gives_its_slot_back(throttler: Throttler) -> None:
    blocked = anyio.Event()

    async def stall(request: web.Request) -> web.Response:
        blocked.set()
        await anyio.sleep(30)
        return web.Response()

    async with _pool(throttler.url, retry=RetrySettings(max_in_flight=1)) as pool:
        ddb = await pool.client("dynamodb")
        await ddb.list_tables()  # makes the scope
        original = throttler.handle
        throttler.handle = stall  # type: ignore[method-assign]
        with anyio.move_on_after(0.3):
            await ddb.list_tables()
        throttler.handle = original  # type: ignore[method-assign]
        (scope,) = pool.statistics().scopes.values()
        assert scope.in_flight == 0
        # The slot is free again: this would hang with max_in_flight=1 otherwise.
        with anyio.fail_after(5):
            await ddb.list_tables()


# --- aiokit.retry for user code ----------------------------------------------------------------


async def test_retry_decorator_retries_what_it_should() -> None:
    calls = {"n": 0}

    @aiokit.retry(attempts=5, base=0.001)
    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise aiokit.RetryableError("unprocessed items")
        return "done"

    assert await flaky() == "done" and calls["n"] == 3

    @aiokit.retry(attempts=3, base=0.001)
    async def always() -> None:
        calls["n"] += 1
        raise aiokit.RetryableError("still")

    calls["n"] = 0
    with pytest.raises(aiokit.RetryableError):
        await always()
    assert calls["n"] == 3

    @aiokit.retry
    async def bug() -> None:
        calls["n"] += 1
        raise KeyError("not retried")

    calls["n"] = 0
    with pytest.raises(KeyError):
        await bug()
    assert calls["n"] == 1


# --- a scope whose capacity halves mid-run, on the project's fake AWS ---------------------------


async def test_capacity_halving_mid_run_recovers_without_failing_targets() -> None:
    from benchmarks.fake_aws import FakeAWS, FakeConfig, expected_items

    # One-instance pages parse fast, so each target asks far faster than its bucket refills.
    config = FakeConfig(
        accounts=3,
        latency_ms=2,
        items={"instances": 30},
        page_size={"DescribeInstances": 1},
        throttle=True,
        buckets={"ec2:Describe*": [5.0, 10.0], "sts:*": [50.0, 50.0]},
    )
    regions = ["us-east-1", "eu-west-1"]
    accounts = [str(100000000001 + i) for i in range(3)]
    async with FakeAWS(config) as fake:
        targets = [
            aiokit.Target.assume(a, r, "OrganizationAccountAccessRole")
            for r in regions
            for a in accounts
        ]

        async def instances(ctx: aiokit.Context) -> list[str]:
            pager = ctx.paginate("ec2", "describe_instances")
            return [i["InstanceId"] async for i in pager.search("Reservations[].Instances[]")]

        found: dict[tuple[str | None, str | None], list[str]] = {}
        halved = False
        async with _pool(fake.endpoint_url) as pool:
            async with pool.fan_out(instances, targets, concurrency=6) as outcomes:
                async for outcome in outcomes:
                    assert outcome.ok, outcome
                    found[(outcome.target.account, outcome.target.region)] = outcome.value or []
                    if not halved:
                        # Half the capacity for every scope, while the others are mid-way.
                        await anyio.to_thread.run_sync(
                            lambda: fake.configure(buckets={"ec2:Describe*": [2.5, 5.0]})
                        )
                        halved = True
            scopes = pool.statistics().scopes
        stats = fake.stats()
    for account in accounts:
        for region in regions:
            assert found[(account, region)] == expected_items(config, account, region, "instances")
    assert stats["throttled"] > 0  # the halving did bite
    assert sum(s.throttles for s in scopes.values()) == stats["throttled"]


# --- what "retries" counts, per scope and per target, against the server's own counts ----------


async def test_scope_and_outcome_retry_counts_agree_with_the_servers() -> None:
    """The same throttled and faulted calls, counted three ways, give the same figures.

    The fake endpoint throttles DynamoDB hard and answers a fifth of its requests with a
    500; every throttle and every 500 is resent, so each is one retry of its kind, and the
    scopes' statistics and the targets' outcomes must both say so.
    """
    from benchmarks.fake_aws import FakeAWS, FakeConfig, expected_items

    config = FakeConfig(
        accounts=2,
        items={"tables": 12},
        page_size={"ListTables": 2},
        throttle=True,
        buckets={"dynamodb:*": [2.0, 40.0], "sts:*": [500.0, 500.0]},
        fault_500=0.2,
        fault_seed=7,
        fault_actions=["dynamodb:*"],
    )
    regions = ["us-east-1", "eu-west-1"]
    accounts = ["100000000001", "100000000002"]
    targets = [
        aiokit.Target.assume(a, r, "OrganizationAccountAccessRole")
        for r in regions
        for a in accounts
    ]

    async def tables(ctx: aiokit.Context) -> list[str]:
        return [t async for t in ctx.paginate("dynamodb", "list_tables").items()]

    settings = RetrySettings(max_attempts=20, max_backoff=0.01)
    async with FakeAWS(config) as fake:
        async with _pool(fake.endpoint_url, retry=settings) as pool:
            async with pool.fan_out(tables, targets, concurrency=4) as stream:
                outcomes = [o async for o in stream]
            scopes = {k: s for k, s in pool.statistics().scopes.items() if k.service == "dynamodb"}
        server = fake.stats()
    assert all(o.ok for o in outcomes), outcomes
    for o in outcomes:
        assert o.value == expected_items(config, o.target.account, o.target.region, "tables")

    throttled = server["throttled_by_action"]["dynamodb:ListTables"]
    faulted = server["faults"].get("500", 0)
    sent = server["by_action"]["dynamodb:ListTables"]
    assert throttled > 0 and faulted > 0  # both kinds happened
    # every throttle and every 500 was sent again: one retry of its kind each
    assert sum(s.throttles for s in scopes.values()) == throttled
    assert sum(s.throttle_retries for s in scopes.values()) == throttled
    assert sum(s.transient_retries for s in scopes.values()) == faulted
    assert sum(s.retries for s in scopes.values()) == throttled + faulted
    assert sum(s.requests for s in scopes.values()) == sent
    # the outcomes count the same attempts
    assert sum(o.throttles for o in outcomes) == throttled
    assert sum(o.throttle_retries for o in outcomes) == throttled
    assert sum(o.transient_retries for o in outcomes) == faulted
    assert sum(o.page_retries for o in outcomes) == 0
    assert sum(o.retries for o in outcomes) == throttled + faulted
    # 6 pages per target, each one call; every other request to the server a retry. The
    # AssumeRole of each account is counted as a call of the target that needed it first.
    assume_role = server["by_action"]["sts:AssumeRole"]
    assert assume_role == 2
    assert sum(o.calls for o in outcomes) == 4 * 6 + assume_role
    assert sent - throttled - faulted == 4 * 6


@pytest.mark.parametrize("mode", ["shared", "standard"])
async def test_outcome_retries_are_botocores_retry_attempts(
    throttler: Throttler, mode: str
) -> None:
    """Whoever retries (aiokit's scopes or botocore's handler), a target's retries are the
    attempts sent again, as botocore's ``RetryAttempts`` counts them, split by cause."""
    throttler.throttles = 2
    answers: list[dict[str, Any]] = []

    async def list_tables(ctx: aiokit.Context) -> None:
        ddb = await ctx.client("dynamodb")
        answers.append(await ddb.list_tables())

    async with _pool(throttler.url, retry_mode=mode) as pool:
        target = aiokit.Target(account=None, region="us-east-1")
        async with pool.fan_out(list_tables, [target]) as stream:
            (outcome,) = [o async for o in stream]
    assert outcome.ok, outcome
    assert throttler.requests == 3
    assert answers[0]["ResponseMetadata"]["RetryAttempts"] == 2
    assert (outcome.calls, outcome.throttles, outcome.retries) == (1, 2, 2)
    assert (outcome.throttle_retries, outcome.transient_retries, outcome.page_retries) == (2, 0, 0)


async def test_a_request_that_cannot_be_sent_as_built_is_a_bad_parameter_not_retried(
    moto_endpoint: str,
) -> None:
    """A line break in a header value fails the same way every time: no retries (they took
    4.6 s and 20 of the scope's budget), and the error is the parameter's, not the
    endpoint's."""
    async with _pool(moto_endpoint) as pool:
        s3 = await pool.client("s3")
        await s3.create_bucket(Bucket="header-values")
        with pytest.raises(aiokit.InvalidParameterError, match="s3 PutObject in us-east-1"):
            await s3.put_object(
                Bucket="header-values", Key="k", Body=b"x", Metadata={"note": "two\nlines"}
            )
        scopes = pool.statistics().scopes.values()
    assert sum(s.requests for s in scopes) == 2  # CreateBucket, and PutObject once
    assert sum(s.retries for s in scopes) == 0


# --- one backoff, one transient predicate, one throttle check -----------------------------------


def test_every_retry_draws_from_the_one_backoff_as_its_formula_says() -> None:
    """Same seed, same draw: the limiter's, the page retry's, ``@retry``'s and the waiter's
    delays are the formulas each had before they shared ``backoff()``."""
    import random

    from aiokit._retry import backoff
    from aiokit._waiters import next_delay

    pairs: list[tuple[Callable[[int], float], Callable[[int], float]]] = [
        # The scope limiter's transient retry: full jitter, 1 s doubling, RetrySettings' cap.
        (
            lambda n: backoff(n, base=1.0, cap=20.0),
            lambda n: random.uniform(0, min(20.0, 2 ** (n - 1))),
        ),
        # @aiokit.retry: full jitter from ``base``, up to ``cap``.
        (
            lambda n: backoff(n, base=0.1, cap=20.0),
            lambda n: random.uniform(0, min(20.0, 0.1 * 2 ** (n - 1))),
        ),
        # A paginator's page retry (the n-th): 0.25 s doubling up to 10 s.
        (
            lambda n: backoff(n, base=0.25, cap=10.0),
            lambda n: random.uniform(0, min(10.0, 0.25 * 2 ** (n - 1))),
        ),
        # The waiters' Smithy strategy: uniform in [delay, min(max_delay, delay * 2**(n-1))].
        (
            lambda n: next_delay(n, 5.0, "exponential", 120.0),
            lambda n: random.uniform(5.0, max(5.0, min(120.0, 5.0 * 2.0 ** min(n - 1, 32)))),
        ),
    ]
    for draw, formula in pairs:
        for n in (1, 2, 5, 9, 40):
            for seed in range(10):
                random.seed(seed)
                got = draw(n)
                random.seed(seed)
                assert got == formula(n), (n, seed)


def test_one_throttle_check_and_one_transient_predicate() -> None:
    from botocore.exceptions import ClientError

    from aiokit._exceptions import THROTTLING_CODES, is_throttling, translate
    from aiokit._retry import is_transient

    assert is_throttling("SlowDown", 503) and is_throttling("", 429)
    assert is_throttling("ProvisionedThroughputExceededException", 400)
    assert not is_throttling("AccessDenied", 403) and not is_throttling("", 500)
    # botocore's own list, so aiokit and botocore's retry handler agree on what a throttle is.
    from botocore.retries.standard import ThrottledRetryableChecker

    assert set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) == THROTTLING_CODES

    def answer(code: str, status: int) -> BaseException:
        error = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return translate(ClientError(error, "Op"), service="sqs")  # type: ignore[arg-type]

    assert is_transient(answer("InternalError", 500)) and is_transient(answer("SlowDown", 503))
    assert is_transient(answer("Throttling", 400))  # a ThrottlingError
    assert not is_transient(answer("AccessDenied", 403))
    assert is_transient(aiokit.EndpointError("reset")) and not is_transient(KeyError("x"))
    assert not is_transient(aiokit.RetryableError("user code's own"))  # @retry's, not AWS's


def test_global_services_are_those_of_botocores_endpoint_data() -> None:
    """One scope per account for a global service (one endpoint per partition), by the
    service's endpoint prefix: ``mturk`` is ``mturk-requester`` in the endpoint data."""
    registry = RateLimiterRegistry(RetrySettings())

    def key(service: str, partition: str = "aws") -> ScopeKey:
        where = Where("111122223333", "eu-west-1", service, partition)
        return registry.key(where, "AnyOperation")

    for service in ("iam", "organizations", "route53", "cloudfront", "ce", "budgets", "mturk"):
        assert key(service).region is None, service
        assert key(service).account == "111122223333"
    for service in ("ec2", "sqs", "sts", "s3", "dynamodb"):
        assert key(service).region == "eu-west-1", service
    # Per partition: Shield is global in aws, not a service of aws-cn's endpoint data.
    assert key("iam", "aws-cn").region is None
    assert key("shield").region is None and key("shield", "aws-cn").region == "eu-west-1"


async def test_the_limiter_reads_service_and_endpoint_data_in_a_worker_thread(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request of a service the limiters have not keyed yet reads the service's
    endpoint prefix in a worker thread, never on the event loop."""
    import threading

    from aiokit import _ratelimit
    from aiokit._botocore import shared_loader

    async with _pool(moto_endpoint) as pool:
        sns = await pool.client("sns")
        loop_thread = threading.get_ident()
        loader = shared_loader()
        load = loader.load_service_model
        on_loop: list[str] = []

        def recording(service: str, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == loop_thread:
                on_loop.append(service)
            return load(service, *args, **kwargs)

        monkeypatch.delitem(_ratelimit._prefixes, "sns", raising=False)
        monkeypatch.setattr(loader, "load_service_model", recording)
        await sns.list_topics()
        assert "sns" in _ratelimit._prefixes
    assert on_loop == []


def test_a_learnt_rate_is_raised_after_a_quiet_minute_and_a_documented_one_never() -> None:
    """What was learnt may have been another consumer's leftover: after a minute without a
    throttle the held rate grows by 10 %, and a throttle then learns again. A documented
    quota is held as it is."""
    t = FakeTime()
    limiter = ScopeLimiter(rate=None, clock=t.clock)
    for _ in range(40):  # the burst, then the bucket is found empty
        t.now += 0.025
        limiter.on_success()
    limiter.on_throttle()
    for _ in range(8):  # granted at 10/s
        t.now += 0.1
        limiter.on_success()
    held = limiter.max_rate
    assert held == pytest.approx(10.0, rel=0.1)
    for _ in range(int(59 * held)):  # 59 s at the held rate: unchanged
        t.now += 1 / held
        limiter.on_success()
    assert limiter.max_rate == held
    t.now += 2.0
    limiter.on_success()
    assert limiter.max_rate == pytest.approx(1.1 * held)
    limiter.on_throttle()  # too far: learn again, from a probe with no burst
    assert limiter.capacity == 1.0 and limiter._learning is not None

    documented = ScopeLimiter(rate=20.0, burst=40.0, clock=t.clock)
    for _ in range(100 * 20):  # 100 s at the quota
        t.now += 0.05
        documented.on_success()
    assert documented.max_rate == 20.0


async def test_a_transient_error_is_resent_within_a_tenth_of_a_second_at_first() -> None:
    """The first resend of a 5xx waits up to 0.1 s, each next one up to twice as long
    (``_ratelimit._TRANSIENT_BASE``; botocore's standard mode starts at up to 1 s).

    Half of 20 pages answered with a 500 (a fixed fault sequence): ~10 first resends, ~5
    second ones... At most ~3.5 s of backoff in all from 0.1 s; from botocore's 1 s, ~20 s
    on average and rarely under 6.
    """
    from benchmarks.fake_aws import FakeAWS, FakeConfig, expected_items

    config = FakeConfig(
        accounts=1,
        latency_ms=0.0,
        items={"tables": 20},
        page_size={"ListTables": 1},
        fault_500=0.5,
        fault_seed=11,
        fault_actions=["dynamodb:ListTables"],
    )
    account = config.member_accounts()[0]
    target = aiokit.Target.assume(account, "us-east-1", "OrganizationAccountAccessRole")

    async def tables(ctx: aiokit.Context) -> list[str]:
        return [t async for t in ctx.paginate("dynamodb", "list_tables").items()]

    async with FakeAWS(config) as fake:
        async with _pool(fake.endpoint_url) as pool:
            start = time.monotonic()
            async with pool.fan_out(tables, [target]) as stream:
                [outcome] = [o async for o in stream]
            elapsed = time.monotonic() - start
        faulted = fake.stats()["faults"].get("500", 0)
    assert outcome.ok, outcome
    assert outcome.value == expected_items(config, account, "us-east-1", "tables")
    # (a page whose attempts all met a 500 is asked again: a page retry)
    assert outcome.transient_retries + outcome.page_retries == faulted >= 8
    assert elapsed < 6.0, f"{faulted} resends took {elapsed:.1f} s"
