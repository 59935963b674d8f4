"""Waiters: botocore's waiters and custom models, deadline, backoff, cancellation, wait_many."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import pytest_asyncio
from aiohttp import web

import aiokit
from aiokit import _waiters
from aiokit.testing import serve_on_loopback

# Explicit: parametrized tests with async fixtures need the anyio mark at collection time.
pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

# DescribeTable-based custom waiters; moto makes tables ACTIVE at once.
TABLE_ACTIVE = {
    "version": 2,
    "waiters": {
        "TableActive": {
            "operation": "DescribeTable",
            "delay": 0.1,
            "maxAttempts": 50,
            "acceptors": [
                {
                    "state": "success",
                    "matcher": "path",
                    "argument": "Table.TableStatus",
                    "expected": "ACTIVE",
                },
                {"state": "retry", "matcher": "error", "expected": "ResourceNotFoundException"},
            ],
        }
    },
}


def _model(*acceptors: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    waiter = {"operation": "DescribeTable", "delay": 0.1, "maxAttempts": 5, **overrides}
    waiter["acceptors"] = list(acceptors)
    return {"version": 2, "waiters": {"Custom": waiter}}


SUCCESS_IF_ACTIVE = {
    "state": "success",
    "matcher": "path",
    "argument": "Table.TableStatus",
    "expected": "ACTIVE",
}


async def _create_table(ddb: Any, name: str) -> None:
    await ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


class Silent:
    """An HTTP server on loopback that accepts requests and never answers them."""

    def __init__(self) -> None:
        self.arrived = anyio.Event()
        self.release = anyio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.arrived.set()
        await self.release.wait()
        return web.Response(status=500)


@pytest_asyncio.fixture
async def silent() -> AsyncIterator[Silent]:
    s = Silent()
    async with serve_on_loopback(s.handle) as s.url:
        try:
            yield s
        finally:
            s.release.set()


# --- botocore's own waiters ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["table_exists", "TableExists"], ids=["snake_case", "CamelCase"])
async def test_table_exists_after_create_table(aiokit_pool: aiokit.SessionPool, name: str) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    await _create_table(ddb, "orders")
    response = await _waiters.wait(ddb, name, TableName="orders", timeout=10)
    assert response["Table"]["TableStatus"] == "ACTIVE"


async def test_bucket_exists(aiokit_pool: aiokit.SessionPool) -> None:
    s3 = await aiokit_pool.client("s3")
    await s3.create_bucket(Bucket="logs")
    response = await _waiters.wait(s3, "bucket_exists", Bucket="logs", timeout=10)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


async def test_instance_running_after_run_instances(aiokit_pool: aiokit.SessionPool) -> None:
    ec2 = await aiokit_pool.client("ec2")
    # One of the AMIs moto knows in us-east-1 (listing them all with DescribeImages is slow).
    run = await ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=2, MaxCount=2, InstanceType="t3.micro"
    )
    ids = [i["InstanceId"] for i in run["Instances"]]
    response = await _waiters.wait(ec2, "instance_running", InstanceIds=ids, timeout=10, delay=0.1)
    states = [i["State"]["Name"] for r in response["Reservations"] for i in r["Instances"]]
    assert states == ["running", "running"]


async def test_retries_until_the_resource_appears(aiokit_pool: aiokit.SessionPool) -> None:
    s3 = await aiokit_pool.client("s3")
    polls = 0

    def count(**_: Any) -> None:
        nonlocal polls
        polls += 1

    s3.meta.events.register("before-call.s3.HeadBucket", count)
    try:
        async with anyio.create_task_group() as tg:

            async def create_later() -> None:
                await anyio.sleep(0.4)
                await s3.create_bucket(Bucket="late")

            tg.start_soon(create_later)
            await _waiters.wait(s3, "bucket_exists", Bucket="late", delay=0.1, timeout=10)
    finally:
        s3.meta.events.unregister("before-call.s3.HeadBucket", count)
    assert polls >= 2


# --- deadline, attempts, cancellation ----------------------------------------------------------


async def test_deadline_raises_waiter_timeout(aiokit_pool: aiokit.SessionPool) -> None:
    s3 = await aiokit_pool.client("s3")
    start = time.monotonic()
    with pytest.raises(aiokit.WaiterTimeout) as info:
        await _waiters.wait(s3, "bucket_exists", Bucket="never", timeout=1.5, delay=0.2)
    elapsed = time.monotonic() - start
    assert elapsed < 1.5 + 2
    error = info.value
    assert isinstance(error, aiokit.AiokitError)
    assert isinstance(error, TimeoutError)
    assert error.last_response is not None
    assert error.last_response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert (error.service, error.waiter, error.operation) == ("s3", "BucketExists", "HeadBucket")
    assert "s3 waiter BucketExists in us-east-1" in str(error)
    assert "1.5 s" in str(error)


@pytest.mark.parametrize("delay", [None, 0.4], ids=["model_delay_20s", "delay_0.4s"])
async def test_a_wait_gives_up_at_its_deadline_not_before(
    aiokit_pool: aiokit.SessionPool, delay: float | None
) -> None:
    # DescribeTable of a missing table: moto answers ResourceNotFoundException at once,
    # which table_exists retries on, so this wait can only end by its deadline.
    ddb = await aiokit_pool.client("dynamodb")
    polls: list[float] = []

    def count(**_: Any) -> None:
        polls.append(time.monotonic())

    ddb.meta.events.register("before-call.dynamodb.DescribeTable", count)
    start = time.monotonic()
    try:
        with pytest.raises(aiokit.WaiterTimeout, match="not done within 3 s"):
            await _waiters.wait(ddb, "table_exists", TableName="missing", timeout=3, delay=delay)
    finally:
        ddb.meta.events.unregister("before-call.dynamodb.DescribeTable", count)
    elapsed = time.monotonic() - start
    assert 3.0 <= elapsed <= 3.0 + 1.0
    # The last poll is made in the final stretch, not a second or more before the deadline.
    assert 2.5 <= polls[-1] - start <= 3.0


async def test_deadline_cancels_the_request_in_flight(
    aiokit_pool: aiokit.SessionPool, silent: Silent
) -> None:
    ddb = await aiokit_pool.client("dynamodb", endpoint_url=silent.url)
    start = time.monotonic()
    with pytest.raises(aiokit.WaiterTimeout) as info:
        await _waiters.wait(ddb, "table_exists", TableName="t", timeout=0.5)
    # The client's own read timeout is 30 s: only cancelling the request ends it this soon.
    assert time.monotonic() - start < 0.5 + 2
    assert silent.arrived.is_set()
    assert info.value.last_response is None


@pytest.mark.parametrize(
    "limit",
    [{"max_attempts": 3}, {"WaiterConfig": {"Delay": 0.01, "MaxAttempts": 3}}],
    ids=["max_attempts", "boto3_WaiterConfig"],
)
async def test_attempts_exhausted_raises_waiter_timeout(
    aiokit_pool: aiokit.SessionPool, limit: dict[str, Any]
) -> None:
    s3 = await aiokit_pool.client("s3")
    polls = 0

    def count(**_: Any) -> None:
        nonlocal polls
        polls += 1

    s3.meta.events.register("before-call.s3.HeadBucket", count)
    try:
        with pytest.raises(aiokit.WaiterTimeout, match="max attempts \\(3\\) exceeded") as info:
            await _waiters.wait(s3, "bucket_exists", Bucket="never", delay=0.01, **limit)
    finally:
        s3.meta.events.unregister("before-call.s3.HeadBucket", count)
    assert polls == 3
    assert info.value.last_response is not None
    assert "previously accepted state" in str(info.value)  # the 404 "retry" acceptor


async def test_cancellation_while_sleeping_is_prompt(aiokit_pool: aiokit.SessionPool) -> None:
    s3 = await aiokit_pool.client("s3")
    start = time.monotonic()
    with anyio.move_on_after(0.5) as scope:
        await _waiters.wait(s3, "bucket_exists", Bucket="never", delay=30)
    assert scope.cancelled_caught
    assert time.monotonic() - start < 0.5 + 1


async def test_cancellation_during_a_request_is_prompt(
    aiokit_pool: aiokit.SessionPool, silent: Silent
) -> None:
    ddb = await aiokit_pool.client("dynamodb", endpoint_url=silent.url)
    start = time.monotonic()
    with anyio.move_on_after(0.5) as scope:
        await _waiters.wait(ddb, "table_exists", TableName="t")
    assert scope.cancelled_caught
    assert silent.arrived.is_set()
    assert time.monotonic() - start < 0.5 + 1


async def test_errors_name_the_account(aiokit_pool: aiokit.SessionPool) -> None:
    s3 = await aiokit_pool.client("s3", account="111111111111", role="Auditor")
    with pytest.raises(aiokit.WaiterTimeout) as info:
        await _waiters.wait(s3, "bucket_exists", Bucket="never", delay=0.01, max_attempts=1)
    assert info.value.account == "111111111111"
    assert "s3 waiter BucketExists in us-east-1 (account 111111111111)" in str(info.value)


# --- failure states and custom models ----------------------------------------------------------


async def test_failure_acceptor_raises_waiter_failed(aiokit_pool: aiokit.SessionPool) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    await _create_table(ddb, "orders")
    model = _model(
        {
            "state": "failure",
            "matcher": "path",
            "argument": "Table.TableStatus",
            "expected": "ACTIVE",
        },
        {
            "state": "success",
            "matcher": "path",
            "argument": "Table.TableStatus",
            "expected": "DELETING",
        },
    )
    with pytest.raises(aiokit.WaiterFailed) as info:
        await _waiters.wait(ddb, "custom", model=model, TableName="orders")
    error = info.value
    assert "terminal failure state" in error.reason
    assert "Table.TableStatus" in error.reason
    assert error.last_response is not None
    assert error.last_response["Table"]["TableName"] == "orders"
    assert not isinstance(error, TimeoutError)


async def test_error_failure_acceptor_raises_waiter_failed(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    model = _model(
        SUCCESS_IF_ACTIVE,
        {"state": "failure", "matcher": "error", "expected": "ResourceNotFoundException"},
    )
    with pytest.raises(aiokit.WaiterFailed, match="ResourceNotFoundException") as info:
        await _waiters.wait(ddb, "Custom", model=model, TableName="absent")
    assert isinstance(info.value.__cause__, aiokit.AWSError)
    assert info.value.last_response is not None
    assert info.value.last_response["Error"]["Code"] == "ResourceNotFoundException"


async def test_unexpected_error_is_a_failure_as_in_botocore(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    with pytest.raises(aiokit.WaiterFailed) as info:
        await _waiters.wait(ddb, "Custom", model=_model(SUCCESS_IF_ACTIVE), TableName="absent")
    assert info.value.reason.startswith("An error occurred (ResourceNotFoundException)")
    cause = info.value.__cause__
    assert isinstance(cause, aiokit.AWSError)
    assert cause.code == "ResourceNotFoundException"


async def test_an_acceptor_that_cannot_be_evaluated_is_a_waiter_failure(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    await _create_table(ddb, "typed")
    # Valid JMESPath, compiled fine, but abs() of a string fails on every response.
    model = _model({**SUCCESS_IF_ACTIVE, "argument": "abs(Table.TableStatus)", "expected": 1})
    with pytest.raises(aiokit.WaiterFailed, match=r"abs\(Table.TableStatus\)") as info:
        await _waiters.wait(ddb, "Custom", model=model, TableName="typed")
    assert "cannot be evaluated" in info.value.reason
    results = await aiokit_pool.wait_many(
        "dynamodb", "Custom", [{"TableName": "typed"}] * 3, model=model
    )  # one result each, not an ExceptionGroup
    assert [type(r.error) for r in results] == [aiokit.WaiterFailed] * 3


async def test_custom_model_success(aiokit_pool: aiokit.SessionPool) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    async with anyio.create_task_group() as tg:

        async def create_later() -> None:
            await anyio.sleep(0.3)
            await _create_table(ddb, "late")

        tg.start_soon(create_later)
        response = await _waiters.wait(
            ddb, "table_active", model=TABLE_ACTIVE, TableName="late", timeout=10
        )
    assert response["Table"]["TableStatus"] == "ACTIVE"


async def test_custom_model_is_not_mutated(aiokit_pool: aiokit.SessionPool) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    await _create_table(ddb, "t")
    model = _model(SUCCESS_IF_ACTIVE)
    before = repr(model)
    await _waiters.wait(ddb, "Custom", model=model, TableName="t")
    assert repr(model) == before


# --- errors before any request -----------------------------------------------------------------

# Nothing listens on port 9 (discard) of loopback here: any request would be an EndpointError.
UNREACHABLE = "http://127.0.0.1:9"


async def test_unknown_waiter_raises_before_any_request(aiokit_pool: aiokit.SessionPool) -> None:
    ddb = await aiokit_pool.client("dynamodb", endpoint_url=UNREACHABLE)
    with pytest.raises(aiokit.UnknownOperationError) as info:
        await _waiters.wait(ddb, "table_exist", TableName="t")
    message = str(info.value)
    assert "did you mean table_exists" in message
    assert "available: table_exists, table_not_exists" in message
    assert isinstance(info.value, aiokit.ConfigurationError)


async def test_service_without_waiters(aiokit_pool: aiokit.SessionPool) -> None:
    sts = await aiokit_pool.client("sts", endpoint_url=UNREACHABLE)
    with pytest.raises(aiokit.UnknownOperationError, match="sts has no waiters"):
        await _waiters.wait(sts, "role_exists")


@pytest.mark.parametrize(
    ("model", "error", "match"),
    [
        ({"version": 1, "waiters": {"Custom": {}}}, aiokit.ConfigurationError, "version"),
        ({"version": 2}, aiokit.ConfigurationError, "'waiters'"),
        (
            {"version": 2, "waiters": {"Custom": {"delay": 1, "maxAttempts": 2}}},
            aiokit.ConfigurationError,
            "no 'operation'",
        ),
        (
            _model(SUCCESS_IF_ACTIVE, operation="DescribeTables"),
            aiokit.UnknownOperationError,
            "did you mean DescribeTable",
        ),
        (_model(SUCCESS_IF_ACTIVE, delay=-1), aiokit.ConfigurationError, "delay"),
        (_model(SUCCESS_IF_ACTIVE, maxAttempts=0), aiokit.ConfigurationError, "maxAttempts"),
        (_model(), aiokit.ConfigurationError, "non-empty list"),
        (
            _model({"state": "success", "matcher": "regex", "expected": "x"}),
            aiokit.ConfigurationError,
            "Unknown acceptor",
        ),
        (
            _model({**SUCCESS_IF_ACTIVE, "argument": "Table.["}),
            aiokit.ConfigurationError,
            "bad acceptor argument",
        ),
        (
            _model({**SUCCESS_IF_ACTIVE, "state": "done"}),
            aiokit.ConfigurationError,
            "unknown acceptor state",
        ),
        (
            _model({**SUCCESS_IF_ACTIVE, "state": "retry"}),
            aiokit.ConfigurationError,
            "no acceptor has state 'success'",
        ),
        (
            {"version": 2, "waiters": {"Other": _model(SUCCESS_IF_ACTIVE)["waiters"]["Custom"]}},
            aiokit.UnknownOperationError,
            "no waiter 'custom'",
        ),
    ],
    ids=[
        "version",
        "no-waiters",
        "no-operation",
        "unknown-operation",
        "negative-delay",
        "zero-max-attempts",
        "no-acceptors",
        "unknown-matcher",
        "bad-jmespath",
        "unknown-state",
        "no-success-state",
        "name-not-in-model",
    ],
)
async def test_malformed_custom_model(
    aiokit_pool: aiokit.SessionPool,
    model: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    ddb = await aiokit_pool.client("dynamodb", endpoint_url=UNREACHABLE)
    with pytest.raises(error, match=match):
        await _waiters.wait(ddb, "custom", model=model, TableName="t")


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": -1},
        {"delay": -0.5},
        {"delay": float("nan")},
        {"max_attempts": 0},
        {"max_attempts": True},
        {"backoff": "linear"},
        {"max_delay": -1},
        {"WaiterConfig": "fast"},
    ],
    ids=lambda o: next(iter(o)) + "=" + repr(next(iter(o.values()))),
)
async def test_bad_options(aiokit_pool: aiokit.SessionPool, options: dict[str, Any]) -> None:
    s3 = await aiokit_pool.client("s3", endpoint_url=UNREACHABLE)
    with pytest.raises(aiokit.ConfigurationError):
        await _waiters.wait(s3, "bucket_exists", Bucket="b", **options)


async def test_bad_parameters_raise_not_fail(aiokit_pool: aiokit.SessionPool) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    with pytest.raises(aiokit.InvalidParameterError, match="TableNme"):
        await _waiters.wait(ddb, "table_exists", TableNme="t")


async def test_waiter_config_of_private_botocore_api(aiokit_pool: aiokit.SessionPool) -> None:
    """Pins ``BaseClient._get_waiter_config``, which _waiters calls in a worker thread."""
    s3 = await aiokit_pool.client("s3")
    config = s3._get_waiter_config()
    assert config["version"] == 2
    assert "BucketExists" in config["waiters"]


# --- backoff -----------------------------------------------------------------------------------


def test_fixed_backoff_is_botocores() -> None:
    assert [_waiters.next_delay(n, 15.0, "fixed", 120.0) for n in (1, 2, 10)] == [15, 15, 15]


def test_exponential_backoff_grows_jittered_above_the_base_delay() -> None:
    rng_state = random.getstate()
    try:
        random.seed(7)
        assert _waiters.next_delay(1, 5.0, "exponential", 120.0) == 5.0
        for attempts in range(2, 40):
            ceiling = min(120.0, 5.0 * 2 ** (attempts - 1))
            draws = [_waiters.next_delay(attempts, 5.0, "exponential", 120.0) for _ in range(50)]
            assert all(5.0 <= d <= ceiling for d in draws)
            assert max(draws) > (5.0 + ceiling) / 2  # spread out, not stuck at the floor
        # A cap below the base delay does not shrink it; a zero delay stays zero.
        assert _waiters.next_delay(5, 10.0, "exponential", 1.0) == 10.0
        assert _waiters.next_delay(5, 0.0, "exponential", 120.0) == 0.0
        assert _waiters.next_delay(10_000, 1.0, "exponential", 120.0) <= 120.0
    finally:
        random.setstate(rng_state)


# --- wait_many -----------------------------------------------------------------------------------


async def test_wait_many_reports_each_outcome_in_order(aiokit_pool: aiokit.SessionPool) -> None:
    s3 = await aiokit_pool.client("s3")
    names = [f"bucket-{i:02d}" for i in range(20)]
    existing = {n for i, n in enumerate(names) if i % 3 != 0}
    for name in sorted(existing):
        await s3.create_bucket(Bucket=name)
    start = time.monotonic()
    results = await _waiters.wait_many(
        s3,
        "bucket_exists",
        [{"Bucket": n} for n in names],
        concurrency=4,
        timeout=1.5,
        delay=0.2,
    )
    assert time.monotonic() - start < 1.5 + 2
    assert [r.params["Bucket"] for r in results] == names
    assert [r.ok for r in results] == [n in existing for n in names]
    for r in results:
        if r.ok:
            assert r.error is None
            assert r.response is not None
            assert r.response["ResponseMetadata"]["HTTPStatusCode"] == 200
        else:
            assert isinstance(r.error, aiokit.WaiterTimeout)
            assert r.response is None
            assert r.error.last_response is not None
        assert 0 <= r.elapsed < 1.5 + 2


async def test_wait_many_isolates_parameter_errors(aiokit_pool: aiokit.SessionPool) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    await _create_table(ddb, "a")
    results = await _waiters.wait_many(
        ddb, "TableExists", [{"TableName": "a"}, {"TableNme": "b"}], timeout=5
    )
    assert [r.ok for r in results] == [True, False]
    assert isinstance(results[1].error, aiokit.InvalidParameterError)


async def test_wait_many_checks_its_configuration_first(aiokit_pool: aiokit.SessionPool) -> None:
    s3 = await aiokit_pool.client("s3", endpoint_url=UNREACHABLE)
    with pytest.raises(aiokit.UnknownOperationError):
        await _waiters.wait_many(s3, "bucket_exist", [{"Bucket": "b"}])
    with pytest.raises(aiokit.ConfigurationError, match="concurrency"):
        await _waiters.wait_many(s3, "bucket_exists", [{"Bucket": "b"}], concurrency=0)
    assert await _waiters.wait_many(s3, "bucket_exists", []) == []


async def test_the_pools_waits_say_where_the_pool_sent_them(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """``pool.wait`` and ``pool.wait_many`` hand the waiter the pool's scope."""
    with pytest.raises(aiokit.WaiterTimeout) as info:
        await aiokit_pool.wait(
            "s3",
            "bucket_exists",
            account="111111111111",
            role="Auditor",
            Bucket="never",
            delay=0.01,
            max_attempts=1,
        )
    assert (info.value.region, info.value.account) == ("us-east-1", "111111111111")
    assert "s3 waiter BucketExists in us-east-1 (account 111111111111)" in str(info.value)
    [result] = await aiokit_pool.wait_many(
        "s3",
        "bucket_exists",
        [{"Bucket": "never"}],
        account="111111111111",
        role="Auditor",
        delay=0.01,
        max_attempts=1,
    )
    assert result.error is not None and result.error.account == "111111111111"
