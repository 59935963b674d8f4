"""Isolation: nothing done through one pool client or resource changes another's requests.

One botocore client per (region, service) serves every identity of a pool, so a boto3
resource, an event handler or a config change made through one caller's client must stay
with that caller. These tests hold the pool to it, down to the bytes on the wire.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import botocore.auth
import botocore.compat
import pytest
import pytest_asyncio
from aiohttp import web
from botocore.handlers import disable_signing

import aiokit
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, serve_on_loopback

pytestmark = pytest.mark.asyncio

ROLE = "OrganizationAccountAccessRole"
KEYS_A = aiokit.StaticKeys("AKIAIDENTITYA0000001", "secret-of-identity-a")
ROLE_KEY = "ASIAROLEIDENTITYB001"


def _pool(endpoint: str, **kw: Any) -> aiokit.SessionPool:
    kw.setdefault("region", "us-east-1")
    kw.setdefault("credentials", TEST_CREDENTIALS)
    return aiokit.SessionPool(endpoint_url=endpoint, **kw)


async def _make_table(pool: aiokit.SessionPool, name: str = "t") -> Any:
    ddb = await pool.client("dynamodb")
    await ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


# --- the DynamoDB case --------------------------------------------------------------


async def test_a_resource_does_not_rewire_the_pools_dynamodb_clients(
    fake_organization: FakeOrganization,
) -> None:
    member = fake_organization.account_ids[0]
    async with _pool(fake_organization.endpoint_url, role=ROLE) as pool:
        ddb = await _make_table(pool)
        await ddb.put_item(TableName="t", Item={"pk": {"S": "x"}, "color": {"S": "blue"}})
        resource = await pool.resource("dynamodb")
        table = await resource.Table("t")
        assert (await table.get_item(Key={"pk": "x"}))["Item"] == {"pk": "x", "color": "blue"}

        # The low-level client still speaks AttributeValues, in this account and in another.
        got = await ddb.get_item(TableName="t", Key={"pk": {"S": "x"}})
        assert got["Item"] == {"pk": {"S": "x"}, "color": {"S": "blue"}}
        other = await pool.client("dynamodb", account=member)
        assert other.meta.events is not ddb.meta.events
        assert (await other.list_tables())["TableNames"] == []

        # Plain values are refused before sending, as botocore refuses them.
        with pytest.raises(aiokit.InvalidParameterError, match="Item"):
            await ddb.put_item(TableName="t", Item={"pk": "y", "color": {"S": "blue"}})
        assert (await ddb.scan(TableName="t"))["Count"] == 1

        # A crawl returns AttributeValues, as it does in a pool that never made a resource.
        async with pool.crawl("dynamodb", "scan", TableName="t") as crawl:
            items = [item.data async for item in crawl]
        assert items == [{"pk": {"S": "x"}, "color": {"S": "blue"}}]

        # The resource itself keeps working, on a client of its own.
        await table.put_item(Item={"pk": "z", "n": 3})
        assert (await table.get_item(Key={"pk": "z"}))["Item"]["n"] == 3
        assert (await ddb.get_item(TableName="t", Key={"pk": {"S": "z"}}))["Item"]["n"] == {
            "N": "3"
        }
        assert await pool.resource("dynamodb") is resource  # cached
    assert pool.statistics().clients_open == 0  # the resource's own client is closed too


# --- event handlers and config --------------------------------------------------------------


async def test_an_event_handler_is_called_for_its_own_client_only(moto_endpoint: str) -> None:
    keys_b = aiokit.StaticKeys("AKIAIDENTITYB0000002", "secret-of-identity-b")
    calls: list[str] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        calls.append("a")

    async with _pool(moto_endpoint) as pool:
        a = await pool.client("sqs", identity=KEYS_A)
        b = await pool.client("sqs", identity=keys_b)
        assert a._aiokit.raw is b._aiokit.raw  # one shared botocore client...
        a.meta.events.register("before-call.sqs.ListQueues", seen)
        await b.list_queues()
        assert calls == []  # ...but the handler is a's alone
        await a.list_queues()
        assert calls == ["a"]
        again = await pool.client("sqs", identity=KEYS_A)
        assert again is a  # the same client object, with its handler
        a.meta.events.unregister("before-call.sqs.ListQueues", seen)
        await a.list_queues()
        assert calls == ["a"]


async def test_unsigned_requests_on_one_client_leave_the_others_signed(
    moto_endpoint: str,
) -> None:
    headers: dict[str, str | None] = {}

    async def handle(request: web.Request) -> web.Response:
        headers[request.path_qs] = request.headers.get("Authorization")
        body = b'<?xml version="1.0"?><ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>'
        return web.Response(body=body, content_type="application/xml")

    async with serve_on_loopback(handle) as url, _pool(url) as pool:
        anonymous = await pool.client("s3")
        signed = await pool.client("s3", identity=KEYS_A)
        # botocore's documented way to make one client anonymous: its choose-signer.
        anonymous.meta.events.register("choose-signer.s3.*", disable_signing)
        await anonymous.list_buckets(Prefix="anonymous")
        await signed.list_buckets(Prefix="signed")
    assert headers["/?prefix=anonymous"] is None
    signed_header = headers["/?prefix=signed"]
    assert signed_header is not None
    assert KEYS_A.access_key_id in signed_header


async def test_handlers_survive_the_pool_rebinding_an_evicted_client(moto_endpoint: str) -> None:
    calls: list[str] = []

    def seen(**_: Any) -> None:
        calls.append("sqs")

    async with _pool(moto_endpoint, max_clients=1) as pool:
        sqs = await pool.client("sqs")
        sqs.meta.events.register("before-call.sqs.ListQueues", seen)
        await (await pool.client("sns")).list_topics()  # evicts sqs's raw client
        assert sqs._aiokit.raw.evicted
        await sqs.list_queues()
        assert not sqs._aiokit.raw.evicted  # rebound to a fresh raw client...
        assert calls == ["sqs"]  # ...with its handler
        other = await pool.client("sqs", identity=KEYS_A)
        await other.list_queues()
        assert calls == ["sqs"]


async def test_changing_one_clients_config_leaves_the_others_alone(moto_endpoint: str) -> None:
    async with _pool(moto_endpoint) as pool:
        a = await pool.client("sqs", identity=KEYS_A)
        b = await pool.client("sqs")
        a.meta.config.read_timeout = 1
        a.meta.config.retries["mode"] = "legacy"
        assert b.meta.config.read_timeout == 30
        assert b.meta.config.retries["mode"] == "standard"
        assert a._aiokit.raw.client.meta.config.read_timeout == 30
        await b.list_queues()


# --- byte for byte --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One request as it arrived: method, path and query, headers in order, body."""

    method: str
    path: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def key_id(self) -> str:
        auth = dict(self.headers).get(b"Authorization", b"").decode()
        return auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else ""

    def comparable(self) -> Sent:
        # The invocation id is a fresh random UUID per call in any pool (botocore's
        # add_retry_headers, after signing): the one header left out of the comparison.
        kept = tuple(h for h in self.headers if h[0].lower() != b"amz-sdk-invocation-id")
        return Sent(self.method, self.path, kept, self.body)


