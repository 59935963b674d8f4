"""aiokit's errors pickle as they are: class, message, attributes.

An error made in a worker process (``runner=aiokit.Processes(n)``, a Dask worker) travels
to the driver by pickle; it must read there as it would have in-process.
"""

from __future__ import annotations

import pickle
import socket
from typing import Any

import botocore.exceptions
import pytest

import aiokit
from aiokit.testing import TEST_CREDENTIALS

pytestmark = pytest.mark.asyncio


def _again(exc: BaseException) -> Any:
    return pickle.loads(pickle.dumps(exc))


async def test_an_aws_error_of_a_modelled_class_arrives_as_it_left(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    sqs = await aiokit_pool.client("sqs")
    with pytest.raises(aiokit.AWSError) as caught:
        await sqs.get_queue_url(QueueName="no-such-queue")
    exc = caught.value
    assert type(exc).__name__ == "QueueDoesNotExist"  # botocore's modelled class, made at run time
    again = _again(exc)
    # that class exists only in the process whose client made it: it travels as its base
    assert type(again).__name__ == "ClientError"
    assert str(again) == str(exc) and vars(again) == vars(exc)
    assert "sqs GetQueueUrl in us-east-1" in str(again)  # aiokit's message, not botocore's
    assert isinstance(again, aiokit.AWSError)
    assert isinstance(again, botocore.exceptions.ClientError)  # its importable base
    assert again.code == exc.code and again.request_id == exc.request_id
    assert (again.service, again.operation, again.region) == ("sqs", "GetQueueUrl", "us-east-1")
    assert again.response == exc.response
    assert _again(again).code == exc.code  # and again


def test_each_category_of_aws_error_keeps_its_category() -> None:
    from aiokit._exceptions import translate

    for code, category in [
        ("AccessDenied", aiokit.AccessDeniedError),
        ("ThrottlingException", aiokit.ThrottlingError),
        ("InvalidClientTokenId", aiokit.InvalidCredentialsError),
        ("SomethingElse", aiokit.AWSError),
    ]:
        response = {
            "Error": {"Code": code, "Message": "no"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "r-1"},
        }
        error = botocore.exceptions.ClientError(response, "ListQueues")  # botocore's own
        exc = translate(error, service="sqs", region="eu-west-1", account="111111111111")
        again = _again(exc)
        assert isinstance(again, category) and isinstance(again, botocore.exceptions.ClientError)
        assert type(again) is type(exc)  # the same cached class in this process
        assert str(again) == str(exc) and "sqs ListQueues in eu-west-1" in str(again)
        assert (again.code, again.request_id, again.account) == (code, "r-1", "111111111111")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_endpoint_error_arrives_with_its_text_and_both_classes() -> None:
    async with aiokit.SessionPool(
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        retry=aiokit.RetrySettings(max_attempts=1),
    ) as pool:
        sqs = await pool.client("sqs")
        with pytest.raises(aiokit.EndpointError) as caught:
            await sqs.list_queues()
    exc = caught.value
    again = _again(exc)
    assert str(again) == str(exc)
    assert isinstance(again, aiokit.EndpointError)
    assert isinstance(again, botocore.exceptions.EndpointConnectionError)
    assert (again.service, again.region) == (exc.service, exc.region)
    # botocore's kwargs may hold the underlying exception: it travels as its text
    assert all(isinstance(v, str | int | float | bool | type(None)) for v in again.kwargs.values())


@pytest.mark.parametrize(
    "exc",
    [
        aiokit.ConfigurationError("bad region", region="xx-nowhere-1", service="sqs"),
        aiokit.AssumeRoleError(
            "cannot assume", code="AccessDenied", role_arn="arn:aws:iam::1:role/r", account="1"
        ),
        aiokit.WaiterFailed("failed", waiter="bucket_exists", reason="it said no", service="s3"),
        aiokit.WaiterTimeout("late", waiter="bucket_exists", last_response={"a": 1}),
        aiokit.MissingDependencyError("pip install 'aiokit[pandas]'"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_aiokit_errors_with_keyword_arguments_pickle(exc: aiokit.AiokitError) -> None:
    again = _again(exc)
    assert type(again) is type(exc)
    assert str(again) == str(exc) and again.args == exc.args
    assert vars(again) == vars(exc)
