"""Truthful outcomes: every AWS error shape, in every kind of region, classified over HTTP.

A loopback endpoint answers each request the way AWS does (the service's own error
protocol), so the status and reason come from the same path a real crawl takes: botocore
parses the answer, aiokit translates it, the fan-out classifies it. ``skipped`` is only for
what cannot be visited by design; bad credentials are ``failed`` wherever they happen,
and "region disabled" is only believable in an opt-in region.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiobotocore.config import AioConfig
from aiohttp import web

import aiokit
from aiokit._exceptions import (
    DEFAULT_ENABLED_REGIONS,
    OPT_IN_REGIONS,
    is_opt_in_region,
    translate,
)
from aiokit._fleet.outcomes import classify
from aiokit.testing import TEST_CREDENTIALS, serve_on_loopback

pytestmark = pytest.mark.asyncio


# --- AWS-shaped error answers, per protocol -----------------------------------------------


def _json(code: str) -> tuple[str, str]:
    body = f'{{"__type": "com.amazonaws#{code}", "message": "injected"}}'
    return body, "application/x-amz-json-1.0"


def _ec2(code: str) -> tuple[str, str]:
    body = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>injected</Message></Error>"
        "</Errors><RequestID>r-1</RequestID></Response>"
    )
    return body, "text/xml"


def _query(code: str) -> tuple[str, str]:
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        f"<Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error>"
        "<RequestId>r-1</RequestId></ErrorResponse>"
    )
    return body, "text/xml"


def _s3(code: str) -> tuple[str, str]:
    body = f"<Error><Code>{code}</Code><Message>injected</Message><RequestId>r</RequestId></Error>"
    return body, "application/xml"


SHAPES = {"dynamodb": _json, "ec2": _ec2, "sts": _query, "s3": _s3}
CALLS = {
    "dynamodb": "list_tables",
    "ec2": "describe_instances",
    "sts": "get_caller_identity",
    "s3": "list_buckets",
}


@dataclass
class Script:
    """What the loopback endpoint answers: ``api`` errors, and optionally STS AssumeRole."""

    api: tuple[int, str, str] | None = None  # status, body, content type
    assume_role: tuple[int, str, str] | None = None
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if b"Action=AssumeRole" in body:
            if self.assume_role is not None:
                status, text, ctype = self.assume_role
                return web.Response(status=status, text=text, content_type=ctype)
            return web.Response(status=200, text=_ASSUMED, content_type="text/xml")
        assert self.api is not None
        status, text, ctype = self.api
        return web.Response(status=status, text=text, content_type=ctype)


_ASSUMED = (
    '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>'
    "<Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
    "<SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
    "<AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId>"
    "<Arn>arn:aws:sts::111122223333:assumed-role/R/x</Arn></AssumedRoleUser>"
    "</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
    "</AssumeRoleResponse>"
)


@pytest_asyncio.fixture
async def script() -> AsyncIterator[Script]:
    s = Script()
    async with serve_on_loopback(s.handle) as s.url:
        yield s


def _pool(url: str) -> aiokit.SessionPool:
    return aiokit.SessionPool(
        endpoint_url=url,
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        # One attempt: these tests are about classification, not retries.
        config=AioConfig(retries={"mode": "standard", "total_max_attempts": 1}),
        retry_mode="standard",
    )


async def _outcome(url: str, service: str, target: aiokit.Target) -> aiokit.Outcome[Any]:
    async def call(ctx: aiokit.Context) -> Any:
        client = await ctx.client(service)
        return await getattr(client, CALLS[service])()

    async with _pool(url) as pool:
        return (await pool.fan_out(call, [target]).collect())[0]


# (service, HTTP status, code, region, expected status, expected reason)
CODE_REGION_CASES = [
    # What a disabled opt-in region answers: skipped there, failed where it cannot be.
    ("ec2", 401, "AuthFailure", "af-south-1", "skipped", "region disabled"),
    ("ec2", 401, "AuthFailure", "me-central-1", "skipped", "region disabled"),
    ("ec2", 401, "AuthFailure", "us-east-1", "failed", "invalid credentials"),
    ("ec2", 401, "AuthFailure", "eu-west-1", "failed", "invalid credentials"),
    ("dynamodb", 400, "UnrecognizedClientException", "ap-east-1", "skipped", "region disabled"),
    ("dynamodb", 400, "UnrecognizedClientException", "us-east-1", "failed",
     "invalid credentials"),
    ("dynamodb", 400, "UnrecognizedClientException", "ap-southeast-2", "failed",
     "invalid credentials"),
    ("sts", 403, "InvalidClientTokenId", "il-central-1", "skipped", "region disabled"),
    ("sts", 403, "InvalidClientTokenId", "us-east-1", "failed", "invalid credentials"),
    ("sts", 403, "InvalidClientTokenId", "cn-north-1", "failed", "invalid credentials"),
    ("s3", 403, "InvalidAccessKeyId", "eu-south-1", "skipped", "region disabled"),
    ("s3", 403, "InvalidAccessKeyId", "us-west-2", "failed", "invalid credentials"),
    # Credentials AWS knows are wrong are wrong in every region, opt-in ones too.
    ("s3", 403, "SignatureDoesNotMatch", "us-east-1", "failed", "invalid credentials"),
    ("s3", 403, "SignatureDoesNotMatch", "af-south-1", "failed", "invalid credentials"),
    ("sts", 403, "SignatureDoesNotMatch", "eu-central-1", "failed", "invalid credentials"),
    ("sts", 400, "ExpiredToken", "us-east-1", "failed", "invalid credentials"),
    ("sts", 400, "ExpiredToken", "af-south-1", "failed", "invalid credentials"),
    ("dynamodb", 400, "ExpiredTokenException", "us-east-1", "failed", "invalid credentials"),
    ("s3", 400, "InvalidToken", "us-east-1", "failed", "invalid credentials"),
    # Denied by policy, or needing opt-in: skipped by design, in any region.
    ("dynamodb", 400, "AccessDeniedException", "us-east-1", "skipped", "access denied"),
    ("ec2", 403, "UnauthorizedOperation", "af-south-1", "skipped", "access denied"),
    ("s3", 403, "AccessDenied", "us-east-1", "skipped", "access denied"),
    ("ec2", 401, "OptInRequired", "us-east-1", "skipped", "opt-in required"),
    ("dynamodb", 400, "SubscriptionRequiredException", "eu-west-1", "skipped",
     "subscription required"),
    # Everything else failed.
    ("dynamodb", 400, "ThrottlingException", "us-east-1", "failed", "throttled"),
    ("dynamodb", 500, "InternalServerError", "af-south-1", "failed",
     "error: InternalServerError"),
    ("ec2", 400, "InvalidParameterValue", "us-east-1", "failed", "error: InvalidParameterValue"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("service", "status", "code", "region", "verdict", "reason"),
    CODE_REGION_CASES,
    ids=[f"{c[0]}-{c[2]}-{c[3]}" for c in CODE_REGION_CASES],
)
async def test_each_error_code_in_each_kind_of_region_has_a_truthful_outcome(
    script: Script, service: str, status: int, code: str, region: str, verdict: str, reason: str
) -> None:
    body, ctype = SHAPES[service](code)
    script.api = (status, body, ctype)
    outcome = await _outcome(script.url, service, aiokit.Target(None, region))
    assert (outcome.status.value, outcome.reason) == (verdict, reason)
    assert outcome.error is not None and code in str(outcome.error)


# (AssumeRole answer: HTTP status, code; expected status, reason)
ASSUME_ROLE_CASES = [
    (403, "AccessDenied", "skipped", "role not assumable"),
    (403, "RegionDisabledException", "skipped", "role not assumable"),
    (403, "InvalidClientTokenId", "failed", "invalid credentials"),
    (403, "SignatureDoesNotMatch", "failed", "invalid credentials"),
    (400, "ExpiredToken", "failed", "invalid credentials"),
    (400, "Throttling", "failed", "throttled"),
]


@pytest.mark.parametrize(
    ("status", "code", "verdict", "reason"),
    ASSUME_ROLE_CASES,
    ids=[c[1] for c in ASSUME_ROLE_CASES],
)
@pytest.mark.parametrize("region", ["us-east-1", "af-south-1"])
async def test_a_role_is_skipped_only_when_sts_refuses_it_by_design(
    script: Script, status: int, code: str, verdict: str, reason: str, region: str
) -> None:
    # The source keys being bad is not the role's fault, whatever the target's region.
    script.assume_role = (status, *_query(code))
    script.api = (200, '{"TableNames": []}', "application/x-amz-json-1.0")
    target = aiokit.Target.assume("111122223333", region, "Reader")
    outcome = await _outcome(script.url, "dynamodb", target)
    assert (outcome.status.value, outcome.reason) == (verdict, reason)


async def test_an_sts_outage_on_assume_role_is_a_failure_not_a_skip(script: Script) -> None:
    script.assume_role = (500, *_query("InternalFailure"))
    script.api = (200, '{"TableNames": []}', "application/x-amz-json-1.0")
    target = aiokit.Target.assume("111122223333", "us-east-1", "Reader")
    outcome = await _outcome(script.url, "dynamodb", target)
    assert outcome.status is aiokit.Status.FAILED
    assert outcome.reason is not None and "InternalFailure" in str(outcome.error)


async def test_a_crawl_reports_bad_keys_as_failed_and_a_disabled_opt_in_region_as_skipped(
    script: Script,
) -> None:
    script.api = (400, *_json("UnrecognizedClientException"))
    targets = [aiokit.Target(None, r) for r in ("us-east-1", "af-south-1", "eu-west-1")]
    async with _pool(script.url) as pool:
        _, report = await pool.crawl("dynamodb", "list_tables", targets).collect()
    assert report.counts == {"failed": 2, "skipped": 1}
    assert report.reasons == {"invalid credentials": 2, "region disabled": 1}
    assert {o.target.region for o in report.failed} == {"us-east-1", "eu-west-1"}


async def test_credential_answers_are_invalid_credentials_errors_and_still_client_errors(
    script: Script,
) -> None:
    from botocore.exceptions import ClientError

    script.api = (403, *_query("InvalidClientTokenId"))
    async with _pool(script.url) as pool:
        sts = await pool.client("sts")
        with pytest.raises(aiokit.InvalidCredentialsError) as caught:
            await sts.get_caller_identity()
    assert isinstance(caught.value, ClientError)
    assert isinstance(caught.value, aiokit.AWSError)
    assert isinstance(caught.value, aiokit.CredentialsError)
    assert not isinstance(caught.value, aiokit.AccessDeniedError)
    assert "GetCallerIdentity in us-east-1" in str(caught.value)


def test_opt_in_regions_are_the_commercial_regions_not_enabled_by_default() -> None:
    from botocore.loaders import create_loader

    endpoints = create_loader().load_data("endpoints")
    commercial = next(p for p in endpoints["partitions"] if p["partition"] == "aws")
    # A region botocore learns of later must be added to one of the two tables.
    assert set(commercial["regions"]) == DEFAULT_ENABLED_REGIONS | OPT_IN_REGIONS
    assert not DEFAULT_ENABLED_REGIONS & OPT_IN_REGIONS
    assert all(is_opt_in_region(r) for r in OPT_IN_REGIONS)
    assert not any(is_opt_in_region(r) for r in DEFAULT_ENABLED_REGIONS)
    # Regions of other partitions can never be disabled; an unknown new commercial one can.
    for region in ("cn-north-1", "us-gov-west-1", "us-iso-east-1", "eu-isoe-west-1", None):
        assert not is_opt_in_region(region)
    assert is_opt_in_region("ap-newplace-1")


def test_classify_uses_the_targets_region_over_the_errors() -> None:
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "AuthFailure", "Message": "x"}}, "DescribeInstances")
    exc = translate(error, service="ec2", operation="DescribeInstances", region=None)
    assert classify(exc) == (aiokit.Status.FAILED, "invalid credentials")
    assert classify(exc, "af-south-1") == (aiokit.Status.SKIPPED, "region disabled")
    assert classify(exc, "us-east-1") == (aiokit.Status.FAILED, "invalid credentials")