def _assume_role_answer() -> bytes:
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    return f"""<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>{ROLE_KEY}</AccessKeyId>
      <SecretAccessKey>secret-of-the-role</SecretAccessKey>
      <SessionToken>token-of-the-role</SessionToken>
      <Expiration>{expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLE:aiokit</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/{ROLE}/aiokit</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>assume-role-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>""".encode()


_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
_NOT_FORWARDED_BACK = _HOP_BY_HOP | {"content-encoding", "date", "server"}


class RecordingProxy:
    """A loopback proxy in front of moto that records every request it is sent.

    STS AssumeRole gets a fixed answer (moto's keys are random per call, so two pools
    would sign with different role keys); everything else goes to moto.
    """

    def __init__(self, upstream: str, session: aiohttp.ClientSession) -> None:
        self.upstream = upstream
        self.session = session
        self.sent: list[Sent] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.sent.append(Sent(request.method, request.path_qs, tuple(request.raw_headers), body))
        if b"Action=AssumeRole&" in body:
            return web.Response(body=_assume_role_answer(), content_type="text/xml")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        async with self.session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body
        ) as answer:
            data = await answer.read()
            back = {k: v for k, v in answer.headers.items() if k.lower() not in _NOT_FORWARDED_BACK}
            return web.Response(status=answer.status, body=data, headers=back)

    def by_key(self) -> dict[str, list[Sent]]:
        grouped: dict[str, list[Sent]] = {}
        for sent in self.sent:
            grouped.setdefault(sent.key_id(), []).append(sent.comparable())
        return grouped


@pytest_asyncio.fixture
async def proxy(moto_endpoint: str) -> AsyncIterator[tuple[RecordingProxy, str]]:
    async with aiohttp.ClientSession() as session:
        recorder = RecordingProxy(moto_endpoint, session)
        async with serve_on_loopback(recorder.handle) as url:
            yield recorder, url


Calls = Callable[[aiokit.SessionPool], Awaitable[None]]


