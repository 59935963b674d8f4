"""Identities: roles, profiles and STS, on moto and on a scripted STS endpoint."""

from __future__ import annotations

import datetime
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from aiobotocore.config import AioConfig
from aiohttp import web

import aiokit
from aiokit._exceptions import InvalidCredentialsError
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, serve_on_loopback

pytestmark = pytest.mark.anyio

ROLE = "OrganizationAccountAccessRole"
ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/R"


def _pool(endpoint: str, **kw: Any) -> aiokit.SessionPool:
    kw.setdefault("region", "us-east-1")
    kw.setdefault("credentials", TEST_CREDENTIALS)
    return aiokit.SessionPool(endpoint_url=endpoint, **kw)


# --- the pool's own identity, profiles, lifetimes ---------------------------------------


async def test_a_pool_whose_own_identity_is_a_role_assumes_it_from_the_default_chain(
    fake_organization: FakeOrganization,
) -> None:
    member = fake_organization.account_ids[0]
    role = aiokit.AssumeRole(role_arn=fake_organization.role_arn(member))
    # The default chain finds the test keys in the environment (aws_isolated_env).
    with anyio.fail_after(30):
        async with aiokit.SessionPool(
            credentials=role, endpoint_url=fake_organization.endpoint_url, region="us-east-1"
        ) as pool:
            sts = await pool.client("sts")
            me = await sts.get_caller_identity()
            assert me["Account"] == member
            assert pool.statistics().credential_refreshes == 1
            # Other roles are assumed from the pool's identity, the role, as before.
            other = fake_organization.account_ids[1]
            hop = await pool.client("sts", account=other, role=ROLE)
            assert (await hop.get_caller_identity())["Account"] == other


def _role_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role_arn: str) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[profile source]\n"
        "aws_access_key_id = testing\n"
        "aws_secret_access_key = testing\n"
        "[profile member]\n"
        f"role_arn = {role_arn}\n"
        "source_profile = source\n"
        "region = us-east-1\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")


@pytest.mark.parametrize("how", ["endpoint_url", "endpoint_urls"])
async def test_a_profiles_role_is_assumed_through_the_pools_endpoint(
    how: str,
    fake_organization: FakeOrganization,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member = fake_organization.account_ids[2]
    _role_profile(tmp_path, monkeypatch, fake_organization.role_arn(member))
    url = fake_organization.endpoint_url
    where: dict[str, Any] = (
        {"endpoint_url": url} if how == "endpoint_url" else {"endpoint_urls": {"sts": url}}
    )
    # No internet here: an STS request to AWS itself would fail, not succeed.
    with anyio.fail_after(60):
        async with aiokit.SessionPool(profile="member", **where) as pool:
            sts = await pool.client("sts")
            assert sts.meta.endpoint_url == url
            assert (await sts.get_caller_identity())["Account"] == member


async def test_fifteen_minute_role_credentials_are_fetched_once(
    fake_organization: FakeOrganization,
) -> None:
    account = fake_organization.account_ids[0]
    short = aiokit.AssumeRole(account=account, role_name=ROLE, duration=900)
    async with _pool(fake_organization.endpoint_url) as pool:  # default refresh_before
        sts = await pool.client("sts", identity=short)
        for _ in range(5):
            assert (await sts.get_caller_identity())["Account"] == account
        assert pool.statistics().credential_refreshes == 1


# --- close racing creation ------------------------------------------------------------------


async def test_a_client_made_while_the_pool_closes_is_closed_and_refused(
    moto_endpoint: str,
) -> None:
    """Close the pool after every number of scheduler steps a client creation takes."""
    outcomes = set()
    for steps in range(12):
        pool = _pool(moto_endpoint)
        await pool.open()
        await pool.client("sqs")  # models and credentials ready: creation is all that is left
        result: list[Any] = []

        async def make(pool: aiokit.SessionPool = pool, result: list[Any] = result) -> None:
            try:
                result.append(await pool.client("sqs", config=AioConfig(read_timeout=7)))
            except aiokit.PoolClosedError as exc:
                result.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(make)
            for _ in range(steps):
                await anyio.lowlevel.checkpoint()
            closing_started_before = not result
            await pool.aclose()
        assert pool.statistics().clients_open == 0, steps
        (got,) = result
        if closing_started_before:
            # The creation was under way when close began: it must not hand out a client.
            assert isinstance(got, aiokit.PoolClosedError), steps
        outcomes.add(type(got).__name__)
        if not isinstance(got, Exception):
            with pytest.raises(aiokit.PoolClosedError):
                await got.list_queues()
    # The sweep covered both sides of the race.
    assert "PoolClosedError" in outcomes
    assert len(outcomes) == 2


# --- STS answers ----------------------------------------------------------------------------


def _sts_error(status: int, code: str) -> web.Response:
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>scripted {code}</Message>"
        "</Error><RequestId>scripted</RequestId></ErrorResponse>"
    )
    return web.Response(status=status, body=body.encode(), content_type="text/xml")


