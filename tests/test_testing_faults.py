"""aiokit.testing's fault proxy: faults really injected, and what the code under test sees.

Each test checks both sides: the proxy's counters (the faults were injected) and what the
code behind it saw (an error, a retry, a skipped target, a slower call).
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import anyio
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ConnectionError

import aiokit
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, FaultProxy, aws_faults

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120), pytest.mark.timing]

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def boto(service: str, url: str, region: str = "us-east-1", **kw: Any) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=TEST_CREDENTIALS.access_key_id,
        aws_secret_access_key=TEST_CREDENTIALS.secret_access_key,
        config=kw.pop("config", NO_RETRY),
        **kw,
    )


def pool_on(url: str, **kw: Any) -> aiokit.SessionPool:
    return aiokit.SessionPool(
        endpoint_url=url, region="us-east-1", credentials=TEST_CREDENTIALS, **kw
    )


async def visit(pool: aiokit.SessionPool, targets: list[aiokit.Target]) -> dict[Any, Any]:
    """Each target's outcome of listing its SQS queues, by account."""

    async def list_queues(ctx: aiokit.Context) -> list[str]:
        return [u async for u in ctx.paginate("sqs", "list_queues").items()]

    async with pool.fan_out(list_queues, targets) as outcomes:
        return {o.target.account: o async for o in outcomes}


def listening(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname or "", parts.port or 80)) == 0


async def test_throttled_scope_is_waited_out_and_every_call_still_answers(
    aws_faults: FaultProxy,
) -> None:
    aws_faults.configure(throttle={"sqs": (20, 3)})
    async with pool_on(aws_faults.endpoint_url) as pool:
        sqs = await pool.client("sqs")
        await sqs.create_queue(QueueName="jobs")
        answers: list[Any] = []

        async def call() -> None:
            answers.append(await sqs.list_queues())

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call)
        seen_by_pool = sum(s.throttles for s in pool.statistics().scopes.values())
    assert len(answers) == 20
    assert all(a["QueueUrls"][0].endswith("/jobs") for a in answers)
    assert aws_faults.throttles > 0
    assert aws_faults.faults["throttle"] == aws_faults.throttles
    assert seen_by_pool == aws_faults.throttles  # the pool saw each throttle and waited


def test_throttle_buckets_are_per_account_region_and_service(aws_faults: FaultProxy) -> None:
    aws_faults.configure(throttle={"sts": (0.001, 1)})  # one call, then none for ages
    east = boto("sts", aws_faults.endpoint_url)
    west = boto("sts", aws_faults.endpoint_url, region="us-west-2")
    sqs = boto("sqs", aws_faults.endpoint_url)
    try:
        east.get_caller_identity()
        west.get_caller_identity()  # another region: its own bucket
        sqs.list_queues()  # no bucket for sqs
        with pytest.raises(ClientError) as caught:
            east.get_caller_identity()
    finally:
        for c in (east, west, sqs):
            c.close()
    assert caught.value.response["Error"]["Code"] == "Throttling"
    assert aws_faults.throttles == 1
    assert aws_faults.requests == 4


async def test_http_500s_are_injected_at_the_fail_rate_and_retried(
    aws_faults: FaultProxy,
) -> None:
    aws_faults.configure(fail_rate=0.3, seed=7)
    async with pool_on(aws_faults.endpoint_url) as pool:
        sqs = await pool.client("sqs")
        for i in range(10):
            await sqs.create_queue(QueueName=f"q{i}")
        urls = [u async for u in pool.paginate("sqs", "list_queues").items()]
    assert len(urls) == 10
    stats = aws_faults.statistics()
    assert stats.faults["error"] > 0
    assert stats.requests == stats.forwarded + stats.faults["error"]

    # Without retries the 500 reaches the caller, as AWS's InternalError.
    aws_faults.configure(fail_rate=1.0)
    client = boto("sqs", aws_faults.endpoint_url)
    try:
        with pytest.raises(ClientError) as caught:
            client.list_queues()
    finally:
        client.close()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert caught.value.response["Error"]["Code"] == "InternalError"