async def test_every_request_is_byte_for_byte_what_a_fresh_pool_sends(
    proxy: tuple[RecordingProxy, str],
    moto_endpoint: str,
    fake_organization: FakeOrganization,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two identities and a resource on one pool send exactly what each would alone.

    Signing time is frozen (botocore's clock, which aiokit's signer reads too) for every
    pool alike, so each Authorization header can be compared as it is, signature
    included, instead of recomputed. The role's credentials come from a fixed STS answer.
    """
    frozen = datetime.datetime(2026, 1, 2, 3, 4, 5)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: frozen)
    # With awscrt installed, S3's signer is the CRT's, which reads botocore.utils' clock.
    if botocore.compat.HAS_CRT:
        import botocore.crt.auth as crt_auth

        aware = frozen.replace(tzinfo=datetime.UTC)
        monkeypatch.setattr(
            crt_auth,
            "get_current_datetime",
            lambda remove_tzinfo=True: frozen if remove_tzinfo else aware,
        )
    recorder, url = proxy
    role = aiokit.AssumeRole(account=fake_organization.account_ids[0], role_name=ROLE)
    async with _pool(moto_endpoint) as seed:
        ddb = await _make_table(seed)
        await ddb.put_item(TableName="t", Item={"pk": {"S": "x"}, "n": {"N": "1"}})
        await (await seed.client("s3")).create_bucket(Bucket="shared")

    def mark(request: Any, **_: Any) -> None:
        request.headers["x-aiokit-marked"] = "a"

    async def as_keys(pool: aiokit.SessionPool, step: int) -> None:
        ddb = await pool.client("dynamodb", identity=KEYS_A)
        if step == 0:
            # A handler that changes the signed request, on this identity's client only.
            ddb.meta.events.register("before-sign.dynamodb", mark)
            await ddb.get_item(TableName="t", Key={"pk": {"S": "x"}})
        elif step == 1:
            item = {"pk": {"S": "a"}, "m": {"M": {"k": {"S": "v"}}}}
            await ddb.put_item(TableName="t", Item=item)
            await (await pool.client("sqs", identity=KEYS_A)).list_queues()
        else:
            await ddb.scan(TableName="t", Limit=5)
            s3 = await pool.client("s3", identity=KEYS_A)
            await s3.put_object(Bucket="shared", Key="a", Body=b"from a")
            await s3.list_objects_v2(Bucket="shared", Prefix="a")

    async def as_role(pool: aiokit.SessionPool, step: int) -> None:
        ddb = await pool.client("dynamodb", identity=role)
        if step == 0:
            await ddb.list_tables()
        elif step == 1:
            await ddb.get_item(TableName="t", Key={"pk": {"S": "x"}})
        else:
            await ddb.put_item(TableName="t", Item={"pk": {"S": "b"}, "l": {"L": [{"N": "1"}]}})
            await (await pool.client("sqs", identity=role)).list_queues()
            s3 = await pool.client("s3", identity=role)
            await s3.put_object(Bucket="shared", Key="b", Body=b"from the role")
            answer = await s3.get_object(Bucket="shared", Key="b")
            assert await answer["Body"].read() == b"from the role"

    async def with_resource(pool: aiokit.SessionPool, step: int) -> None:
        resource = await pool.resource("dynamodb", identity=KEYS_A)
        table = await resource.Table("t")
        if step == 0:
            await table.get_item(Key={"pk": "x"})
        elif step == 1:
            await table.put_item(Item={"pk": "r", "n": 2})
        else:
            resource.meta.client.meta.events.register("before-call.dynamodb", lambda **_: None)
            await table.scan(Limit=5)

    order = (with_resource, as_keys, as_role)
    # All three on one pool, interleaved: the resource first, so every later call would
    # see whatever it changed.
    recorder.sent.clear()
    async with _pool(url) as pool:
        for step in range(3):
            for calls in order:
                await calls(pool, step)
    shared = recorder.by_key()

    # Each alone on a fresh pool, step by step; then put together in the same order.
    steps: dict[tuple[Any, int], dict[str, list[Sent]]] = {}
    for calls in order:
        async with _pool(url) as pool:
            for step in range(3):
                recorder.sent.clear()
                await calls(pool, step)
                steps[calls, step] = recorder.by_key()
    alone: dict[str, list[Sent]] = {}
    for step in range(3):
        for calls in order:
            for key, sent in steps[calls, step].items():
                alone.setdefault(key, []).extend(sent)

    assert set(shared) == {KEYS_A.access_key_id, ROLE_KEY, TEST_CREDENTIALS.access_key_id}
    assert len(shared[ROLE_KEY]) == 6
    assert len(shared[TEST_CREDENTIALS.access_key_id]) == 1  # the one AssumeRole
    for key in shared:
        assert len(shared[key]) == len(alone[key]), key
        for i, (got, fresh) in enumerate(zip(shared[key], alone[key], strict=True)):
            assert got == fresh, f"request {i} of {key} differs from a fresh pool's"
    marked = [s for s in shared[KEYS_A.access_key_id] if (b"x-aiokit-marked", b"a") in s.headers]
    assert len(marked) == 3  # A's DynamoDB calls after the handler, and no other request
    # Frozen time is in effect: every signed request carries the same date.
    dates = {dict(s.headers).get(b"X-Amz-Date") for s in recorder.sent}
    assert dates == {b"20260102T030405Z"}


async def test_resources_are_closed_and_refused_after_close(moto_endpoint: str) -> None:
    pool = _pool(moto_endpoint)
    async with pool:
        resource = await pool.resource("sqs")
        await resource.create_queue(QueueName="q")
        assert pool.statistics().clients_open == 1  # the resource's own client
    assert pool.statistics().clients_open == 0
    with pytest.raises(aiokit.PoolClosedError):
        await resource.create_queue(QueueName="q2")
    with pytest.raises(aiokit.PoolClosedError):
        await pool.resource("sqs")
    with anyio.fail_after(1):
        await pool.aclose()
