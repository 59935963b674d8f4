"""SessionPool: caching, eviction, identities, credentials, lifecycle and errors, on moto."""

from __future__ import annotations

import datetime
import gc
import io
import logging
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiohttp import web
from botocore.exceptions import ClientError

import aiokit
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, serve_on_loopback

pytestmark = pytest.mark.asyncio

ROLE = "OrganizationAccountAccessRole"


def _pool(endpoint: str, **kw: Any) -> aiokit.SessionPool:
    kw.setdefault("region", "us-east-1")
    kw.setdefault("credentials", TEST_CREDENTIALS)
    return aiokit.SessionPool(endpoint_url=endpoint, **kw)


class Gate:
    """A DynamoDB-shaped HTTP server on loopback that answers only when opened."""

    def __init__(self) -> None:
        self.opened = anyio.Event()
        self.arrived = anyio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.arrived.set()
        await self.opened.wait()
        return web.json_response({"TableNames": ["t"]}, content_type="application/x-amz-json-1.0")


@pytest_asyncio.fixture
async def gate() -> AsyncIterator[Gate]:
    g = Gate()
    async with serve_on_loopback(g.handle) as g.url:
        try:
            yield g
        finally:
            g.opened.set()


# --- caching and eviction -----------------------------------------------------------------


async def test_clients_are_cached_per_identity_region_service(moto_endpoint: str) -> None:
    async with _pool(moto_endpoint) as pool:
        a = await pool.client("sqs")
        assert await pool.client("sqs") is a
        assert await pool.client("sqs", "us-east-1") is a
        b = await pool.client("sqs", "eu-west-1")
        assert b is not a
        other = aiokit.StaticKeys("other-key-id", "other-secret")
        c = await pool.client("sqs", identity=other)
        assert c is not a
        stats = pool.statistics()
        # Identities share the expensive client: two regions, two shared clients.
        assert stats.clients_created == 2
        assert stats.bound_clients == 3
        assert (await a.list_queues())["ResponseMetadata"]["HTTPStatusCode"] == 200


async def test_client_scopes_know_their_partition(moto_endpoint: str) -> None:
    async with _pool(moto_endpoint) as pool:
        for identity in (None, aiokit.StaticKeys("other-key-id", "other-secret")):
            # The second identity's clients find each region's partition already known.
            for region, partition in (
                ("cn-north-1", "aws-cn"),
                ("us-gov-west-1", "aws-us-gov"),
                ("eu-west-1", "aws"),
            ):
                client = await pool.client("sqs", region, identity=identity)
                assert client._aiokit.scope.partition == partition, region
        with pytest.raises(aiokit.InvalidRegionError, match="xx-nowhere-1"):
            await pool.client("sqs", "xx-nowhere-1")


async def test_concurrent_first_use_creates_one_client(moto_endpoint: str) -> None:
    async with _pool(moto_endpoint) as pool:
        got: list[Any] = []

        async def take() -> None:
            got.append(await pool.client("dynamodb"))

        async with anyio.create_task_group() as tg:
            for _ in range(25):
                tg.start_soon(take)
        assert len({id(c) for c in got}) == 1
        assert pool.statistics().clients_created == 1


