"""The fake AWS endpoint (benchmarks/fake_aws), seen through plain aiobotocore clients.

Every answer must parse through unmodified botocore (paginators included), throttles and
faults must be recognised by botocore's retry handler, and the ground truth computed
in-process must match what the server serves.  Behaviour only: nothing here asserts a
timing.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from benchmarks.fake_aws import FakeAWS, FakeAWSError, FakeConfig, expected_items

MANAGEMENT = {"aws_access_key_id": "AKIAFAKEMANAGEMENT00", "aws_secret_access_key": "secret"}
ROLE = "OrganizationAccountAccessRole"
ACCOUNT = "100000000003"
REGION = "eu-west-1"

# Small pages so every paginator takes several pages; odd counts so the last page is short.
BASE = FakeConfig(
    accounts=5,
    items={"instances": 23, "tables": 11, "functions": 9, "buckets": 1, "objects": 17},
    page_size={
        "DescribeInstances": 10,
        "ListAccounts": 4,
        "ListTables": 5,
        "ListFunctions": 4,
        "ListBuckets": 10000,
        "ListObjectsV2": 6,
    },
    instances_per_reservation=3,
)
# botocore reads retries["max_attempts"] as the number of RETRIES (it becomes
# total_max_attempts = max_attempts + 1), so {"max_attempts": 1} still retries once.
# total_max_attempts counts every attempt: 1 really turns retries off.
NO_RETRY = AioConfig(retries={"total_max_attempts": 1, "mode": "standard"})
ONE_RETRY = AioConfig(retries={"total_max_attempts": 2, "mode": "standard"})


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAWS]:
    with FakeAWS(BASE) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeAWS) -> None:
    """Each test starts from the base config, zeroed counters and full buckets."""
    fake.configure(**BASE.to_dict())
    fake.reset()


@pytest.fixture(scope="module")
def session() -> AioSession:
    # One session for the module: its loaded service models are reused by every client.
    return get_session()


@asynccontextmanager
async def client(
    session: AioSession,
    fake: FakeAWS,
    service: str,
    region: str = REGION,
    creds: dict[str, str] | None = None,
    config: AioConfig | None = None,
) -> AsyncIterator[Any]:
    async with session.create_client(
        service,
        region_name=region,
        endpoint_url=fake.endpoint_url,
        config=config,
        **(creds or MANAGEMENT),
    ) as c:
        yield c


async def assume(session: AioSession, fake: FakeAWS, account: str, role: str = ROLE) -> Any:
    async with client(session, fake, "sts", "us-east-1") as sts:
        return await sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="fake-test"
        )


async def account_creds(session: AioSession, fake: FakeAWS, account: str) -> dict[str, str]:
    answer = await assume(session, fake, account)
    c = answer["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


# -- STS


@pytest.mark.asyncio
async def test_caller_identity_of_management_keys(session: AioSession, fake: FakeAWS) -> None:
    async with client(session, fake, "sts", "us-east-1") as sts:
        who = await sts.get_caller_identity()
    assert who["Account"] == BASE.management_account
    assert who["Arn"].startswith(f"arn:aws:iam::{BASE.management_account}:")


@pytest.mark.asyncio
async def test_assume_role_then_caller_identity(session: AioSession, fake: FakeAWS) -> None:
    answer = await assume(session, fake, ACCOUNT)
    key = answer["Credentials"]["AccessKeyId"]
    assert len(key) == 20 and key.startswith("ASIA") and key[4:16] == ACCOUNT
    assert answer["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/fake-test"
    )
    assert answer["Credentials"]["Expiration"].year >= 2024
    creds = await account_creds(session, fake, ACCOUNT)
    async with client(session, fake, "sts", REGION, creds) as sts:
        who = await sts.get_caller_identity()
    assert who["Account"] == ACCOUNT
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/fake-test"


@pytest.mark.asyncio
async def test_each_assume_role_issues_distinct_keys(session: AioSession, fake: FakeAWS) -> None:
    first = await assume(session, fake, ACCOUNT)
    second = await assume(session, fake, ACCOUNT)
    assert first["Credentials"]["AccessKeyId"] != second["Credentials"]["AccessKeyId"]


@pytest.mark.asyncio
async def test_denied_role_and_unknown_or_suspended_account(
    session: AioSession, fake: FakeAWS
) -> None:
    fake.configure(denied_roles={ACCOUNT: ["Audit"]}, suspended_accounts=["100000000004"])
    for account, role in ((ACCOUNT, "Audit"), ("100000000004", ROLE), ("999999999999", ROLE)):
        with pytest.raises(ClientError) as caught:
            await assume(session, fake, account, role)
        assert caught.value.response["Error"]["Code"] == "AccessDenied"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Only the named role is denied.
    assert (await assume(session, fake, ACCOUNT))["Credentials"]["AccessKeyId"]


# -- paginators against the ground truth


@pytest.mark.asyncio
@pytest.mark.parametrize("page", [None, 1, 3, 10, 1000])
async def test_organizations_list_accounts(
    session: AioSession, fake: FakeAWS, page: int | None
) -> None:
    fake.configure(suspended_accounts=["100000000002"])
    pagination = {"PageSize": page} if page else {}
    seen: list[dict[str, Any]] = []
    async with client(session, fake, "organizations", "us-east-1") as org:
        async for answer in org.get_paginator("list_accounts").paginate(
            PaginationConfig=pagination
        ):
            seen.extend(answer["Accounts"])
    assert [a["Id"] for a in seen] == expected_items(BASE, None, None, "accounts")
    status = {a["Id"]: a["Status"] for a in seen}
    assert status["100000000002"] == "SUSPENDED" and status["100000000001"] == "ACTIVE"


@pytest.mark.asyncio
async def test_list_accounts_refused_to_a_member_account(
    session: AioSession, fake: FakeAWS
) -> None:
    creds = await account_creds(session, fake, ACCOUNT)
    async with client(session, fake, "organizations", "us-east-1", creds) as org:
        with pytest.raises(ClientError) as caught:
            await org.list_accounts()
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.asyncio
@pytest.mark.parametrize("page", [None, 1, 4, 7, 1000])
async def test_ec2_describe_instances(session: AioSession, fake: FakeAWS, page: int | None) -> None:
    creds = await account_creds(session, fake, ACCOUNT)
    pagination = {"PageSize": page} if page else {}
    ids: list[str] = []
    pages = 0
    async with client(session, fake, "ec2", REGION, creds) as ec2:
        async for answer in ec2.get_paginator("describe_instances").paginate(
            PaginationConfig=pagination
        ):
            pages += 1
            for reservation in answer["Reservations"]:
                assert reservation["OwnerId"] == ACCOUNT
                assert reservation["ReservationId"].startswith("r-")
                ids.extend(i["InstanceId"] for i in reservation["Instances"])
                assert all(i["State"]["Name"] == "running" for i in reservation["Instances"])
    assert ids == expected_items(BASE, ACCOUNT, REGION, "instances")
    effective = min(page or 10, 10)  # the server's maximum page is 10
    assert pages == -(-23 // effective)
    assert fake.stats()["by_action"]["ec2:DescribeInstances"] == pages


@pytest.mark.asyncio
async def test_regions_are_separate_data(session: AioSession, fake: FakeAWS) -> None:
    creds = await account_creds(session, fake, ACCOUNT)
    async with client(session, fake, "ec2", "us-west-2", creds) as ec2:
        answer = await ec2.describe_instances()
    ids = [i["InstanceId"] for r in answer["Reservations"] for i in r["Instances"]]
    assert ids == expected_items(BASE, ACCOUNT, "us-west-2", "instances")[:10]
    assert not set(ids) & set(expected_items(BASE, ACCOUNT, REGION, "instances"))


@pytest.mark.asyncio
@pytest.mark.parametrize("page", [None, 1, 2, 5, 100])
async def test_dynamodb_list_tables(session: AioSession, fake: FakeAWS, page: int | None) -> None:
    creds = await account_creds(session, fake, ACCOUNT)
    pagination = {"PageSize": page} if page else {}
    async with client(session, fake, "dynamodb", REGION, creds) as ddb:
        names = [
            name
            async for answer in ddb.get_paginator("list_tables").paginate(
                PaginationConfig=pagination
            )
            for name in answer["TableNames"]
        ]
    assert names == expected_items(BASE, ACCOUNT, REGION, "tables")


@pytest.mark.asyncio
@pytest.mark.parametrize("page", [None, 1, 2, 50])
async def test_lambda_list_functions(session: AioSession, fake: FakeAWS, page: int | None) -> None:
    creds = await account_creds(session, fake, ACCOUNT)
    pagination = {"PageSize": page} if page else {}
    async with client(session, fake, "lambda", REGION, creds) as lam:
        functions = [
            f
            async for answer in lam.get_paginator("list_functions").paginate(
                PaginationConfig=pagination
            )
            for f in answer["Functions"]
        ]
    assert [f["FunctionName"] for f in functions] == expected_items(
        BASE, ACCOUNT, REGION, "functions"
    )
    assert functions[0]["FunctionArn"].startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:")


@pytest.mark.asyncio
async def test_s3_list_buckets(session: AioSession, fake: FakeAWS) -> None:
    creds = await account_creds(session, fake, ACCOUNT)
    async with client(session, fake, "s3", REGION, creds) as s3:
        answer = await s3.list_buckets()
    names = [b["Name"] for b in answer["Buckets"]]
    assert names == [
        b for region in BASE.regions for b in expected_items(BASE, ACCOUNT, region, "buckets")
    ]
    assert answer["Owner"]["ID"] == ACCOUNT


@pytest.mark.asyncio
@pytest.mark.parametrize("page", [None, 1, 5, 1000])
async def test_s3_list_objects_v2_path_style(
    session: AioSession, fake: FakeAWS, page: int | None
) -> None:
    creds = await account_creds(session, fake, ACCOUNT)
    (bucket,) = expected_items(BASE, ACCOUNT, REGION, "buckets")
    urls: list[str] = []
    pagination = {"PageSize": page} if page else {}
    keys: list[str] = []
    async with client(session, fake, "s3", REGION, creds) as s3:
        # botocore must address an IP endpoint path-style: the bucket in the path.
        s3.meta.events.register(
            "before-send.s3.ListObjectsV2", lambda request, **_: urls.append(request.url)
        )
        async for answer in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, PaginationConfig=pagination
        ):
            assert answer["KeyCount"] == len(answer.get("Contents", []))
            keys.extend(f"{bucket}/{o['Key']}" for o in answer.get("Contents", []))
    assert keys == expected_items(BASE, ACCOUNT, REGION, "objects")
    assert urls and all(urlsplit(u).path == f"/{bucket}" for u in urls)
    assert all(urlsplit(u).hostname == "127.0.0.1" for u in urls)


@pytest.mark.asyncio
async def test_s3_missing_bucket(session: AioSession, fake: FakeAWS) -> None:
    async with client(session, fake, "s3") as s3:
        with pytest.raises(ClientError) as caught:
            await s3.list_objects_v2(Bucket="no-such-bucket")
    assert caught.value.response["Error"]["Code"] == "NoSuchBucket"


# -- regions: opt-in status and disabled regions


@pytest.mark.asyncio
async def test_describe_regions_opt_in(session: AioSession, fake: FakeAWS) -> None:
    fake.configure(disabled_regions={ACCOUNT: ["af-south-1"]})
    creds = await account_creds(session, fake, ACCOUNT)
    async with client(session, fake, "ec2", "us-east-1", creds) as ec2:
        everything = await ec2.describe_regions(AllRegions=True)
        enabled = await ec2.describe_regions()
    status = {r["RegionName"]: r["OptInStatus"] for r in everything["Regions"]}
    assert status["af-south-1"] == "not-opted-in"
    assert status["ap-east-1"] == "opted-in"
    assert status["us-east-1"] == "opt-in-not-required"
    assert set(status) == set(BASE.regions)
    assert {r["RegionName"] for r in enabled["Regions"]} == set(BASE.regions) - {"af-south-1"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("ec2", "describe_instances", "AuthFailure", 401),
        ("sts", "get_caller_identity", "InvalidClientTokenId", 403),
        ("dynamodb", "list_tables", "UnrecognizedClientException", 400),
        ("lambda", "list_functions", "UnrecognizedClientException", 403),
    ],
)
async def test_disabled_region(
    session: AioSession, fake: FakeAWS, service: str, call: str, code: str, status: int
) -> None:
    fake.configure(disabled_regions={ACCOUNT: ["af-south-1"]})
    creds = await account_creds(session, fake, ACCOUNT)
    async with client(session, fake, service, "af-south-1", creds, NO_RETRY) as c:
        with pytest.raises(ClientError) as caught:
            await getattr(c, call)()
    error = caught.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    if code != "AuthFailure":
        assert error["Error"]["Message"] == "The security token included in the request is invalid."
    # Another account still has the region.
    other = await account_creds(session, fake, "100000000001")
    async with client(session, fake, service, "af-south-1", other, NO_RETRY) as c:
        await getattr(c, call)()


# -- throttling


THROTTLES: list[tuple[str, str, str, str, str, int]] = [
    # service, region, call, bucket pattern, error code botocore sees, HTTP status
    ("ec2", REGION, "describe_instances", "ec2:Describe*", "RequestLimitExceeded", 503),
    ("dynamodb", REGION, "list_tables", "dynamodb:*", "ThrottlingException", 400),
    ("sts", "us-east-1", "get_caller_identity", "sts:*", "Throttling", 400),
    ("organizations", "us-east-1", "list_accounts", "organizations:*",
     "TooManyRequestsException", 400),
    ("lambda", REGION, "list_functions", "lambda:*", "TooManyRequestsException", 429),
    ("s3", REGION, "list_buckets", "s3:*", "SlowDown", 503),
]  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize(("service", "region", "call", "pattern", "code", "status"), THROTTLES)
async def test_throttle_shapes_are_retried_as_throttling(
    session: AioSession,
    fake: FakeAWS,
    service: str,
    region: str,
    call: str,
    pattern: str,
    code: str,
    status: int,
) -> None:
    # Burst 1 with a negligible refill: the first call passes, every later one throttles.
    fake.configure(throttle=True, buckets={pattern: [1, 0.0001]}, retry_after_ms=250)
    async with client(session, fake, service, region, config=ONE_RETRY) as c:
        first = await getattr(c, call)()
        assert first["ResponseMetadata"]["RetryAttempts"] == 0
        with pytest.raises(ClientError) as caught:
            await getattr(c, call)()
    response = caught.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-retry-after"] == "250"
    # botocore retried it once (total_max_attempts=2), and classifies it as throttling.
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    context = RetryContext(attempt_number=1, parsed_response=response)
    assert ThrottledRetryableChecker().is_retryable(context)
    stats = fake.stats()
    assert stats["throttled"] == 2
    assert stats["requests"] == 3


@pytest.mark.asyncio
async def test_buckets_are_per_account_region_action(session: AioSession, fake: FakeAWS) -> None:
    fake.configure(throttle=True, buckets={"ec2:Describe*": [1, 0.0001]})
    creds = await account_creds(session, fake, ACCOUNT)
    async with client(session, fake, "ec2", REGION, creds, NO_RETRY) as ec2:
        await ec2.describe_instances()
        await ec2.describe_regions()  # same bucket pattern, another action: its own bucket
        with pytest.raises(ClientError):
            await ec2.describe_instances()
    async with client(session, fake, "ec2", "us-west-2", creds, NO_RETRY) as ec2:
        await ec2.describe_instances()  # another region
    async with client(session, fake, "ec2", REGION, None, NO_RETRY) as ec2:
        await ec2.describe_instances()  # another account (management)
    assert fake.stats()["throttled"] == 1


@pytest.mark.asyncio
async def test_throttling_off_by_default_and_capacity_changes_mid_run(
    session: AioSession, fake: FakeAWS
) -> None:
    async with client(session, fake, "dynamodb", config=NO_RETRY) as ddb:
        for _ in range(5):
            await ddb.list_tables(Limit=1)
        fake.configure(throttle=True, buckets={"dynamodb:*": [4, 0.0001]})
        await ddb.list_tables(Limit=1)  # 3 tokens left
        fake.configure(buckets={"dynamodb:*": [2, 0.0001]})  # halved: clamps to 2
        await ddb.list_tables(Limit=1)
        await ddb.list_tables(Limit=1)
        with pytest.raises(ClientError) as caught:
            await ddb.list_tables(Limit=1)
        assert caught.value.response["Error"]["Code"] == "ThrottlingException"
        fake.reset()  # refills every bucket
        await ddb.list_tables(Limit=1)


# -- faults


@pytest.mark.asyncio
async def test_connection_reset_surfaces_as_a_connection_error(
    session: AioSession, fake: FakeAWS
) -> None:
    fake.configure(fault_reset=1.0, fault_actions=["ec2:DescribeInstances"])
    async with client(session, fake, "ec2", config=NO_RETRY) as ec2:
        with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
            await ec2.describe_instances()
        await ec2.describe_regions()  # not a faulted action
    stats = fake.stats()
    assert stats["faults"] == {"reset": 1}


@pytest.mark.asyncio
@pytest.mark.parametrize(("rate", "code", "status"), [
    ("fault_500", "InternalError", 500),
    ("fault_503", "ServiceUnavailable", 503),
])  # fmt: skip
async def test_server_errors_surface_without_retries(
    session: AioSession, fake: FakeAWS, rate: str, code: str, status: int
) -> None:
    fake.configure(**{rate: 1.0, "fault_actions": ["dynamodb:*"]})
    async with client(session, fake, "dynamodb", config=NO_RETRY) as ddb:
        with pytest.raises(ClientError) as caught:
            await ddb.list_tables()
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 0


@pytest.mark.asyncio
async def test_server_errors_are_retried(session: AioSession, fake: FakeAWS) -> None:
    fake.configure(fault_500=1.0, fault_actions=["ec2:*"])
    config = AioConfig(retries={"total_max_attempts": 3, "mode": "standard"})
    async with client(session, fake, "ec2", config=config) as ec2:
        with pytest.raises(ClientError) as caught:
            await ec2.describe_instances()
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert fake.stats()["faults"] == {"500": 3}


@pytest.mark.asyncio
async def test_faults_are_seeded(session: AioSession, fake: FakeAWS) -> None:
    fake.configure(fault_500=0.5, fault_seed=7)

    async def outcomes() -> list[bool]:
        fake.reset()  # re-seeds the fault generator
        out = []
        async with client(session, fake, "dynamodb", config=NO_RETRY) as ddb:
            for _ in range(20):
                try:
                    await ddb.list_tables()
                    out.append(True)
                except ClientError:
                    out.append(False)
        return out

    first = await outcomes()
    assert first == await outcomes()
    assert True in first and False in first


@pytest.mark.asyncio
async def test_stalled_response_times_the_client_out(session: AioSession, fake: FakeAWS) -> None:
    fake.configure(fault_stall=1.0, stall_seconds=3.0, fault_actions=["lambda:*"])
    config = AioConfig(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=0.3)
    async with client(session, fake, "lambda", config=config) as lam:
        with pytest.raises(ReadTimeoutError):
            await lam.list_functions()
    assert fake.stats()["faults"] == {"stall": 1}
    # The server lets go of a stalled request once its client has hung up.
    for _ in range(200):
        if not fake.stats()["in_flight"]:
            break
        await anyio.sleep(0.05)
    assert fake.stats()["in_flight"] == 0


# -- stats, reset, truth, config


@pytest.mark.asyncio
async def test_stats_and_reset(session: AioSession, fake: FakeAWS) -> None:
    fake.configure(stats_by_target=True, latency_ms=100)
    async with client(session, fake, "dynamodb") as ddb:
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(ddb.list_tables)
    stats = fake.stats()
    assert stats["requests"] == 4
    assert stats["by_action"] == {"dynamodb:ListTables": 4}
    assert stats["ok_by_action"] == {"dynamodb:ListTables": 4}
    assert stats["by_status"] == {"200": 4}
    assert stats["by_target"] == {f"{BASE.management_account}/{REGION}/dynamodb:ListTables": 4}
    assert stats["throttled"] == 0 and stats["faults"] == {}
    assert stats["in_flight"] == 0
    assert stats["max_in_flight"] >= 2  # the four calls overlapped inside the latency
    fake.reset()
    stats = fake.stats()
    assert stats["requests"] == 0 and stats["by_action"] == {} and stats["max_in_flight"] == 0


def test_truth_matches_expected_items(fake: FakeAWS) -> None:
    summary = fake.truth()
    assert summary["accounts"] == expected_items(BASE, None, None, "accounts")
    assert summary["members"] == BASE.member_accounts()
    assert summary["regions"] == BASE.regions
    for kind in ("instances", "tables", "functions", "buckets", "objects"):
        served = fake.truth(kind=kind, account=ACCOUNT, region=REGION)["items"]
        assert served == expected_items(BASE, ACCOUNT, REGION, kind)
    assert len(set(expected_items(BASE, ACCOUNT, REGION, "instances"))) == 23


def test_config_round_trip_and_unknown_field(fake: FakeAWS) -> None:
    merged = fake.configure(buckets={"ec2:Describe*": [50, 20]})
    assert merged.buckets["ec2:Describe*"] == [50, 20]
    assert merged.buckets["sts:*"] == BASE.buckets["sts:*"]  # dicts merge key by key
    assert FakeConfig.from_dict(merged.to_dict()) == merged
    with pytest.raises(FakeAWSError):
        fake.configure(no_such_knob=1)


def test_item_overrides(fake: FakeAWS) -> None:
    config = BASE.merged({"item_overrides": {f"{ACCOUNT}/{REGION}": {"instances": 2}}})
    assert len(expected_items(config, ACCOUNT, REGION, "instances")) == 2
    assert len(expected_items(config, ACCOUNT, "us-east-1", "instances")) == 23


# -- lifecycle


def test_sync_lifecycle_leaves_no_process() -> None:
    server = FakeAWS(FakeConfig(accounts=1))
    with server:
        url = server.endpoint_url
        assert server.stats()["requests"] == 0
        proc = server._proc
        assert proc is not None
    assert proc.poll() is not None  # exited and reaped
    with pytest.raises(FakeAWSError):
        _ = server.endpoint_url
    assert url.startswith("http://127.0.0.1:")
    gc.collect()


@pytest.mark.asyncio
async def test_async_lifecycle() -> None:
    async with FakeAWS(FakeConfig(accounts=1)) as server:
        assert server.truth()["members"] == ["100000000001"]
        proc = server._proc
    assert proc is not None and proc.poll() is not None


def test_cli_prints_one_listening_line() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fake_aws", "--port", "0", "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("LISTENING http://127.0.0.1:")
        proc.stdin.close()  # asks the server to stop
        assert proc.stdout.read() == b""  # nothing else is printed
        assert proc.wait(timeout=10) == 0


@pytest.mark.asyncio
async def test_stats_count_connections_and_header_bytes(session: AioSession, fake: FakeAWS) -> None:
    # What a client's HTTP makes the fake do (benchmarks/server_cost.py reads these).
    fake.reset()
    async with client(session, fake, "sts", "us-east-1") as sts:
        for _ in range(3):  # one keep-alive connection
            await sts.get_caller_identity()
    async with client(session, fake, "sts", "us-east-1") as sts:  # a second connection
        await sts.get_caller_identity()
    stats = fake.stats()
    assert stats["requests"] == 4
    assert stats["connections"] == 2
    # Every request carries at least its Authorization and User-Agent headers.
    assert stats["header_bytes"] > 4 * 200
