"""Secrets stay out of aiokit's messages, reprs and log records, whatever the caller does.

Over real HTTP to moto: a pool with recognisable keys and session token crawls an
organization through roles with an external id, with every logger at DEBUG; then nothing
aiokit itself logs, raises or shows contains any of them, nor the role credentials moto
handed out. (botocore's own DEBUG records do carry them: that is botocore's output.)
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

import aiokit
from aiokit.testing import FakeOrganization

pytestmark = pytest.mark.asyncio

SECRET_KEY = "hostile-secret-KEY-9f8e7d6c5b4a3210"
SESSION_TOKEN = "hostile-session-TOKEN-0123456789abcdef"
EXTERNAL_ID = "hostile-external-ID-42"
SECRET_VALUE = "hostile-secret-VALUE-hunter2"


def _text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


async def test_a_secret_passed_with_the_wrong_type_is_not_echoed(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """botocore's validation report prints the value; aiokit's error, and the botocore
    error it carries as its cause, name the parameter and the types only."""
    secrets = await aiokit_pool.client("secretsmanager")
    for params in (
        {"SecretString": SECRET_VALUE.encode()},  # bytes where a str is wanted
        {"SecretBinary": {"value": SECRET_VALUE}},
    ):
        with pytest.raises(aiokit.InvalidParameterError, match="Invalid type") as caught:
            await secrets.create_secret(Name="s", **params)
        assert SECRET_VALUE not in _text(caught.value)
        assert "SecretString" in str(caught.value) or "SecretBinary" in str(caught.value)
    pager = aiokit_pool.paginate(
        "secretsmanager", "list_secrets", Filters=[{"Key": "name", "Values": SECRET_VALUE}]
    )
    with pytest.raises(aiokit.InvalidParameterError, match=r"Filters\[0\]\.Values") as caught:
        async for _ in pager:
            pass
    assert SECRET_VALUE not in _text(caught.value)


async def test_aiokits_logs_reprs_and_errors_hold_no_credentials(
    fake_organization: FakeOrganization, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, botocore's included
    keys = aiokit.StaticKeys("AKIAHOSTILE000000000", SECRET_KEY, SESSION_TOKEN)
    shown: list[str] = [repr(keys)]
    async with aiokit.SessionPool(
        endpoint_url=fake_organization.endpoint_url, region="us-east-1", credentials=keys
    ) as pool:
        spec = aiokit.Organization(external_id=EXTERNAL_ID, with_tags=True)
        targets = await pool.targets(spec, regions=["us-east-1"])
        items, report = await pool.crawl("sqs", "list_queues", targets).collect()
        role_keys: list[str] = []
        for target in targets:  # what moto handed out for each role
            sqs = await pool.client("sqs", target.region, identity=target.identity)
            frozen = await sqs._request_signer._credentials.get_frozen_credentials()
            role_keys += [frozen.secret_key, frozen.token]
            shown.append(repr(sqs))
        ddb = await pool.client("dynamodb")
        try:
            await ddb.describe_table(TableName="absent")
        except aiokit.AWSError as exc:
            shown.append(_text(exc))
        shown += [repr(pool), repr(report), repr(spec), repr(targets), repr(items)]
        shown += [repr(t.identity) for t in targets]
        shown.append(repr(pool.statistics()))
    assert report.counts == {"ok": len(fake_organization.accounts)}
    ours: list[Any] = [r for r in caplog.records if r.name.split(".")[0] == "aiokit"]
    assert ours  # aiokit did log at DEBUG
    shown += [f"{r.getMessage()} {r.__dict__}" for r in ours]
    blob = "\n".join(shown)
    for secret in [SECRET_KEY, SESSION_TOKEN, EXTERNAL_ID, *role_keys]:
        assert secret not in blob
