"""Identities: roles, profiles and STS, on moto and on a scripted STS endpoint."""

from __future__ import annotations

import datetime
import json
import os
import sys
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiohttp import web

import aiokit
from aiokit._exceptions import InvalidCredentialsError
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, serve_on_loopback

pytestmark = pytest.mark.asyncio

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


def _assume_role_ok(lifetime: float = 3600.0) -> web.Response:
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=lifetime)
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
        self.lifetimes: list[float] = [3600.0]  # of the credentials handed out, likewise
        self.assume_role_calls: list[dict[str, list[str]]] = []
        self.caller_identity_calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        params = urllib.parse.parse_qs((await request.read()).decode())
        action = params.get("Action", [""])[0]
        if action == "GetCallerIdentity":
            self.caller_identity_calls += 1
            return _caller_identity()
        assert action == "AssumeRole", action
        self.assume_role_calls.append(params)
        n = len(self.assume_role_calls)
        step = self.script[min(n, len(self.script)) - 1]
        lifetime = self.lifetimes[min(n, len(self.lifetimes)) - 1]
        return _assume_role_ok(lifetime) if step is None else _sts_error(*step)


@pytest_asyncio.fixture
async def sts() -> AsyncIterator[tuple[ScriptedSTS, str]]:
    script = ScriptedSTS()
    async with serve_on_loopback(script.handle) as url:
        yield script, url


async def test_role_credentials_are_refreshed_in_the_pools_window_not_botocores(
    sts: tuple[ScriptedSTS, str],
) -> None:
    """``refresh_before=60``: refresh 60-66 s (advisory) or 40 s (mandatory) before expiry,
    not botocore's 15 / 10 minutes (which would refresh 300-second credentials at once)."""
    server, url = sts
    role = aiokit.AssumeRole(role_arn=ROLE_ARN, duration=900)
    server.lifetimes = [300.0]
    async with _pool(url, refresh_before=60) as pool:
        client = await pool.client("sts", identity=role)
        for _ in range(3):
            assert (await client.get_caller_identity())["Account"] == ACCOUNT
        assert len(server.assume_role_calls) == 1
        assert pool.statistics().credential_refreshes == 1


async def test_role_credentials_inside_the_advisory_window_are_refreshed_before_the_next_call(
    sts: tuple[ScriptedSTS, str],
) -> None:
    server, url = sts
    role = aiokit.AssumeRole(role_arn=ROLE_ARN, duration=900)
    # 50 s to live: inside the advisory window (60-66 s), outside the mandatory one (40 s).
    server.lifetimes = [50.0, 3600.0]
    async with _pool(url, refresh_before=60) as pool:
        client = await pool.client("sts", identity=role)
        await client.get_caller_identity()
        assert len(server.assume_role_calls) == 1
        await client.get_caller_identity()  # refreshes first
        assert len(server.assume_role_calls) == 2
        await client.get_caller_identity()  # an hour to live: no refresh
        assert len(server.assume_role_calls) == 2
        assert server.caller_identity_calls == 3


async def test_a_request_that_reaches_the_signer_without_an_identity_is_refused(
    sts: tuple[ScriptedSTS, str],
) -> None:
    """The shared client under a bound one has no identity of its own: a request through
    it fails with CredentialsError instead of being signed as someone (and sent)."""
    server, url = sts
    async with _pool(url) as pool:
        bound = await pool.client("sts")
        shared = bound._aiokit.raw.client
        with pytest.raises(aiokit.CredentialsError, match="used without an identity"):
            await shared.get_caller_identity()
        assert server.caller_identity_calls == 0
        await bound.get_caller_identity()
        assert server.caller_identity_calls == 1


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


# --- AssumeRole's session options -----------------------------------------------------------