def test_fault_draws_repeat_with_the_same_seed(aws_faults: FaultProxy) -> None:
    def run(seed: int) -> list[bool]:
        aws_faults.configure(fail_rate=0.5, seed=seed)
        client = boto("sts", aws_faults.endpoint_url)
        outcomes = []
        try:
            for _ in range(12):
                try:
                    client.get_caller_identity()
                    outcomes.append(True)
                except ClientError:
                    outcomes.append(False)
        finally:
            client.close()
        return outcomes

    first = run(3)
    assert not all(first) and any(first)
    assert run(3) == first


def test_reset_connections_reach_the_caller_as_connection_errors(aws_faults: FaultProxy) -> None:
    aws_faults.configure(reset_rate=1.0)
    client = boto("sts", aws_faults.endpoint_url)
    try:
        # RST before any answer: "connection reset" or "closed before a valid response"
        with pytest.raises((ConnectionError, ConnectionClosedError)):
            client.get_caller_identity()
    finally:
        client.close()
    assert aws_faults.faults["reset"] == 1
    assert aws_faults.statistics().forwarded == 0


async def test_stalled_requests_are_held_then_answered(aws_faults: FaultProxy) -> None:
    aws_faults.configure(stall_rate=1.0, stall_seconds=0.4)
    async with pool_on(aws_faults.endpoint_url) as pool:
        sts = await pool.client("sts")
        started = time.monotonic()
        identity = await sts.get_caller_identity()
        elapsed = time.monotonic() - started
    assert identity["Account"] == "123456789012"
    assert elapsed >= 0.4
    assert aws_faults.faults["stall"] == 1


async def test_denied_accounts_refuse_assume_role_and_their_targets_are_skipped(
    aws_faults: FaultProxy, fake_organization: FakeOrganization
) -> None:
    denied = fake_organization.account_ids[0]
    aws_faults.configure(deny_accounts=[denied])
    async with pool_on(aws_faults.endpoint_url, role=fake_organization.role_name) as pool:
        targets = await pool.targets(fake_organization.account_ids, ["us-east-1"])
        outcomes = await visit(pool, targets)
        with pytest.raises(aiokit.AssumeRoleError) as caught:
            sts = await pool.client("sts", account=denied)
            await sts.get_caller_identity()
    assert outcomes[denied].status is aiokit.Status.SKIPPED
    assert outcomes[denied].reason == "role not assumable"
    assert all(o.ok for a, o in outcomes.items() if a != denied)
    assert caught.value.code == "AccessDenied"
    assert aws_faults.faults["denied"] >= 1


async def test_disabled_regions_answer_as_aws_does_for_a_region_not_enabled(
    aws_faults: FaultProxy,
) -> None:
    aws_faults.configure(disable_regions=["ap-east-1"])
    async with pool_on(aws_faults.endpoint_url) as pool:
        ec2 = await pool.client("ec2", "ap-east-1")
        with pytest.raises(aiokit.AWSError) as caught:
            await ec2.describe_instances()
        sqs = await pool.client("sqs", "ap-east-1")
        with pytest.raises(aiokit.AWSError) as caught_sqs:
            await sqs.list_queues()
        ec2_home = await pool.client("ec2", "us-east-1")
        await ec2_home.describe_instances()  # other regions are untouched
    assert caught.value.code == "AuthFailure"
    assert caught_sqs.value.code in ("UnrecognizedClientException", "InvalidClientTokenId")
    assert aws_faults.faults["region_disabled"] == 2


async def test_disabled_regions_per_account_follow_the_assumed_role(
    aws_faults: FaultProxy, fake_organization: FakeOrganization
) -> None:
    off = fake_organization.account_ids[1]
    aws_faults.configure(disable_regions={off: ["ap-east-1"]})
    async with pool_on(aws_faults.endpoint_url, role=fake_organization.role_name) as pool:
        targets = await pool.targets(fake_organization.account_ids[:3], ["ap-east-1"])
        outcomes = await visit(pool, targets)
    assert not outcomes[off].ok
    assert all(o.ok for a, o in outcomes.items() if a != off)
    assert aws_faults.faults["region_disabled"] >= 1