async def test_the_clients_of_one_service_share_their_methods_and_keep_their_regions(
    moto_endpoint: str,
) -> None:
    # A client class per (region, service) as botocore makes them, but with one set of API
    # methods per service (aiokit._botocore.client.SharedMethods): 0.76 MB less per EC2
    # client.
    async with _pool(moto_endpoint) as pool:
        east = await pool.client("sqs", "us-east-1")
        west = await pool.client("sqs", "eu-west-1")
        assert type(east) is not type(west)
        assert type(east).create_queue is type(west).create_queue
        await east.create_queue(QueueName="in-the-east")
        await west.create_queue(QueueName="in-the-west")
        # One method, each client's own region (moto keeps queues per region).
        assert [u.rsplit("/", 1)[1] for u in (await east.list_queues())["QueueUrls"]] == [
            "in-the-east"
        ]
        assert [u.rsplit("/", 1)[1] for u in (await west.list_queues())["QueueUrls"]] == [
            "in-the-west"
        ]
        # Another service's class is its own; S3's extra methods (boto3's transfers,
        # presigning) are on every S3 client, and work for each.
        ddb = await pool.client("dynamodb", "eu-west-1")
        assert not hasattr(ddb, "create_queue")
        s3_east = await pool.client("s3", "us-east-1")
        s3_west = await pool.client("s3", "eu-west-1")
        assert type(s3_east).upload_fileobj is type(s3_west).upload_fileobj
        await s3_west.create_bucket(
            Bucket="west", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        await s3_west.upload_fileobj(io.BytesIO(b"x" * 10), "west", "k")
        assert (await s3_west.head_object(Bucket="west", Key="k"))["ContentLength"] == 10
        url = await s3_west.generate_presigned_url(
            "get_object", Params={"Bucket": "west", "Key": "k"}
        )
        async with aiohttp.ClientSession() as http, http.get(url) as got:
            assert (got.status, await got.read()) == (200, b"x" * 10)
        assert pool.statistics().clients_created == 5


async def test_no_lock_outlives_the_first_use_it_guarded(
    fake_organization: FakeOrganization,
) -> None:
    """The locks that make concurrent first uses share one client, one model load, one
    resource and one credential fetch are dropped once that is made (they used to pile up,
    one per service preloaded)."""
    account = fake_organization.account_ids[0]
    async with _pool(fake_organization.endpoint_url, role=ROLE) as pool:

        async def take(service: str) -> None:
            await pool.client(service)
            await pool.client(service, account=account)
            await pool.resource(service if service in ("s3", "sqs") else "dynamodb")

        async with anyio.create_task_group() as tg:
            for service in ("sqs", "s3", "dynamodb") * 4:
                tg.start_soon(take, service)
        assert pool._clients._locks == {}
        assert pool._credentials._locks == {}


async def test_a_client_with_retries_of_its_own_gets_a_shared_client_of_its_own(
    moto_endpoint: str,
) -> None:
    """A client ``config`` giving ``retries`` is retried by botocore, even when its merged
    config equals the pool's (the choice is part of the cache key, whichever comes first)."""
    own_retries = AioConfig(retries={"mode": "standard", "total_max_attempts": 5})
    async with _pool(moto_endpoint) as pool:
        shared = await pool.client("sqs")
        own = await pool.client("sqs", config=own_retries)
        assert pool.statistics().clients_created == 2
        assert "retry-config-sqs" not in shared.meta.events._emitter._unique_id_handlers
        assert "retry-config-sqs" in own.meta.events._emitter._unique_id_handlers
        await own.list_queues()
        await shared.list_queues()


async def test_lru_eviction_closes_idle_clients_and_held_ones_keep_working(
    moto_endpoint: str,
) -> None:
    async with _pool(moto_endpoint, max_clients=2) as pool:
        sqs = await pool.client("sqs")
        await pool.client("dynamodb")
        await pool.client("s3")  # evicts sqs, the least recently used
        stats = pool.statistics()
        assert stats.clients_evicted == 1
        assert stats.clients_open == 2
        # The caller still holds sqs: it rebinds to a fresh shared client transparently.
        await sqs.create_queue(QueueName="q")
        assert [u.rsplit("/", 1)[1] for u in (await sqs.list_queues())["QueueUrls"]] == ["q"]
        assert pool.statistics().clients_open <= 2


async def test_eviction_never_closes_a_client_in_use(gate: Gate) -> None:
    async with _pool(gate.url, max_clients=1) as pool:
        ddb = await pool.client("dynamodb")
        result: dict[str, Any] = {}

        async def call() -> None:
            result.update(await ddb.list_tables())

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await gate.arrived.wait()
            await pool.client("dynamodb", "eu-west-1")  # forces ddb's shared client out
            stats = pool.statistics()
            assert stats.clients_evicted == 1
            assert stats.in_flight == 1
            assert stats.clients_open == 2  # the busy one stays open until its call ends
            gate.opened.set()
        assert result["TableNames"] == ["t"]
        assert pool.statistics().clients_open == 1


# --- identities and credentials -------------------------------------------------------------


async def test_assume_role_into_five_accounts(fake_organization: FakeOrganization) -> None:
    accounts = fake_organization.account_ids[:5]
    async with _pool(fake_organization.endpoint_url, role=ROLE) as pool:
        answers = {}
        for account in accounts:
            sts = await pool.client("sts", account=account)
            answers[account] = (await sts.get_caller_identity())["Account"]
        assert answers == {a: a for a in accounts}
        stats = pool.statistics()
        assert stats.credential_refreshes == 5
        # One shared STS client serves the base identity and all five roles.
        assert stats.clients_created == 1


async def test_resources_act_in_their_own_account(fake_organization: FakeOrganization) -> None:
    first, second = fake_organization.account_ids[:2]
    async with _pool(fake_organization.endpoint_url, role=ROLE) as pool:
        s3_first = await pool.resource("s3", account=first)
        await s3_first.create_bucket(Bucket="only-in-first")
        names_first = [b.name async for b in s3_first.buckets.all()]
        s3_second = await pool.resource("s3", account=second)
        names_second = [b.name async for b in s3_second.buckets.all()]
        assert names_first == ["only-in-first"]
        assert names_second == []


async def test_two_hop_role_chain(fake_organization: FakeOrganization) -> None:
    hub, spoke = fake_organization.account_ids[:2]
    chain = aiokit.AssumeRole(
        account=spoke,
        role_name="Spoke",
        session_name="hop-two",
        source=aiokit.AssumeRole(account=hub, role_name="Hub", session_name="hop-one"),
    )
    async with _pool(fake_organization.endpoint_url) as pool:
        sts = await pool.client("sts", identity=chain)
        me = await sts.get_caller_identity()
        assert me["Account"] == spoke
        assert me["Arn"].endswith(":assumed-role/Spoke/hop-two")
        assert pool.statistics().credential_refreshes == 2


async def test_credentials_refresh_before_expiry(fake_organization: FakeOrganization) -> None:
    account = fake_organization.account_ids[0]
    short = aiokit.AssumeRole(account=account, role_name=ROLE, duration=900)
    async with _pool(fake_organization.endpoint_url) as pool:
        sts = await pool.client("sts", identity=short)
        await sts.get_caller_identity()
        credentials = sts._aiokit.credentials
        first = credentials._access_key
        assert pool.statistics().credential_refreshes == 1
        # 500 s on, 400 s of 900 are left: under half the lifetime, inside the (capped)
        # advisory window, so the next call refreshes first.
        later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=500)
        credentials._time_fetcher = lambda: later
        assert (await sts.get_caller_identity())["Account"] == account
        assert pool.statistics().credential_refreshes == 2
        assert credentials._access_key != first
        credentials._time_fetcher = lambda: datetime.datetime.now(datetime.UTC)
        await sts.get_caller_identity()
        assert pool.statistics().credential_refreshes == 2
        # A 1-hour role is fetched exactly once over several calls.
        hour = aiokit.AssumeRole(account=account, role_name=ROLE)
        sts_hour = await pool.client("sts", identity=hour)
        for _ in range(3):
            await sts_hour.get_caller_identity()
        assert pool.statistics().credential_refreshes == 3