async def test_session_policies_tags_source_identity_and_mfa_reach_sts(
    sts: tuple[ScriptedSTS, str],
) -> None:
    server, url = sts
    codes = iter(["123456", "654321"])
    policy = '{"Version": "2012-10-17", "Statement": []}'
    role = aiokit.AssumeRole(
        role_arn=ROLE_ARN,
        session_name="audit-run",
        duration=1800,
        external_id="ext",
        policy=policy,
        policy_arns=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        tags={"team": "infra", "run": "42"},
        transitive_tag_keys=["team"],
        source_identity="alice",
        mfa_serial="arn:aws:iam::111122223333:mfa/alice",
        mfa_token=lambda: next(codes),  # called at each refresh, in a worker thread
    )
    assert "123456" not in repr(role) and "ext" not in repr(role)
    async with _pool(url) as pool:
        client = await pool.client("sts", identity=role)
        await client.get_caller_identity()
    (sent,) = server.assume_role_calls
    assert sent["RoleArn"] == [ROLE_ARN]
    assert sent["RoleSessionName"] == ["audit-run"]
    assert sent["DurationSeconds"] == ["1800"]
    assert sent["ExternalId"] == ["ext"]
    assert sent["Policy"] == [policy]
    assert sent["PolicyArns.member.1.arn"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    tags = {sent[f"Tags.member.{i}.Key"][0]: sent[f"Tags.member.{i}.Value"][0] for i in (1, 2)}
    assert tags == {"team": "infra", "run": "42"}
    assert sent["TransitiveTagKeys.member.1"] == ["team"]
    assert sent["SourceIdentity"] == ["alice"]
    assert sent["SerialNumber"] == ["arn:aws:iam::111122223333:mfa/alice"]
    assert sent["TokenCode"] == ["123456"]


async def test_an_async_mfa_token_function_is_awaited(sts: tuple[ScriptedSTS, str]) -> None:
    server, url = sts

    async def token() -> str:
        return "112233"

    role = aiokit.AssumeRole(role_arn=ROLE_ARN, mfa_serial="GAHT12345678", mfa_token=token)
    async with _pool(url) as pool:
        await (await pool.client("sts", identity=role)).get_caller_identity()
    assert server.assume_role_calls[0]["TokenCode"] == ["112233"]


async def test_session_options_work_against_moto(fake_organization: FakeOrganization) -> None:
    member = fake_organization.account_ids[0]
    role = aiokit.AssumeRole(
        account=member,
        role_name=ROLE,
        tags={"k": "v"},
        transitive_tag_keys=["k"],
        policy='{"Version": "2012-10-17", "Statement": []}',
        source_identity="alice",
    )
    async with _pool(fake_organization.endpoint_url) as pool:
        sts = await pool.client("sts", identity=role)
        assert (await sts.get_caller_identity())["Account"] == member


async def test_targets_for_listed_accounts_take_a_session_name(
    fake_organization: FakeOrganization,
) -> None:
    accounts = fake_organization.account_ids[:2]
    async with _pool(fake_organization.endpoint_url, role=ROLE) as pool:
        targets = await pool.targets(accounts, role=ROLE, session_name="inventory")
        assert [t.account for t in targets] == accounts
        for target in targets:
            assert isinstance(target.identity, aiokit.AssumeRole)
            assert target.identity.session_name == "inventory"
            sts = await pool.client("sts", identity=target.identity)
            me = await sts.get_caller_identity()
            assert me["Arn"].endswith(f":assumed-role/{ROLE}/inventory")
        with pytest.raises(aiokit.InvalidRoleError, match="session_name='x'"):
            await pool.targets(accounts, session_name="x")
        with pytest.raises(aiokit.ConfigurationError, match="Organization\\(session_name"):
            await pool.targets(aiokit.Organization(), session_name="inventory")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"duration": 899}, "duration=899"),
        ({"duration": 43201}, "duration=43201"),
        ({"policy": {"Version": "2012-10-17"}}, "policy=...) must be JSON text"),
        ({"policy": "{not json"}, "policy=...) is not valid JSON"),
        ({"policy_arns": "arn:aws:iam::aws:policy/X"}, "policy_arns=...) must be a list"),
        ({"policy_arns": ["ReadOnlyAccess"]}, "malformed policy ARN 'ReadOnlyAccess'"),
        ({"tags": ["a", "b"]}, "tags=...) must be a mapping"),
        ({"tags": {"k": 1}}, "keys and values must be strings"),
        ({"tags": {"": "v"}}, "malformed tag ''"),
        ({"tags": {f"k{i}": "v" for i in range(51)}}, "51 tags, at most 50"),
        ({"tags": {"a": "1"}, "transitive_tag_keys": ["b"]}, "['b'] are not keys of tags"),
        ({"transitive_tag_keys": "a"}, "transitive_tag_keys=...) must be a list"),
        ({"source_identity": "x"}, "source_identity='x'"),
        ({"mfa_serial": "arn:aws:iam::111122223333:mfa/me"}, "mfa_serial and mfa_token"),
        ({"mfa_token": "123456"}, "mfa_serial and mfa_token"),
        ({"mfa_serial": "x", "mfa_token": "1"}, "mfa_serial='x'"),
        ({"mfa_serial": "GAHT12345678", "mfa_token": 123456}, "mfa_token=...) must be"),
        (
            {"duration": 7200, "source": aiokit.AssumeRole(role_arn=ROLE_ARN)},
            "at most 3600 s for a role assumed from another role",
        ),
    ],
    ids=lambda v: str(v)[:40] if isinstance(v, str) else None,
)
def test_bad_assume_role_options_name_the_parameter(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(aiokit.InvalidRoleError) as info:
        aiokit.AssumeRole(role_arn=ROLE_ARN, **kwargs)
    assert isinstance(info.value, aiokit.ConfigurationError)
    assert fragment in str(info.value)


def test_session_options_keep_an_identity_hashable_and_equal() -> None:
    a = aiokit.AssumeRole(
        role_arn=ROLE_ARN, tags={"b": "2", "a": "1"}, policy_arns=["arn:aws:iam::aws:policy/X"]
    )
    b = aiokit.AssumeRole(
        role_arn=ROLE_ARN, tags={"a": "1", "b": "2"}, policy_arns=("arn:aws:iam::aws:policy/X",)
    )
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1


# --- profiles whose credentials cannot be had ------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "fragment"),
    [
        ("process", "CredentialRetrievalError"),
        ("orphan", 'source_profile "nowhere"'),
        ("loop", "InfiniteLoopConfigError"),
    ],
)
async def test_a_profile_without_usable_credentials_is_a_credentials_error(
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    profile: str,
    fragment: str,
) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[profile process]\n"
        f'credential_process = {sys.executable} -c "import sys; sys.exit(3)"\n'
        "[profile orphan]\n"
        f"role_arn = {ROLE_ARN}\n"
        "source_profile = nowhere\n"
        "[profile loop]\n"
        f"role_arn = {ROLE_ARN}\n"
        "source_profile = loop2\n"
        "[profile loop2]\n"
        f"role_arn = {ROLE_ARN}\n"
        "source_profile = loop\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    async with aiokit.SessionPool(
        profile=profile, endpoint_url=moto_endpoint, region="us-east-1"
    ) as pool:
        with pytest.raises(aiokit.CredentialsError) as info:
            await pool.client("sqs")
    assert f"aiokit.Profile('{profile}')" in str(info.value)
    assert fragment in str(info.value)


