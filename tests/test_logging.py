"""aiokit.logging: the JSON formatter read back, the lifecycle records, the CLI's options."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import aiokit
import aiokit.logging
from aiokit.testing import FakeOrganization

pytestmark = pytest.mark.asyncio

ROLE = "OrganizationAccountAccessRole"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every aiokit record from INFO (DEBUG for calls), as JSON lines in a string."""
    stream = io.StringIO()
    handler = aiokit.logging.handler("json", stream)
    logger = logging.getLogger("aiokit")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def _queue_or_fail(ctx: aiokit.Context) -> int:
    sqs = await ctx.client("sqs")
    if ctx.target.region == "eu-west-1":  # a queue that does not exist: a failed target
        await sqs.get_queue_url(QueueName="no-such-queue")
    answer = await sqs.list_queues()
    return len(answer.get("QueueUrls", []))


async def test_json_records_of_a_fan_out_parse_back_with_their_fields(
    fake_organization: FakeOrganization, captured: io.StringIO
) -> None:
    accounts = fake_organization.account_ids[:2]
    targets = [
        aiokit.Target.assume(a, r, ROLE) for a in accounts for r in ("us-east-1", "eu-west-1")
    ]
    async with aiokit.SessionPool(
        endpoint_url=fake_organization.endpoint_url,
        region="us-east-1",
        credentials=aiokit.StaticKeys("AKIAIOSFODNN7EXAMPLE", SECRET),
        role=ROLE,
    ) as pool:
        outcomes = await pool.fan_out(_queue_or_fail, targets, concurrency=2).collect()
    assert sorted(o.status.value for o in outcomes) == ["failed", "failed", "ok", "ok"]
    records = _records(captured)
    text = captured.getvalue()
    assert SECRET not in text and "AKIAIOSFODNN7EXAMPLE" not in text

    lifecycle = [r for r in records if r["logger"] == "aiokit.fleet"]
    assert lifecycle[0]["event"] == "started"
    assert lifecycle[0]["targets"] == 4 and lifecycle[0]["level"] == "INFO"
    finished = lifecycle[-1]
    assert finished["event"] == "finished"
    assert (finished["ok"], finished["skipped"], finished["failed"]) == (2, 0, 2)
    failed = [r for r in lifecycle if r["event"] == "target"]
    assert {(r["account"], r["region"], r["status"]) for r in failed} == {
        (a, "eu-west-1", "failed") for a in accounts
    }
    assert all(r["error_code"] == "AWS.SimpleQueueService.NonExistentQueue" for r in failed)
    assert all(r["reason"].startswith("error") for r in failed)

    every_call = [r for r in records if r["logger"] == "aiokit" and "duration" in r]
    assert any(r["service"] == "sts" and r["operation"] == "AssumeRole" for r in every_call)
    calls = [r for r in every_call if r["service"] == "sqs"]
    assert {r["operation"] for r in calls} >= {"ListQueues", "GetQueueUrl"}
    for r in calls:
        assert {"time", "level", "message", "account", "region", "service", "attempt"} <= set(r)
        assert r["level"] == "DEBUG" and r["account"] in accounts
        assert r["time"].endswith("Z")
    assert any(r.get("request_id") for r in calls)
    assert {r.get("error_code") for r in calls if r["operation"] == "GetQueueUrl"} == {
        "AWS.SimpleQueueService.NonExistentQueue"
    }


def test_the_json_formatter_redacts_and_keeps_the_exception() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("aiokit.test-json")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(aiokit.logging.JSONFormatter())  # no RedactSecrets filter: still clean
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"refresh failed for token={TOKEN}")
        except RuntimeError:
            logger.error("sending %s", f"X-Amz-Security-Token: {TOKEN}", exc_info=True)
    finally:
        logger.removeHandler(handler)
    (record,) = _records(stream)
    assert TOKEN not in stream.getvalue()
    assert record["level"] == "ERROR" and record["logger"] == "aiokit.test-json"
    assert record["message"] == "sending X-Amz-Security-Token: ***"
    assert record["exception"]["type"] == "RuntimeError"
    assert "Traceback" in record["exception"]["traceback"]


@pytest.mark.parametrize("fmt", ["yaml", "", 5, None], ids=["yaml", "empty", "int", "none"])
def test_handler_refuses_a_format_it_does_not_know(fmt: Any) -> None:
    with pytest.raises(aiokit.ConfigurationError, match="format must be 'text' or 'json'"):
        aiokit.logging.handler(fmt)


def test_nothing_is_logged_unless_the_application_asks() -> None:
    assert logging.getLogger("aiokit").handlers == []
    assert logging.getLogger("aiokit").level == logging.NOTSET


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiokit.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


def test_cli_log_format_json_and_log_level_info(fake_organization: FakeOrganization) -> None:
    result = _cli(
        "crawl", "sqs", "list_queues", "--accounts", "org", "--role", ROLE,
        "--regions", "us-east-1", "--endpoint-url", fake_organization.endpoint_url,
        "--region", "us-east-1", "--output", "jsonl", "--log-format", "json",
        "--log-level", "info",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    events = [r.get("event") for r in records if r["logger"] == "aiokit.fleet"]
    assert events[0] == "started" and events[-1] == "finished"
    finished = next(r for r in records if r.get("event") == "finished")
    assert finished["ok"] == len(fake_organization.account_ids)
    assert "crawl sqs list_queues finished" in finished["message"]
    assert not [r for r in records if r["level"] == "DEBUG"]  # info, not debug


def test_cli_log_level_is_checked(fake_organization: FakeOrganization) -> None:
    result = _cli("paginate", "sqs", "list_queues", "--log-level", "loud")
    assert result.returncode == 2
    assert "--log-level" in result.stderr and "Traceback" not in result.stderr


async def test_every_attempt_of_a_retried_call_has_its_debug_record(
    aws_faults: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from aiokit.testing import TEST_CREDENTIALS

    # A bucket of 1 refilled at 1/s and 40 % HTTP 500s: calls take several attempts.
    aws_faults.configure(throttle={"sqs": (1.0, 1.0)}, fail_rate=0.4, seed=3)
    caplog.set_level(logging.DEBUG, logger="aiokit")
    async with aiokit.SessionPool(
        endpoint_url=aws_faults.endpoint_url, region="eu-west-1", credentials=TEST_CREDENTIALS
    ) as pool:
        sqs = await pool.client("sqs")
        for _ in range(3):
            await sqs.list_queues()
        (scope,) = pool.statistics().scopes.values()
    attempts = [r for r in caplog.records if getattr(r, "attempt", None) is not None]
    attempts = [r for r in attempts if r.getMessage().startswith("attempt ")]
    assert len(attempts) == scope.requests == aws_faults.requests > 3  # one per HTTP attempt
    numbers = [r.attempt for r in attempts]
    assert max(numbers) > 1 and numbers.count(1) == 3  # each call starts at attempt 1
    outcomes = {r.getMessage().split(": ", 1)[1] for r in attempts}
    assert "HTTP 200" in outcomes and any(o.startswith("HTTP 5") for o in outcomes)
    assert any("Throttl" in o or "RequestThrottled" in o for o in outcomes), outcomes
    for record in attempts:
        assert record.getMessage().startswith(f"attempt {record.attempt} of ListQueues: ")
        assert (record.service, record.region, record.operation) == (
            "sqs",
            "eu-west-1",
            "ListQueues",
        )
