"""Bad options to SessionPool and its client(): an aiokit error naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config

import aiokit
from aiokit.testing import TEST_CREDENTIALS

pytestmark = pytest.mark.anyio

# (options, the error class, a fragment of its message)
POOL_OPTIONS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"config": {"retries": {"max_attempts": 3}}}, aiokit.ConfigurationError, "config= must be"),
    ({"endpoint_url": "localhost:4566"}, aiokit.ConfigurationError, "endpoint_url='localhost"),
    ({"endpoint_url": "ftp://host"}, aiokit.ConfigurationError, "endpoint_url='ftp://host'"),
    ({"endpoint_url": 4566}, aiokit.ConfigurationError, "endpoint_url=4566"),
    ({"endpoint_url": "http://host:port"}, aiokit.ConfigurationError, "endpoint_url="),
    ({"endpoint_urls": {"s3": "host"}}, aiokit.ConfigurationError, "endpoint_urls['s3']"),
    ({"endpoint_urls": ["s3"]}, aiokit.ConfigurationError, "endpoint_urls= must map"),
    ({"region": 5}, aiokit.InvalidRegionError, "region=5"),
    ({"region": "not a region"}, aiokit.InvalidRegionError, "region='not a region'"),
    ({"credentials": "AKIA..."}, aiokit.ConfigurationError, "credentials= must be an identity"),
    ({"credentials": None, "profile": 5}, aiokit.ConfigurationError, "profile=5"),
    ({"credentials": None, "profile": ""}, aiokit.ConfigurationError, "profile=''"),
    ({"role": "no spaces allowed"}, aiokit.InvalidRoleError, "role='no spaces allowed'"),
    ({"role": 5}, aiokit.InvalidRoleError, "role=5"),
    ({"concurrency": 0}, aiokit.ConfigurationError, "concurrency=0"),
    ({"concurrency": "64"}, aiokit.ConfigurationError, "concurrency='64'"),
    ({"concurrency": 1.5}, aiokit.ConfigurationError, "concurrency=1.5"),
    ({"max_clients": 0}, aiokit.ConfigurationError, "max_clients=0"),
    ({"sts_concurrency": True}, aiokit.ConfigurationError, "sts_concurrency=True"),
    ({"refresh_before": -1}, aiokit.ConfigurationError, "refresh_before=-1"),
    ({"refresh_before": "900"}, aiokit.ConfigurationError, "refresh_before='900'"),
    ({"retry": {"max_attempts": 3}}, aiokit.ConfigurationError, "retry= must be"),
    ({"retry_mode": "fast"}, aiokit.ConfigurationError, "retry_mode 'fast'"),
    ({"quotas": {"ec2": 5}}, aiokit.ConfigurationError, "quotas['ec2']=5"),
    ({"quotas": {("ec2", None): (0, 10)}}, aiokit.ConfigurationError, "positive numbers"),
]


@pytest.mark.parametrize(
    ("options", "error", "fragment"), POOL_OPTIONS, ids=[f[2] for f in POOL_OPTIONS]
)
def test_bad_pool_options_are_refused_by_name(
    options: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    options = {"credentials": TEST_CREDENTIALS, "region": "us-east-1", **options}
    if options["credentials"] is None:
        del options["credentials"]
    with pytest.raises(error) as info:
        aiokit.SessionPool(**options)
    assert isinstance(info.value, aiokit.AiokitError)
    assert fragment in str(info.value)


CLIENT_ARGUMENTS: list[tuple[tuple[Any, ...], dict[str, Any], type[Exception], str]] = [
    ((5,), {}, aiokit.UnknownServiceError, "service=5"),
    (("sqs", 5), {}, aiokit.InvalidRegionError, "region=5"),
    (("sqs",), {"account": 111122223333, "role": "R"}, aiokit.InvalidRoleError, "account="),
    (("sqs",), {"account": "1234", "role": "R"}, aiokit.InvalidRoleError, "12 digits"),
    (("sqs",), {"account": "111122223333", "role": "a b"}, aiokit.InvalidRoleError, "role="),
    (("sqs",), {"config": {"read_timeout": 5}}, aiokit.ConfigurationError, "config= must"),
    (("sqs",), {"endpoint_url": "nohost"}, aiokit.ConfigurationError, "endpoint_url='nohost'"),
    (("sqs",), {"identity": "AKIA"}, aiokit.ConfigurationError, "identity= must be"),
]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"),
    CLIENT_ARGUMENTS,
    ids=[c[3] for c in CLIENT_ARGUMENTS],
)
async def test_bad_client_arguments_are_refused_by_name(
    aiokit_pool: aiokit.SessionPool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
    fragment: str,
) -> None:
    for method in (aiokit_pool.client, aiokit_pool.resource):
        with pytest.raises(error) as info:
            await method(*args, **kwargs)
        assert fragment in str(info.value)


async def test_a_botocore_config_is_taken_as_an_aioconfig(moto_endpoint: str) -> None:
    async with aiokit.SessionPool(
        endpoint_url=moto_endpoint,
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
        config=Config(read_timeout=7),
    ) as pool:
        sqs = await pool.client("sqs", config=Config(connect_timeout=3))
        assert (sqs.meta.config.read_timeout, sqs.meta.config.connect_timeout) == (7, 3)
        await sqs.list_queues()


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: aiokit.StaticKeys("", "secret"), "access_key_id=...): expected a non-empty"),
        (lambda: aiokit.StaticKeys("AKIA", None), "secret_access_key=...)"),
        (lambda: aiokit.StaticKeys("AKIA", "s", session_token=""), "session_token=...)"),
        (lambda: aiokit.Profile(""), "Profile(name='')"),
        (lambda: aiokit.Profile(5), "Profile(name=5)"),
    ],
    ids=["empty key id", "no secret", "empty token", "empty profile", "int profile"],
)
def test_bad_identities_are_refused_by_name(make: Any, fragment: str) -> None:
    with pytest.raises(aiokit.ConfigurationError) as info:
        make()
    assert fragment in str(info.value)
    assert "secret'" not in str(info.value)
