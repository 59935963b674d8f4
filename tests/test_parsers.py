"""aiokit's XML parsers (``aiokit/_parsers.py``) give exactly botocore's results.

Responses are captured as botocore receives them (the ``before-parse`` event of a plain
aiobotocore client, not aiokit's) from a varied moto session and from the fake AWS
endpoint, then parsed by botocore's parser and by aiokit's; the two must be equal, key
order and types included.
"""

from __future__ import annotations

import copy
from typing import Any

import botocore.session
import pytest
from aiobotocore.parsers import PROTOCOL_PARSERS
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError

import aiokit
from aiokit._parsers import ParserFactory, parse_timestamp
from aiokit.testing import TEST_CREDENTIALS

pytestmark = pytest.mark.anyio

XML_PROTOCOLS = ("ec2", "query", "rest-xml")


async def _compare(captured: list[tuple[Any, dict[str, Any]]]) -> list[str]:
    """Parse every captured response both ways; return the names of those compared."""
    ours = ParserFactory()
    compared = []
    for operation, response in captured:
        protocol = operation.service_model.resolved_protocol
        if protocol not in XML_PROTOCOLS or operation.has_streaming_output:
            continue
        theirs = PROTOCOL_PARSERS[protocol](timestamp_parser=parse_timestamp)
        mine = ours.create_parser(protocol)
        assert type(mine) is not type(theirs)
        expected = await theirs.parse(copy.deepcopy(response), operation.output_shape)
        got = await mine.parse(copy.deepcopy(response), operation.output_shape)
        assert repr(got) == repr(expected), operation.name
        compared.append(f"{protocol}:{operation.name}:{response['status_code']}")
    return compared


async def test_moto_responses_parse_as_botocore_parses_them(moto_endpoint: str) -> None:
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
        session.create_client("ec2", **keys) as ec2,
        session.create_client("s3", **keys) as s3,
        session.create_client("iam", **keys) as iam,
        session.create_client("sns", **keys) as sns,
        session.create_client("sts", **keys) as sts,
        session.create_client("route53", **keys) as route53,
    ):
        # EC2 (ec2 protocol): instances with tags, network, volumes, key pairs.
        image = "ami-12c6146b"
        await ec2.run_instances(
            ImageId=image,
            MinCount=3,
            MaxCount=3,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "core"}]}
            ],
        )
        await ec2.create_key_pair(KeyName="k1")
        await ec2.create_volume(Size=8, AvailabilityZone="us-east-1a")
        for call in (
            ec2.describe_instances(),
            ec2.describe_vpcs(),
            ec2.describe_subnets(),
            ec2.describe_security_groups(),
            ec2.describe_regions(),
            ec2.describe_availability_zones(),
            ec2.describe_volumes(),
            ec2.describe_key_pairs(),
            ec2.describe_tags(),
        ):
            await call
        with pytest.raises(ClientError):
            await ec2.describe_instances(InstanceIds=["i-0000000000000dead"])
        # S3 (rest-xml): buckets, listings, tagging, a modelled error.
        await s3.create_bucket(Bucket="parsed")
        for key in ("a/1", "a/2", "b/3"):
            await s3.put_object(Bucket="parsed", Key=key, Body=b"x" * 10)
        await s3.put_bucket_tagging(
            Bucket="parsed", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        )
        for call in (
            s3.list_buckets(),
            s3.list_objects_v2(Bucket="parsed"),
            s3.list_objects_v2(Bucket="parsed", Delimiter="/"),
            s3.list_objects(Bucket="parsed", MaxKeys=2),
            s3.get_bucket_tagging(Bucket="parsed"),
            s3.get_bucket_location(Bucket="parsed"),
            s3.list_object_versions(Bucket="parsed"),
            s3.get_bucket_acl(Bucket="parsed"),  # Grantee Type is an XML attribute
        ):
            await call
        with pytest.raises(ClientError):
            await s3.list_objects_v2(Bucket="no-such-bucket")
        # IAM, SNS, STS (query protocol), with a modelled error.
        await iam.create_role(RoleName="r1", AssumeRolePolicyDocument="{}", Path="/x/")
        await iam.create_user(UserName="u1", Tags=[{"Key": "t", "Value": "1"}])
        for call in (iam.list_roles(), iam.get_role(RoleName="r1"), iam.list_users()):
            await call
        with pytest.raises(ClientError):
            await iam.get_role(RoleName="absent")
        topic = (await sns.create_topic(Name="t1"))["TopicArn"]
        await sns.list_topics()
        await sns.get_topic_attributes(TopicArn=topic)  # a map
        await sts.get_caller_identity()
        # Route 53 (rest-xml, nested structures).
        await route53.create_hosted_zone(Name="example.com", CallerReference="c1")
        await route53.list_hosted_zones()

    compared = await _compare(captured)
    assert len(compared) >= 30, compared
    assert {c.split(":")[0] for c in compared} == set(XML_PROTOCOLS)
    assert any(not c.endswith(":200") for c in compared)  # error responses too


async def test_fake_endpoint_pages_parse_as_botocore_parses_them() -> None:
    from benchmarks.fake_aws import FakeConfig
    from benchmarks.fake_aws.server import FakeAWSServer

    config = FakeConfig(items={"instances": 25, "tables": 0, "functions": 0, "buckets": 0})
    server = FakeAWSServer(config)
    account = config.member_accounts()[0]
    model = botocore.session.get_session().get_service_model("ec2")
    operation = model.operation_model("DescribeInstances")
    captured = []
    for token in (None, "instances-10", "instances-20"):
        fields = {"NextToken": token} if token else {}
        status, headers, body = server.render(
            "ec2", "DescribeInstances", account, "us-east-1", fields
        )
        response = {"status_code": status, "headers": headers, "body": body, "context": {}}
        captured.append((operation, response))
    assert len(await _compare(captured)) == 3


async def test_pool_listing_equals_a_plain_clients(moto_endpoint: str) -> None:
    """End to end: a pool client's parsed responses are a plain aiobotocore client's."""
    async with aiokit.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        ec2 = await pool.client("ec2")
        await ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2)
        ours = await ec2.describe_instances()
        ours_vpcs = await ec2.describe_vpcs()
    async with AioSession().create_client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id=TEST_CREDENTIALS.access_key_id,
        aws_secret_access_key=TEST_CREDENTIALS.secret_access_key,
    ) as plain:
        theirs = await plain.describe_instances()
        theirs_vpcs = await plain.describe_vpcs()
    for a, b in ((ours, theirs), (ours_vpcs, theirs_vpcs)):
        a.pop("ResponseMetadata")
        b.pop("ResponseMetadata")
        assert a == b
    assert len(ours["Reservations"][0]["Instances"]) == 2