def _assume_role_ok() -> web.Response:
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    body = (
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<AssumeRoleResult><Credentials><AccessKeyId>ASIASCRIPTED0000001</AccessKeyId>"
        "<SecretAccessKey>scripted-secret</SecretAccessKey>"
        "<SessionToken>scripted-token</SessionToken>"
        f"<Expiration>{expiry.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration></Credentials>"
        "<AssumedRoleUser><AssumedRoleId>AROA:aiokit</AssumedRoleId>"
        f"<Arn>arn:aws:sts::{ACCOUNT}:assumed-role/R/aiokit</Arn></AssumedRoleUser>"
        "</AssumeRoleResult><ResponseMetadata><RequestId>ok</RequestId></ResponseMetadata>"
        "</AssumeRoleResponse>"
    )
    return web.Response(body=body.encode(), content_type="text/xml")


def _caller_identity() -> web.Response:
    body = (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<GetCallerIdentityResult><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/R/aiokit</Arn>"
        f"<UserId>AROA:aiokit</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
        "<ResponseMetadata><RequestId>id</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )
    return web.Response(body=body.encode(), content_type="text/xml")


class ScriptedSTS:
    """An STS endpoint whose AssumeRole answers follow a script; the last one repeats."""

    def __init__(self) -> None:
        self.script: list[tuple[int, str] | None] = [None]  # None: success
        self.assume_role_calls: list[dict[str, list[str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        params = urllib.parse.parse_qs((await request.read()).decode())
        action = params.get("Action", [""])[0]
        if action == "GetCallerIdentity":
            return _caller_identity()
        assert action == "AssumeRole", action
        self.assume_role_calls.append(params)
        step = self.script[min(len(self.assume_role_calls), len(self.script)) - 1]
        return _assume_role_ok() if step is None else _sts_error(*step)


@pytest.fixture
async def sts() -> AsyncIterator[tuple[ScriptedSTS, str]]:
    script = ScriptedSTS()
    async with serve_on_loopback(script.handle) as url:
        yield script, url


def _quick_retries() -> aiokit.RetrySettings:
    return aiokit.RetrySettings(max_attempts=4, max_backoff=0.01, throttle_timeout=0.5)


async def _call_as_role(url: str, **kw: Any) -> dict[str, Any]:
    async with _pool(url, retry=_quick_retries(), **kw) as pool:
        client = await pool.client("sts", identity=aiokit.AssumeRole(role_arn=ROLE_ARN))
        with anyio.fail_after(30):
            result: dict[str, Any] = await client.get_caller_identity()
        return result


@pytest.mark.parametrize(
    "script",
    [
        [(500, "InternalFailure"), None],
        [(503, "ServiceUnavailable"), (500, "InternalFailure"), None],
        [(400, "Throttling"), (400, "Throttling"), None],
    ],
    ids=["500-then-ok", "503-500-then-ok", "throttled-then-ok"],
)
async def test_transient_sts_failures_are_retried(
    sts: tuple[ScriptedSTS, str], script: list[tuple[int, str] | None]
) -> None:
    server, url = sts
    server.script = script
    assert (await _call_as_role(url))["Account"] == ACCOUNT
    assert len(server.assume_role_calls) == len(script)


async def test_sts_failing_for_good_is_that_error_not_a_refused_role(
    sts: tuple[ScriptedSTS, str],
) -> None:
    server, url = sts
    server.script = [(500, "InternalFailure")]
    with pytest.raises(aiokit.AWSError) as info:
        await _call_as_role(url)
    assert not isinstance(info.value, aiokit.AssumeRoleError)
    assert info.value.code == "InternalFailure"
    assert (info.value.service, info.value.operation) == ("sts", "AssumeRole")
    assert len(server.assume_role_calls) == 4  # retried, then given up


async def test_sts_throttling_for_good_is_a_throttling_error(
    sts: tuple[ScriptedSTS, str],
) -> None:
    server, url = sts
    server.script = [(400, "Throttling")]
    with pytest.raises(aiokit.ThrottlingError) as info:
        await _call_as_role(url)
    assert not isinstance(info.value, aiokit.CredentialsError)
    assert len(server.assume_role_calls) >= 2


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, "AccessDenied"), (403, "AccessDeniedException"), (403, "RegionDisabledException")],
)
async def test_a_role_sts_refuses_is_an_assume_role_error(
    sts: tuple[ScriptedSTS, str], status: int, code: str
) -> None:
    server, url = sts
    server.script = [(status, code)]
    with pytest.raises(aiokit.AssumeRoleError) as info:
        await _call_as_role(url)
    assert info.value.code == code
    assert info.value.role_arn == ROLE_ARN
    assert ROLE_ARN in str(info.value)
    assert len(server.assume_role_calls) == 1  # by design: not retried


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "InvalidClientTokenId"),
        (403, "SignatureDoesNotMatch"),
        (400, "ExpiredToken"),
        (400, "UnrecognizedClientException"),
    ],
)
async def test_bad_source_credentials_are_invalid_credentials_not_a_refused_role(
    sts: tuple[ScriptedSTS, str], status: int, code: str
) -> None:
    server, url = sts
    server.script = [(status, code)]
    with pytest.raises(InvalidCredentialsError) as info:
        await _call_as_role(url)
    assert not isinstance(info.value, aiokit.AssumeRoleError)
    assert isinstance(info.value, aiokit.CredentialsError)
    assert code in str(info.value)
    assert ROLE_ARN in str(info.value)