async def test_default_chain_and_profiles(
    moto_endpoint: str, tmp_path: Any, monkeypatch: Any
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile dev]\nregion = eu-central-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[dev]\naws_access_key_id = dev-key\naws_secret_access_key = dev-secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # it would win over the profile's region
    async with aiokit.SessionPool(profile="dev", endpoint_url=moto_endpoint) as pool:
        assert pool.region == "eu-central-1"
        sqs = await pool.client("sqs")
        assert sqs.meta.region_name == "eu-central-1"
        await sqs.list_queues()
    async with aiokit.SessionPool(endpoint_url=moto_endpoint) as pool:
        assert pool.identity == aiokit.DefaultCredentials()
        with pytest.raises(aiokit.InvalidRegionError, match="no region given"):
            await pool.client("sqs")
        await (await pool.client("sqs", "us-west-2")).list_queues()


async def test_aws_endpoint_url_variable_is_honoured(moto_endpoint: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    async with aiokit.SessionPool(region="us-east-1") as pool:
        sqs = await pool.client("sqs")
        assert sqs.meta.endpoint_url == moto_endpoint
        await sqs.create_queue(QueueName="via-env")


async def test_aioboto3_extras_through_the_pool(aiokit_pool: aiokit.SessionPool) -> None:
    s3 = await aiokit_pool.client("s3")
    await s3.create_bucket(Bucket="transfers")
    await s3.upload_fileobj(io.BytesIO(b"x" * 1000), "transfers", "k")
    head = await s3.head_object(Bucket="transfers", Key="k")
    assert head["ContentLength"] == 1000
    url = await s3.generate_presigned_url("get_object", Params={"Bucket": "transfers", "Key": "k"})
    assert "Signature=" in url or "X-Amz-Signature=" in url

    ddb = await aiokit_pool.resource("dynamodb")
    table = await ddb.create_table(
        TableName="items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    async with table.batch_writer() as writer:
        for i in range(30):
            await writer.put_item(Item={"id": str(i)})
    assert (await table.scan(Select="COUNT"))["Count"] == 30


# --- lifecycle ---------------------------------------------------------------------------


async def test_reuse_after_close_raises(moto_endpoint: str) -> None:
    pool = _pool(moto_endpoint)
    async with pool:
        sqs = await pool.client("sqs")
    assert pool.closed
    await pool.aclose()  # idempotent
    with pytest.raises(aiokit.PoolClosedError, match="closed"):
        await pool.client("sqs")
    with pytest.raises(aiokit.PoolClosedError):
        await sqs.list_queues()
    with pytest.raises(aiokit.PoolClosedError):
        async with pool:
            pass


def _resource_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


async def test_no_leaks_after_success_error_and_cancellation(
    gate: Gate, moto_endpoint: str
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # success
        async with _pool(moto_endpoint) as pool:
            await (await pool.client("sqs")).list_queues()
        assert pool.statistics().clients_open == 0
        # error inside the block
        with pytest.raises(RuntimeError):
            async with _pool(moto_endpoint) as pool:
                await (await pool.client("sqs")).list_queues()
                raise RuntimeError("boom")
        assert pool.statistics().clients_open == 0
        # cancellation while a request is in flight
        pool = _pool(gate.url)
        with anyio.move_on_after(5) as scope:
            async with pool:
                ddb = await pool.client("dynamodb")
                async with anyio.create_task_group() as tg:
                    tg.start_soon(ddb.list_tables)
                    await gate.arrived.wait()
                    tg.cancel_scope.cancel()
        assert not scope.cancelled_caught
        assert pool.closed
        assert pool.statistics().clients_open == 0
        del pool, ddb
        gc.collect()
    assert _resource_warnings(caught) == []


async def test_a_pool_collected_while_open_warns_and_a_closed_one_does_not(
    moto_endpoint: str,
) -> None:
    pool = _pool(moto_endpoint)
    await pool.open()
    # The idle worker thread that read the config files still holds that job (the pool's
    # method) until its next one: give it one.
    await anyio.to_thread.run_sync(lambda: None)
    with pytest.warns(ResourceWarning, match=r"unclosed aiokit\.SessionPool\(state=open"):
        del pool
        gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        unopened = _pool(moto_endpoint)
        del unopened
        async with _pool(moto_endpoint) as closed:
            await (await closed.client("sqs")).list_queues()
        del closed
        gc.collect()
    assert _resource_warnings(caught) == []


# --- errors and secrets --------------------------------------------------------------------


async def test_bad_inputs_raise_clear_errors(moto_endpoint: str) -> None:
    async with _pool(moto_endpoint) as pool:
        with pytest.raises(aiokit.UnknownServiceError, match="'dynamodbx'"):
            await pool.client("dynamodbx")
        with pytest.raises(aiokit.InvalidRegionError, match="not a region!"):
            await pool.client("sqs", "not a region!")
        with pytest.raises(aiokit.InvalidRegionError, match="xx-nowhere-1"):
            await pool.client("sqs", "xx-nowhere-1")
        with pytest.raises(aiokit.ConfigurationError, match="no role to assume in account"):
            await pool.client("sqs", account="111122223333")
        sqs = await pool.client("sqs")
        with pytest.raises(aiokit.InvalidParameterError, match="sqs CreateQueue in us-east-1"):
            await sqs.create_queue(QueueName=5)
    with pytest.raises(aiokit.InvalidRoleError, match="malformed role ARN"):
        aiokit.AssumeRole(role_arn="arn:aws:iam::12345:role/x")
    with pytest.raises(aiokit.InvalidRoleError, match="12 digits"):
        aiokit.AssumeRole(account="acct", role_name="r")
    with pytest.raises(aiokit.ProfileNotFoundError, match="'nope'"):
        async with aiokit.SessionPool(profile="nope", endpoint_url=moto_endpoint):
            pass


async def test_aws_errors_keep_botocore_details_and_name_the_scope(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    ddb = await aiokit_pool.client("dynamodb")
    with pytest.raises(ddb.exceptions.ResourceNotFoundException) as info:
        await ddb.describe_table(TableName="missing")
    err = info.value
    assert isinstance(err, aiokit.AWSError)
    assert isinstance(err, ClientError)
    assert err.code == "ResourceNotFoundException"
    assert err.http_status == 400
    assert err.request_id
    assert (err.service, err.operation, err.region) == ("dynamodb", "DescribeTable", "us-east-1")
    assert str(err).startswith("dynamodb DescribeTable in us-east-1: ResourceNotFoundException")
    assert err.response["Error"]["Code"] == "ResourceNotFoundException"


async def test_denied_role_is_an_assume_role_error(moto_endpoint: str) -> None:
    # moto enforces nothing by default, so deny through an explicit policy-less user: an
    # unknown source profile is the simplest real failure on the credentials path.
    bad = aiokit.AssumeRole(
        account="111122223333", role_name="R", source=aiokit.Profile("no-such-profile")
    )
    async with _pool(moto_endpoint) as pool:
        sts = await pool.client("sts", identity=bad)
        with pytest.raises(aiokit.ProfileNotFoundError):
            await sts.get_caller_identity()


async def test_secrets_never_appear_in_reprs_logs_or_errors(
    moto_endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-VALUE-that-must-not-leak"
    keys = aiokit.StaticKeys("AKIAEXAMPLEKEY123456", secret, session_token="tok-VALUE-secret")
    texts = [repr(keys), str(keys)]
    caplog.set_level(logging.DEBUG, logger="aiokit")
    async with aiokit.SessionPool(
        credentials=keys, endpoint_url=moto_endpoint, region="us-east-1"
    ) as pool:
        ddb = await pool.client("dynamodb")
        await ddb.list_tables()
        try:
            await ddb.describe_table(TableName="missing")
        except aiokit.AWSError as exc:
            texts += [str(exc), repr(exc)]
        try:
            await ddb.list_tables(Limit="many")
        except aiokit.InvalidParameterError as exc:
            texts += [str(exc), repr(exc)]
        texts += [repr(pool), repr(ddb), repr(pool.statistics()), repr(pool.identity)]
        role = aiokit.AssumeRole(account="111122223333", role_name="R", external_id="ext-secret")
        texts.append(repr(role))
    texts += [r.getMessage() for r in caplog.records] + [str(r.__dict__) for r in caplog.records]
    blob = "\n".join(texts)
    assert caplog.records, "debug logging produced nothing"
    for needle in (secret, "tok-VALUE-secret", "AKIAEXAMPLEKEY123456", "ext-secret"):
        assert needle not in blob


async def test_log_records_carry_structured_fields(
    aiokit_pool: aiokit.SessionPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiokit")
    sqs = await aiokit_pool.client("sqs", "eu-west-1")
    await sqs.list_queues()
    calls = [r for r in caplog.records if getattr(r, "duration", None) is not None]
    assert calls
    record = calls[-1]
    assert (record.service, record.region, record.operation) == ("sqs", "eu-west-1", "ListQueues")
    assert record.attempt == 1
    attempts = [r for r in caplog.records if r.getMessage().startswith("attempt 1 of ListQueues")]
    assert attempts and attempts[0].service == "sqs"
