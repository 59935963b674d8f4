"""aiokit's compiled JSON walks (json and rest-json protocols) give exactly botocore's results.

As ``tests/test_parsers.py`` does for XML: responses captured as botocore receives them
from a varied moto session, then hand-written bodies of synthetic shapes for the edge cases
(nulls, unions, documents, blobs, timestamps, recursion, malformed values); each parsed by
botocore's parser and by aiokit's, compared by ``repr`` (key order and types included).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from aiobotocore.parsers import PROTOCOL_PARSERS
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError

from aiokit._botocore.parsers import ParserFactory, parse_timestamp
from aiokit.testing import TEST_CREDENTIALS
from tests.test_parsers import _outcome

pytestmark = pytest.mark.asyncio

JSON_PROTOCOLS = ("json", "rest-json")


async def _compare(captured: list[tuple[Any, dict[str, Any]]]) -> list[str]:
    ours = ParserFactory()
    compared = []
    for operation, response in captured:
        protocol = operation.service_model.resolved_protocol
        if protocol not in JSON_PROTOCOLS or operation.has_streaming_output:
            continue
        theirs = PROTOCOL_PARSERS[protocol](timestamp_parser=parse_timestamp)
        mine = ours.create_parser(protocol)
        assert type(mine) is not type(theirs)
        expected = await theirs.parse(copy.deepcopy(response), operation.output_shape)
        got = await mine.parse(copy.deepcopy(response), operation.output_shape)
        assert repr(got) == repr(expected), operation.name
        compared.append(f"{protocol}:{operation.name}:{response['status_code']}")
    return compared


async def _dynamodb(ddb: Any) -> None:
    await ddb.create_table(
        TableName="parsed",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(12):
        await ddb.put_item(
            TableName="parsed",
            Item={
                "pk": {"S": f"k{i}"},
                "n": {"N": str(i * 1.5)},
                "b": {"B": b"\x00\x01bytes"},
                "ss": {"SS": ["a", "b"]},
                "ns": {"NS": ["1", "2.5"]},
                "bs": {"BS": [b"x", b"y"]},
                "m": {"M": {"inner": {"L": [{"S": "q"}, {"NULL": True}, {"BOOL": False}]}}},
            },
        )
    for call in (
        ddb.scan(TableName="parsed", Limit=5),
        ddb.scan(TableName="parsed"),
        ddb.query(
            TableName="parsed",
            KeyConditionExpression="pk = :k",
            ExpressionAttributeValues={":k": {"S": "k3"}},
        ),
        ddb.get_item(TableName="parsed", Key={"pk": {"S": "k1"}}),
        ddb.describe_table(TableName="parsed"),  # epoch timestamps
        ddb.list_tables(),
        ddb.batch_get_item(RequestItems={"parsed": {"Keys": [{"pk": {"S": "k2"}}]}}),
    ):
        await call
    with pytest.raises(ClientError):
        await ddb.describe_table(TableName="absent")


async def test_moto_json_responses_parse_as_botocore_parses_them(moto_endpoint: str) -> None:
    captured: list[tuple[Any, dict[str, Any]]] = []

    def capture(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        captured.append((operation_model, copy.deepcopy(response_dict)))

    session = AioSession()
    session.register("before-parse", capture)
    keys = {
        "aws_access_key_id": TEST_CREDENTIALS.access_key_id,
        "aws_secret_access_key": TEST_CREDENTIALS.secret_access_key,
        "region_name": "us-east-1",
        "endpoint_url": moto_endpoint,
    }
    async with (
        session.create_client("dynamodb", **keys) as ddb,
        session.create_client("sqs", **keys) as sqs,
        session.create_client("logs", **keys) as logs,
        session.create_client("kms", **keys) as kms,
        session.create_client("secretsmanager", **keys) as secrets,
        session.create_client("ecs", **keys) as ecs,
        session.create_client("lambda", **keys) as lam,
        session.create_client("apigateway", **keys) as apigw,
    ):
        await _dynamodb(ddb)
        url = (await sqs.create_queue(QueueName="q1", Attributes={"DelaySeconds": "1"}))["QueueUrl"]
        await sqs.send_message(QueueUrl=url, MessageBody="hi")
        await sqs.list_queues()
        await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        await sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])
        with pytest.raises(ClientError):
            await sqs.get_queue_url(QueueName="absent")
        await logs.create_log_group(logGroupName="/g1", tags={"t": "1"})
        await logs.describe_log_groups()
        key = (await kms.create_key(Description="k"))["KeyMetadata"]["KeyId"]
        await kms.list_keys()
        await kms.describe_key(KeyId=key)  # timestamps, enums, lists
        await secrets.create_secret(Name="s1", SecretString="x")
        await secrets.list_secrets()
        await ecs.create_cluster(clusterName="c1", tags=[{"key": "k", "value": "v"}])
        await ecs.list_clusters()
        await ecs.describe_clusters(clusters=["c1"], include=["TAGS"])
        await lam.list_functions()  # rest-json
        with pytest.raises(ClientError):
            await lam.get_function(FunctionName="absent")
        await apigw.create_rest_api(name="api1", tags={"a": "b"})
        await apigw.get_rest_apis()  # rest-json, timestamps

    compared = await _compare(captured)
    assert len(compared) >= 25, compared
    assert {c.split(":")[0] for c in compared} == set(JSON_PROTOCOLS)
    assert any(not c.endswith(":200") for c in compared)  # error responses too


SHAPES: dict[str, Any] = {
    "Output": {
        "type": "structure",
        "members": {
            "Name": {"shape": "String"},
            "Renamed": {"shape": "String", "locationName": "wire_name"},
            "Count": {"shape": "Integer"},
            "Ratio": {"shape": "Double"},
            "Flag": {"shape": "Boolean"},
            "When": {"shape": "Time"},
            "Data": {"shape": "Blob"},
            "Tags": {"shape": "TagList"},
            "Grid": {"shape": "Grid"},
            "Attrs": {"shape": "AttrMap"},
            "Times": {"shape": "TimeMap"},
            "Child": {"shape": "Output"},  # recursive
            "Choice": {"shape": "Choice"},
            "Doc": {"shape": "Doc"},
            "Header": {"shape": "String", "location": "header", "locationName": "x-h"},
        },
    },
    "String": {"type": "string"},
    "Integer": {"type": "integer"},
    "Double": {"type": "double"},
    "Boolean": {"type": "boolean"},
    "Time": {"type": "timestamp"},
    "Blob": {"type": "blob"},
    "Tag": {"type": "structure", "members": {"Key": {"shape": "String"}}},
    "TagList": {"type": "list", "member": {"shape": "Tag"}},
    "Row": {"type": "list", "member": {"shape": "Integer"}},
    "Grid": {"type": "list", "member": {"shape": "Row"}},
    "AttrMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Tag"}},
    "TimeMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Time"}},
    "Choice": {
        "type": "structure",
        "union": True,
        "members": {"A": {"shape": "String"}, "B": {"shape": "Integer"}},
    },
    "Doc": {"type": "structure", "members": {}, "document": True},
}

ENCODED = base64.b64encode(b"hi").decode()
BODIES: list[tuple[str, Any, str]] = [
    (
        "full",
        {
            "Name": "n",
            "wire_name": "w",
            "Count": 3,
            "Ratio": 0.5,
            "Flag": True,
            "When": 1700000000.5,
            "Data": ENCODED,
            "Tags": [{"Key": "a", "Extra": 1}, {}],
            "Grid": [[1, 2], [], [3]],
            "Attrs": {"x": {"Key": "k"}},
            "Times": {"t": "2026-12-01T10:00:00Z"},
            "Child": {"Child": {"Name": "deep"}},
            "Choice": {"A": "x"},
            "Doc": {"free": ["form", 1, None]},
        },
        "parsed",
    ),
    ("empty", {}, "parsed"),
    ("nulls", {"Name": None, "Tags": None, "Child": None, "Attrs": None, "Doc": None}, "parsed"),
    ("null inside a list", {"Tags": [None, {"Key": None}]}, "parsed"),
    ("null map value", {"Attrs": {"x": None}}, "parsed"),
    ("unknown members", {"Nope": 1, "Name": "n"}, "parsed"),
    ("one unknown member", {"Nope": 1}, "parsed"),
    ("one null member", {"Name": None}, "parsed"),
    (
        "a structure of one unknown member",
        {"Tags": [{"Extra": 1}], "Attrs": {"a": {"X": 1}}},
        "parsed",
    ),
    ("member read by its modelled name only", {"Renamed": "not the wire name"}, "parsed"),
    ("ISO timestamp", {"When": "2026-12-01T10:00:00.123Z"}, "parsed"),
    ("bad timestamp", {"When": "yesterday"}, "raised"),
    ("bad blob", {"Data": "***"}, "parsed"),  # base64 of nothing: b""
    ("union, unknown member", {"Choice": {"C": "x"}}, "parsed"),
    ("union, two members", {"Choice": {"A": "x", "B": 1}}, "raised"),
    ("union with __type", {"Choice": {"__type": "t", "B": 2}}, "parsed"),
    ("a string where a structure is", {"Child": "oops"}, "raised"),
    ("a dict where a list is", {"Tags": {"Key": "a"}}, "raised"),
    ("a string where a list of ints is", {"Grid": ["12"]}, "parsed"),
    ("a list where a map is", {"Attrs": [1]}, "raised"),
    ("wrong scalar types", {"Count": "3", "Flag": "true", "Ratio": "1.5"}, "parsed"),
    ("deep recursion", json.loads('{"Child": ' * 30 + '{"Name": "deep"}' + "}" * 30), "parsed"),
]


@pytest.fixture(scope="module")
def shape() -> Any:
    from botocore.model import ShapeResolver

    return ShapeResolver(SHAPES).get_shape_by_name("Output")


@pytest.mark.parametrize("protocol", JSON_PROTOCOLS)
@pytest.mark.parametrize("case", BODIES, ids=lambda case: case[0])
async def test_synthetic_json_bodies_parse_as_botocore_parses_them(
    shape: Any, protocol: str, case: tuple[str, Any, str]
) -> None:
    _, body, outcome = case
    response = {
        "status_code": 200,
        "headers": {"x-h": "header", "x-amzn-requestid": "r"},
        "body": json.dumps(body).encode(),
        "context": {},
    }
    theirs = PROTOCOL_PARSERS[protocol](timestamp_parser=parse_timestamp)
    mine = ParserFactory().create_parser(protocol)
    expected = await _outcome(theirs, response, shape)
    assert await _outcome(mine, response, shape) == expected
    assert expected[0] == outcome, expected


async def test_the_full_body_parses_to_the_expected_values(shape: Any) -> None:
    """A spot check that the comparisons compare something meaningful."""
    body = json.dumps(BODIES[0][1]).encode()
    response = {"status_code": 200, "headers": {"x-h": "h"}, "body": body, "context": {}}
    parsed = await ParserFactory().create_parser("json").parse(response, shape)
    assert parsed["Renamed"] == "w" and parsed["Data"] == b"hi"
    assert parsed["Tags"] == [{"Key": "a"}, {}]  # unknown members dropped
    assert parsed["Child"]["Child"] == {"Name": "deep"}
    assert parsed["When"].year == 2023 and parsed["Times"]["t"].year == 2026
    assert parsed["Doc"] == {"free": ["form", 1, None]}


async def test_the_compiled_walk_replaces_botocores_generic_walk(shape: Any) -> None:
    """A page goes through ``_parse_shape`` only where a walker falls back to botocore."""
    body = json.dumps({"Tags": [{"Key": str(i)} for i in range(50)], "Count": 1}).encode()
    response = {"status_code": 200, "headers": {}, "body": body, "context": {}}
    mine = ParserFactory().create_parser("json")
    calls = 0
    original = type(mine)._parse_shape

    def counting(self: Any, shape: Any, node: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(self, shape, node)

    type(mine)._parse_shape = counting  # type: ignore[method-assign]
    try:
        parsed = await mine.parse(response, shape)
    finally:
        del type(mine)._parse_shape
    assert len(parsed["Tags"]) == 50
    assert calls == 1  # the root; botocore's walk makes 103 (root, list, 50 tags, 50 keys, count)