async def test_credentials_expire_after_the_set_time(aws_faults: FaultProxy) -> None:
    aws_faults.configure(expire_credentials_after=0.5)
    async with pool_on(aws_faults.endpoint_url) as pool:
        sts = await pool.client("sts")
        await sts.get_caller_identity()
        await anyio.sleep(0.6)
        with pytest.raises(aiokit.AWSError) as caught:
            await sts.get_caller_identity()
    assert caught.value.code == "ExpiredToken"
    assert aws_faults.faults["expired"] == 1


def test_each_test_starts_with_no_faults_and_zero_counters(aws_faults: FaultProxy) -> None:
    assert aws_faults.statistics().requests == 0
    assert sum(aws_faults.faults.values()) == 0
    client = boto("sts", aws_faults.endpoint_url)
    try:
        for _ in range(5):
            client.get_caller_identity()
    finally:
        client.close()
    assert aws_faults.requests == 5
    aws_faults.reset()
    assert aws_faults.requests == 0


async def test_context_manager_serves_in_front_of_moto_and_stops_on_exit(
    moto_endpoint: str,
) -> None:
    async with aws_faults(moto_endpoint, fail_rate=1.0) as proxy:
        url = proxy.endpoint_url
        assert urlsplit(url).hostname == "127.0.0.1"
        client = boto("sts", url)
        try:
            with pytest.raises(ClientError):
                client.get_caller_identity()
        finally:
            client.close()
        assert proxy.faults["error"] == 1
    assert not listening(url)

    with aws_faults(moto_endpoint) as proxy:
        url = proxy.endpoint_url
        client = boto("sts", url)
        try:
            assert client.get_caller_identity()["Account"] == "123456789012"
        finally:
            client.close()
    assert not listening(url)


def test_proxy_stops_when_the_block_fails(moto_endpoint: str) -> None:
    with pytest.raises(KeyError), aws_faults(moto_endpoint) as proxy:
        url = proxy.endpoint_url
        raise KeyError("boom")
    assert not listening(url)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"fail_rate": 1.5}, "fail_rate", id="rate-above-1"),
        pytest.param({"reset_rate": -0.1}, "reset_rate", id="negative-rate"),
        pytest.param({"fail_rate": 0.6, "stall_rate": 0.6}, "exceed 1", id="rates-sum"),
        pytest.param({"throttle": {"ec2": (0, 5)}}, "throttle['ec2']", id="zero-rate"),
        pytest.param({"throttle": {"ec2": 5}}, "(rate per second, burst)", id="not-a-pair"),
        pytest.param({"deny_accounts": "111122223333"}, "deny_accounts", id="deny-str"),
        pytest.param({"disable_regions": "eu-west-1"}, "disable_regions", id="regions-str"),
        pytest.param({"expire_credentials_after": -1}, "expire_credentials_after", id="neg"),
        pytest.param({"expire_credentials_after": "1"}, "expire_credentials_after", id="e-str"),
        pytest.param({"fail_rate": True}, "fail_rate", id="rate-bool"),
        pytest.param({"stall_seconds": "2"}, "stall_seconds", id="stall-str"),
        pytest.param({"stall_seconds": float("inf")}, "stall_seconds", id="stall-forever"),
        pytest.param({"stall_seconds": float("nan")}, "stall_seconds", id="stall-nan"),
        pytest.param({"throttle": {"sqs": ("5", 1)}}, "throttle['sqs']", id="rate-str"),
        pytest.param({"throttle": [("sqs", (5, 1))]}, "{service: (rate", id="throttle-list"),
        pytest.param({"throttle": {None: (5, 1)}}, "signing names", id="throttle-key"),
        pytest.param({"deny_accounts": 111122223333}, "deny_accounts", id="deny-int"),
        pytest.param(
            {"disable_regions": {"111122223333": "eu-west-1"}},
            "disable_regions['111122223333']",
            id="regions-by-account-str",
        ),
    ],
)
def test_bad_fault_settings_are_configuration_errors(
    moto_endpoint: str, kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(aiokit.ConfigurationError, match="aws_faults") as caught:
        aws_faults(moto_endpoint, **kwargs)
    assert fragment in str(caught.value)


def test_upstream_must_be_on_loopback() -> None:
    with pytest.raises(aiokit.ConfigurationError, match="loopback"):
        aws_faults("https://sts.amazonaws.com")
