"""``aiokit.Listing``: a paginated request as a frozen, hashable, picklable, checked value."""

from __future__ import annotations

import copy
import datetime
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import aiokit
from aiokit import (
    ConfigurationError,
    InvalidParameterError,
    Listing,
    UnknownOperationError,
    UnknownServiceError,
)
from aiokit._botocore.paginate import encode_token
from aiokit._fleet.listings import FrozenParams

pytestmark = pytest.mark.asyncio

FILTERS = {"Filters": [{"Name": "tag:team", "Values": ["a", "b"]}], "OwnerIds": ["self"]}


def test_defaults_and_name() -> None:
    listing = Listing("ec2", "describe_instances")
    assert listing.service == "ec2"
    assert listing.operation == "describe_instances"
    assert listing.params == {}
    assert listing.key is None
    assert listing.name == "ec2.describe_instances"
    assert listing.account_wide is None


def test_camel_case_operation_is_kept_in_snake_case() -> None:
    camel = Listing("rds", "DescribeDBInstances")
    assert camel.operation == "describe_db_instances"
    assert camel.name == "rds.describe_db_instances"
    assert camel == Listing("rds", "describe_db_instances")
    assert hash(camel) == hash(Listing("rds", "describe_db_instances"))


def test_is_exported_and_says_where_it_lives() -> None:
    assert aiokit.Listing is Listing
    assert Listing.__module__ == "aiokit"
    assert Listing.checked.__doc__ and Listing.__doc__


def test_frozen() -> None:
    listing = Listing("ec2", "describe_snapshots", FILTERS)
    with pytest.raises(AttributeError, match="frozen"):
        listing.service = "s3"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del listing.name
    with pytest.raises(TypeError):
        listing.params["OwnerIds"] = ["123456789012"]  # type: ignore[index]
    # The nested values are frozen too: a list is a tuple, a dict a FrozenParams.
    assert isinstance(listing.params["OwnerIds"], tuple)
    assert isinstance(listing.params["Filters"][0], FrozenParams)


def test_the_caller_changing_its_dict_changes_nothing() -> None:
    params: dict[str, Any] = copy.deepcopy(FILTERS)
    listing = Listing("ec2", "describe_snapshots", params)
    params["OwnerIds"].append("amazon")
    params["Filters"][0]["Values"].clear()
    params["Extra"] = 1
    assert listing.params == FILTERS
    # request_params() gives a fresh plain copy each time: changing it changes nothing.
    first = listing.request_params()
    assert first == FILTERS and isinstance(first["Filters"][0]["Values"], list)
    first["Filters"][0]["Values"].append("c")
    assert listing.request_params() == FILTERS


def test_hashable_and_equal_by_value() -> None:
    a = Listing("ec2", "describe_snapshots", FILTERS)
    b = Listing("ec2", "describe_snapshots", copy.deepcopy(FILTERS))
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    different = [
        Listing("ec2", "describe_snapshots", {"OwnerIds": ["amazon"]}),
        Listing("ec2", "describe_snapshots", FILTERS, name="snapshots"),
        Listing("ec2", "describe_snapshots", FILTERS, account_wide=True),
        Listing("s3", "list_objects_v2", {"Bucket": "b"}, key="CommonPrefixes"),
        Listing("s3", "list_objects_v2", {"Bucket": "b"}),
    ]
    assert len({a, *different}) == 1 + len(different)
    assert a != ("ec2", "describe_snapshots")


async def test_pickles_with_every_field() -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    listing = Listing(
        "cloudtrail",
        "lookup_events",
        {
            "StartTime": when,
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "x"}],
        },
        name="trail events",
        account_wide=False,
    )
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(listing, protocol))
        assert back == listing and hash(back) == hash(listing)
        assert back.name == "trail events" and back.account_wide is False
        assert back.request_params()["StartTime"] == when
    assert copy.deepcopy(listing) == listing


def test_repr_is_short_and_never_shows_values() -> None:
    assert repr(Listing("ec2", "describe_instances")) == "aiokit.Listing(ec2.describe_instances)"
    secret = "hunter2-do-not-log"
    listing = Listing(
        "ec2",
        "describe_instances",
        {"Filters": [{"Name": "tag:token", "Values": [secret]}]},
        name="tokens",
    )
    text = repr(listing)
    assert secret not in text and secret not in repr(listing.params)
    assert text == "aiokit.Listing(ec2.describe_instances params=Filters as 'tokens')"
    assert len(text) < 80


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "words"),
    [
        (("", "list_users"), {}, UnknownServiceError, "service"),
        ((None, "list_users"), {}, UnknownServiceError, "service"),
        (("IAM", "list_users"), {}, UnknownServiceError, "lower-case"),
        (("iam", ""), {}, UnknownOperationError, "operation"),
        (("iam", 3), {}, UnknownOperationError, "operation"),
        (("iam", "list_users", ["Scope"]), {}, InvalidParameterError, "must be a dict"),
        (("iam", "list_users", "Scope=Local"), {}, InvalidParameterError, "must be a dict"),
        (("iam", "list_users", {3: "x"}), {}, InvalidParameterError, "parameter names"),
        (
            ("iam", "list_users", {"A": {1, 2}}),
            {},
            InvalidParameterError,
            r"params\['A'\] must be.*not set",
        ),
        (("iam", "list_users", {"A": [object()]}), {}, InvalidParameterError, r"\['A'\]\[0\]"),
        (("iam", "list_users"), {"key": ""}, InvalidParameterError, "key"),
        (("iam", "list_users"), {"name": 7}, ConfigurationError, "name"),
        (("iam", "list_users"), {"account_wide": "yes"}, ConfigurationError, "account_wide"),
        (("iam", "list_users"), {"account_wide": 1}, ConfigurationError, "account_wide"),
        (
            ("iam", "list_users", {"PaginationConfig": {"PageSize": 0}}),
            {},
            InvalidParameterError,
            "PageSize",
        ),
        (
            ("iam", "list_users", {"PaginationConfig": {"StartingToken": "x"}}),
            {},
            InvalidParameterError,
            "StartingToken",
        ),
        (
            ("iam", "list_users", {"PaginationConfig": {"MaxItem": 3}}),
            {},
            InvalidParameterError,
            "MaxItem",
        ),
    ],
    ids=lambda v: repr(v)[:40] if not isinstance(v, type) else v.__name__,
)
def test_bad_values_are_refused_at_construction(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        Listing(*args, **kwargs)


def test_a_list_holding_itself_is_refused_not_a_recursion_error() -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(InvalidParameterError, match="nested too deep"):
        Listing("ec2", "describe_instances", {"Filters": looped})


def test_unpickled_in_a_fresh_interpreter() -> None:
    """What a spawned worker does: find the classes by name in a new process."""
    listing = Listing("ec2", "describe_snapshots", FILTERS, name="snaps", account_wide=False)
    code = (
        "import pickle, sys\n"
        "value = pickle.loads(sys.stdin.buffer.read())\n"
        "print(repr(value), value.request_params(), value.is_global)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps(listing),
        capture_output=True,
        check=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(aiokit.__file__).parent.parent)},
    )
    assert done.stdout.decode().split("\n")[0] == (
        f"{listing!r} {listing.request_params()!r} False"
    )