PROCESS_SECRET = "process-secret-never-shown"


def _process_keys(expiration: str) -> str:
    keys = {
        "Version": 1,
        "AccessKeyId": "ASIAPROCESS000000001",
        "SecretAccessKey": PROCESS_SECRET,
        "SessionToken": "process-token",
        "Expiration": expiration,
    }
    return json.dumps(keys)


@pytest.mark.parametrize(
    "profile", ["not-json", "secret-then-garbage", "missing", "bad-expiry", "expired"]
)
async def test_a_credential_process_that_gives_nothing_usable_is_a_credentials_error(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str
) -> None:
    prints = {
        "not-json": "Enter your password:",
        "secret-then-garbage": '{"Version": 1, "SecretAccessKey": "' + PROCESS_SECRET + '"',
        "bad-expiry": _process_keys("tomorrow"),
        "expired": _process_keys("2001-01-01T00:00:00Z"),
    }
    config = tmp_path / "config"
    lines = [f"[profile missing]\ncredential_process = {tmp_path / 'no-such-helper'}\n"]
    for name, text in prints.items():
        helper = tmp_path / f"{name}.py"
        helper.write_text(f"print({text!r})\n")
        lines.append(f"[profile {name}]\ncredential_process = {sys.executable} {helper}\n")
    config.write_text("".join(lines))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    async with aiokit.SessionPool(
        profile=profile, endpoint_url=moto_endpoint, region="us-east-1"
    ) as pool:
        with pytest.raises(aiokit.CredentialsError) as info:
            sqs = await pool.client("sqs")
            await sqs.list_queues()
    assert profile in str(info.value) or "expired" in str(info.value)
    assert PROCESS_SECRET not in str(info.value)
    assert PROCESS_SECRET not in repr(info.value.__cause__)


async def test_a_credential_process_cancelled_while_it_hangs_does_not_outlive_the_wait(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    helper = tmp_path / "hangs.py"
    helper.write_text(
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    )
    config = tmp_path / "config"
    config.write_text(f"[profile hangs]\ncredential_process = {sys.executable} {helper}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    async with aiokit.SessionPool(
        profile="hangs", endpoint_url=moto_endpoint, region="us-east-1"
    ) as pool:
        async with anyio.create_task_group() as tg:
            tg.start_soon(pool.client, "sqs")
            for _ in range(400):  # the helper has started and said who it is
                if pid_file.exists() and pid_file.read_text():
                    break
                await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize(
    ("present", "missing"),
    [("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), ("AWS_SECRET_ACCESS_KEY", None)],
)
async def test_half_set_key_variables_are_a_credentials_error_naming_what_is_missing(
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    present: str,
    missing: str | None,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv(present, "half-set-value-never-shown")
    async with aiokit.SessionPool(endpoint_url=moto_endpoint, region="us-east-1") as pool:
        with pytest.raises(aiokit.CredentialsError) as info:
            await pool.client("sqs")
    message = str(info.value)
    assert "aiokit.DefaultCredentials()" in message
    if missing is not None:  # botocore ignores a lone secret: no credentials at all
        assert f"missing: {missing}" in message
    assert "half-set-value-never-shown" not in message


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (403, "AccessDenied", aiokit.AssumeRoleError),
        (403, "InvalidClientTokenId", InvalidCredentialsError),
    ],
)
async def test_a_profiles_role_hop_refused_by_sts_is_reported_as_such(
    sts: tuple[ScriptedSTS, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    code: str,
    error: type[Exception],
) -> None:
    server, url = sts
    server.script = [(status, code)]
    _role_profile(tmp_path, monkeypatch, ROLE_ARN)
    async with aiokit.SessionPool(profile="member", endpoint_url=url) as pool:
        sqs = await pool.client("sqs")
        with pytest.raises(error) as info:
            await sqs.list_queues()
    assert not isinstance(info.value, aiokit.AccessDeniedError)  # not the call's own answer
    assert (info.value.service, info.value.operation) == ("sts", "AssumeRole")
    assert ROLE_ARN in str(info.value)
    if isinstance(info.value, aiokit.AssumeRoleError):
        assert info.value.role_arn == ROLE_ARN


async def test_a_role_of_another_partition_is_refused_before_asking_sts(
    sts: tuple[ScriptedSTS, str],
) -> None:
    server, url = sts
    china = aiokit.AssumeRole(role_arn="arn:aws-cn:iam::111122223333:role/R")
    async with _pool(url) as pool:  # us-east-1: partition aws
        client = await pool.client("sts", identity=china)
        with pytest.raises(aiokit.InvalidRoleError, match="partition aws-cn") as info:
            await client.get_caller_identity()
    assert "give the pool a region of the role's partition" in str(info.value)
    assert server.assume_role_calls == []


# --- STS answers that are not AssumeRole answers --------------------------------------------


def _role_answer(credentials: str) -> str:
    return (
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<AssumeRoleResult>{credentials}</AssumeRoleResult>"
        "<ResponseMetadata><RequestId>odd</RequestId></ResponseMetadata></AssumeRoleResponse>"
    )


def _credentials_xml(expiration: str) -> str:
    return (
        "<Credentials><AccessKeyId>ASIASCRIPTED0000001</AccessKeyId>"
        f"<SecretAccessKey>{ODD_SECRET}</SecretAccessKey><SessionToken>odd-token</SessionToken>"
        f"<Expiration>{expiration}</Expiration></Credentials>"
    )


ODD_SECRET = "odd-secret-never-shown"
_AN_HOUR_AGO = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime(
    "%Y-%m-%dT%H:%M:%SZ"
)
ODD_ANSWERS = {
    "no-credentials": _role_answer(""),
    "cut-off-xml": _role_answer(_credentials_xml("2099-01-01T00:00:00Z"))[:300],
    "a-proxys-page": "<html><body>Please log in to the proxy</body></html>",
    "empty-body": "",
    "expiry-not-a-date": _role_answer(_credentials_xml("tomorrow")),
    "already-expired": _role_answer(_credentials_xml(_AN_HOUR_AGO)),
}


@pytest.mark.parametrize("answer", sorted(ODD_ANSWERS))
async def test_an_sts_answer_that_gives_no_usable_credentials_is_a_credentials_error(
    answer: str,
) -> None:
    good_role = "arn:aws:iam::444455556666:role/Good"
    # XML that cannot be parsed is the endpoint's fault; parsed but unusable, STS's answer.
    unparsable = answer in ("cut-off-xml", "empty-body")
    expected = aiokit.EndpointError if unparsable else aiokit.CredentialsError

    async def handle(request: web.Request) -> web.Response:
        params = urllib.parse.parse_qs((await request.read()).decode())
        if params["Action"] == ["GetCallerIdentity"]:
            return _caller_identity()
        if params["RoleArn"] == [good_role]:
            return _assume_role_ok()
        return web.Response(body=ODD_ANSWERS[answer].encode(), content_type="text/xml")

    async def call(ctx: aiokit.Context) -> Any:
        return await (await ctx.client("sts")).get_caller_identity()

    async with serve_on_loopback(handle) as url, _pool(url, retry=_quick_retries()) as pool:
        client = await pool.client("sts", identity=aiokit.AssumeRole(role_arn=ROLE_ARN))
        with anyio.fail_after(30), pytest.raises(expected) as info:
            await client.get_caller_identity()
        assert not isinstance(info.value, aiokit.AssumeRoleError)
        assert ROLE_ARN in str(info.value) or "sts AssumeRole" in str(info.value)
        for error in (info.value, info.value.__cause__):  # botocore's parser error quotes
            assert ODD_SECRET not in str(error)  # the body
        # In a fan-out it is that target's failure, not a bug that stops every target.
        targets = [
            aiokit.Target(arn.split(":")[4], "us-east-1", identity=aiokit.AssumeRole(role_arn=arn))
            for arn in (ROLE_ARN, good_role)
        ]
        outcomes = await pool.fan_out(call, targets).collect()
    assert [o.status for o in outcomes] == [aiokit.Status.FAILED, aiokit.Status.OK]


def _regionless_role_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _role_profile(tmp_path, monkeypatch, ROLE_ARN)
    config = tmp_path / "config"
    config.write_text(config.read_text().replace("region = us-east-1\n", ""))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)


async def test_a_profiles_role_hop_takes_the_pools_region_when_the_profile_has_none(
    sts: tuple[ScriptedSTS, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url = sts
    _regionless_role_profile(tmp_path, monkeypatch)
    async with aiokit.SessionPool(profile="member", endpoint_url=url, region="eu-west-1") as pool:
        client = await pool.client("sts")
        with anyio.fail_after(30):
            assert (await client.get_caller_identity())["Account"] == ACCOUNT
    assert len(server.assume_role_calls) == 1


async def test_an_unreadable_answer_is_an_endpoint_error_that_does_not_quote_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _assume_role_ok().body
    assert isinstance(whole, bytes)
    cut = whole.replace(b"scripted-secret", ODD_SECRET.encode())[:330]
    assert ODD_SECRET.encode() in cut  # what botocore's parser error would quote

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=cut, content_type="text/xml")

    _role_profile(tmp_path, monkeypatch, ROLE_ARN)
    async with serve_on_loopback(handle) as url:
        async with aiokit.SessionPool(profile="member", endpoint_url=url) as pool:
            client = await pool.client("sts")
            with anyio.fail_after(30), pytest.raises(aiokit.EndpointError) as info:
                await client.get_caller_identity()
    assert "could not be read" in str(info.value)
    for error in (info.value, info.value.__cause__, info.value.__context__):
        assert ODD_SECRET not in str(error) and ODD_SECRET not in repr(error)


_EC2_REGIONS = (
    '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
    "<requestId>r</requestId><regionInfo><item><regionName>us-east-1</regionName>"
    "<regionEndpoint>ec2.us-east-1.amazonaws.com</regionEndpoint>"
    "<optInStatus>opt-in-not-required</optInStatus></item></regionInfo>"
    "</DescribeRegionsResponse>"
)


@pytest.mark.parametrize(
    ("status", "code"), [(500, "InternalFailure"), (403, "InvalidClientTokenId")]
)
async def test_an_account_sts_cannot_reach_is_failed_targets_not_an_empty_discovery(
    status: int, code: str
) -> None:
    broken = "222222222222"

    async def handle(request: web.Request) -> web.Response:
        params = urllib.parse.parse_qs((await request.read()).decode())
        action = params["Action"][0]
        if action == "DescribeRegions":
            return web.Response(body=_EC2_REGIONS.encode(), content_type="text/xml")
        if action == "GetCallerIdentity":
            return _caller_identity()
        assert action == "AssumeRole", action
        return _sts_error(status, code) if broken in params["RoleArn"][0] else _assume_role_ok()

    async def call(ctx: aiokit.Context) -> Any:
        return await (await ctx.client("sts")).get_caller_identity()

    async with serve_on_loopback(handle) as url, _pool(url, retry=_quick_retries()) as pool:
        targets = await pool.targets([ACCOUNT, broken], regions="enabled", role="R")
        assert {t.account for t in targets} == {ACCOUNT, broken}
        with anyio.fail_after(60):
            outcomes = await pool.fan_out(call, targets).collect()
    for outcome in outcomes:
        expected = aiokit.Status.FAILED if outcome.target.account == broken else aiokit.Status.OK
        assert outcome.status is expected, outcome
        if outcome.status is aiokit.Status.FAILED:
            assert code in str(outcome.error)