def test_positional_only_where_the_signature_says() -> None:
    with pytest.raises(TypeError):
        Listing("iam", "list_users", {}, None)  # type: ignore[misc]


# --- checked(): botocore's models, as the crawl checks them ------------------------------


def test_checked_returns_the_listing() -> None:
    listing = Listing("ec2", "DescribeSnapshots", {"OwnerIds": ["self"]})
    assert listing.checked() is listing
    assert Listing("s3", "list_objects_v2", {"Bucket": "b"}, key="CommonPrefixes").checked()


@pytest.mark.parametrize(
    ("listing", "error", "words"),
    [
        (Listing("ec3", "describe_instances"), UnknownServiceError, "ec3"),
        (
            Listing("ec2", "describe_instancs"),
            UnknownOperationError,
            "ec2 has no operation 'describe_instancs'; did you mean describe_instances",
        ),
        (Listing("ec2", "run_instances"), UnknownOperationError, "RunInstances is not paginated"),
        (Listing("ec2", "describe_instances", {"Fitlers": []}), InvalidParameterError, "Fitlers"),
        (
            Listing("ec2", "describe_instances", {"MaxResults": "5"}),
            InvalidParameterError,
            "MaxResults",
        ),
        (
            Listing("s3", "list_objects_v2"),
            InvalidParameterError,
            "Missing required parameter.*Bucket",
        ),
        (
            Listing("s3", "list_objects_v2", {"Bucket": "b"}, key="Content"),
            InvalidParameterError,
            "result keys",
        ),
        (
            # A well-formed token, of another operation (S3's Marker, not EC2's NextToken).
            Listing(
                "ec2",
                "describe_instances",
                {"PaginationConfig": {"StartingToken": encode_token({"Marker": "m"})}},
            ),
            InvalidParameterError,
            "not a resume token of this operation",
        ),
    ],
    ids=lambda v: getattr(v, "name", None) or getattr(v, "__name__", "words"),
)
def test_checked_raises_what_the_crawl_raises(
    listing: Listing, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words) as caught:
        listing.checked()
    assert caught.value.service == listing.service  # type: ignore[attr-defined]
    if error is not UnknownServiceError:
        assert caught.value.operation is not None  # type: ignore[attr-defined]


async def test_checked_matches_the_crawl_on_the_same_mistake(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """The listing's check and the crawl's are one: same class, same message."""
    listing = Listing("ec2", "describe_instances", {"Fitlers": []})
    with pytest.raises(InvalidParameterError) as by_listing:
        listing.checked()
    crawl = aiokit_pool.crawl(
        listing.service,
        listing.operation,
        [aiokit.Target(None, "us-east-1")],
        **listing.request_params(),
    )
    with pytest.raises(InvalidParameterError) as by_crawl:
        async with crawl:
            pass
    assert str(by_crawl.value) == str(by_listing.value)


# --- is_global: botocore's endpoint data, and the override ------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "expected"),
    [
        ("iam", "list_users", True),
        ("route53", "list_hosted_zones", True),
        ("organizations", "list_accounts", True),
        ("cloudfront", "list_distributions", True),
        ("ec2", "describe_instances", False),
        ("dynamodb", "list_tables", False),
        # S3 is regional in the endpoint data; ListBuckets is account-wide only by override.
        ("s3", "list_buckets", False),
    ],
)
def test_is_global_comes_from_the_endpoint_data(
    service: str, operation: str, expected: bool
) -> None:
    assert Listing(service, operation).is_global is expected


def test_is_global_override() -> None:
    assert Listing("s3", "list_buckets", account_wide=True).is_global is True
    assert Listing("iam", "list_users", account_wide=False).is_global is False


def test_is_global_of_an_unknown_service_is_an_aiokit_error() -> None:
    with pytest.raises(UnknownServiceError, match="nosuchservice"):
        Listing("nosuchservice", "list_things").is_global  # noqa: B018


def test_is_global_uses_the_endpoint_prefix() -> None:
    """The endpoint data is keyed by endpoint prefix, not service name: a service whose
    prefix differs is still found (``stepfunctions`` is ``states`` there)."""
    assert Listing("stepfunctions", "list_state_machines").is_global is False
    assert Listing("route53domains", "list_domains").is_global is False
