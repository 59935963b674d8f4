"""aiokit's XML parsers (``aiokit/_botocore/parsers.py``) give exactly botocore's results
(the JSON ones: ``tests/test_parsers_json.py``).

Responses are captured as botocore receives them (the ``before-parse`` event of a plain
aiobotocore client, not aiokit's) from a varied moto session and from the fake AWS
endpoint, then parsed by botocore's parser and by aiokit's; the two must be equal, key
order and types included.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

import botocore.session
import pytest
from aiobotocore.parsers import PROTOCOL_PARSERS
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError

import aiokit
from aiokit._botocore.parsers import ParserFactory, parse_timestamp
from aiokit.testing import TEST_CREDENTIALS

if TYPE_CHECKING:
    from tests.conftest import PlainClient

pytestmark = pytest.mark.asyncio

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


async def test_pool_listing_equals_a_plain_clients(
    moto_endpoint: str, plain_client: PlainClient
) -> None:
    """End to end: a pool client's parsed responses are a plain aiobotocore client's."""
    async with aiokit.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        ec2 = await pool.client("ec2")
        await ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2)
        ours = await ec2.describe_instances()
        ours_vpcs = await ec2.describe_vpcs()
    async with plain_client("ec2") as plain:
        theirs = await plain.describe_instances()
        theirs_vpcs = await plain.describe_vpcs()
    for a, b in ((ours, theirs), (ours_vpcs, theirs_vpcs)):
        a.pop("ResponseMetadata")
        b.pop("ResponseMetadata")
        assert a == b
    assert len(ours["Reservations"][0]["Instances"]) == 2


# ---------------------------------------------------------------------------------------
# Hand-written bodies: the cases the compiled walk treats specially, each parsed by
# botocore's parser and by aiokit's, the outcome (result, or exception type and message)
# compared.
# ---------------------------------------------------------------------------------------


def _scrub(text: str) -> str:
    """``repr`` without object addresses: botocore hands out raw elements in some odd cases."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)


async def _outcome(parser: Any, response: dict[str, Any], shape: Any) -> tuple[Any, ...]:
    try:
        parsed = await parser.parse(copy.deepcopy(response), shape)
    except Exception as error:
        return ("raised", type(error).__name__, str(error))
    return ("parsed", _scrub(repr(parsed)))


async def _same_outcome(
    protocol: str,
    shape: Any,
    body: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> tuple[Any, ...]:
    """Parse ``body`` both ways; assert the outcomes are equal and return botocore's."""
    response = {
        "status_code": status,
        "headers": headers or {},
        "body": body.encode(),
        "context": {},
    }
    theirs = PROTOCOL_PARSERS[protocol](timestamp_parser=parse_timestamp)
    mine = ParserFactory().create_parser(protocol)
    expected = await _outcome(theirs, response, shape)
    assert await _outcome(mine, response, shape) == expected, body
    return expected


def _output(service: str, operation: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation).output_shape


def _shape(service: str, name: str) -> Any:
    return botocore.session.get_session().get_service_model(service).shape_for(name)


S3 = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
OBJECT = (
    "<Contents><Key>a/{n}</Key><LastModified>2024-01-15T10:20:30.000Z</LastModified>"
    '<ETag>"e{n}"</ETag>{checksums}<Size>{n}0</Size><StorageClass>STANDARD</StorageClass>'
    "<Owner><ID>o</ID></Owner></Contents>"
)
VERSION = (
    "<Version><Key>k{n}</Key><VersionId>v{n}</VersionId><IsLatest>{latest}</IsLatest>"
    "<LastModified>2024-01-15T10:20:30Z</LastModified><Size>{n}</Size></Version>"
)
MARKER = (
    "<DeleteMarker><Key>k{n}</Key><VersionId>d{n}</VersionId><IsLatest>true</IsLatest>"
    "</DeleteMarker>"
)
ENTRY = "<entry><key>{k}</key><value>{v}</value></entry>"

# (service, "output" operation or "shape" name, body, outcome: "parsed" or an exception name)
REAL_SHAPE_CASES: list[tuple[str, str, str, str]] = [
    # S3 (rest-xml): flattened lists, with one element and with several.
    (
        "s3",
        "output:ListObjectsV2",
        f"<ListBucketResult {S3}><Name>b</Name><KeyCount>1</KeyCount>"
        f"<IsTruncated>false</IsTruncated>"
        + OBJECT.format(n=1, checksums="<ChecksumAlgorithm>CRC32</ChecksumAlgorithm>")
        + "<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes></ListBucketResult>",
        "parsed",
    ),
    (
        "s3",
        "output:ListObjectsV2",
        f"<ListBucketResult {S3}><Name>b</Name><IsTruncated>true</IsTruncated>"
        + OBJECT.format(n=1, checksums="")
        + OBJECT.format(
            n=2,
            checksums="<ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
            "<ChecksumAlgorithm>SHA256</ChecksumAlgorithm>",
        )
        + "<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>"
        + OBJECT.format(n=3, checksums="")  # a flattened list's elements need not be adjacent
        + "<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes>"
        + "<NextContinuationToken>t</NextContinuationToken><MaxKeys>3</MaxKeys>"
        + "</ListBucketResult>",
        "parsed",
    ),
    ("s3", "output:ListObjectsV2", f"<ListBucketResult {S3}/>", "parsed"),
    (
        "s3",
        "output:ListObjectVersions",
        f"<ListVersionsResult {S3}><Name>b</Name>"
        + VERSION.format(n=1, latest="true")
        + MARKER.format(n=2)
        + VERSION.format(n=3, latest="false")
        + MARKER.format(n=4)
        + "<MaxKeys>10</MaxKeys></ListVersionsResult>",
        "parsed",
    ),
    (
        "s3",
        "output:ListObjectVersions",
        f"<ListVersionsResult {S3}>" + VERSION.format(n=1, latest="True") + "</ListVersionsResult>",
        "parsed",
    ),
    (
        "s3",
        "output:GetBucketTagging",
        f"<Tagging {S3}><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>"
        "<Tag><Key>e</Key><Value/></Tag></TagSet></Tagging>",
        "parsed",
    ),
    (
        "s3",
        "output:GetBucketAcl",
        f"<AccessControlPolicy {S3}><Owner><ID>o</ID></Owner><AccessControlList>"
        f'<Grant><Grantee {XSI} xsi:type="CanonicalUser"><ID>o</ID></Grantee>'
        "<Permission>FULL_CONTROL</Permission></Grant>"
        f'<Grant><Grantee {XSI} xsi:type="Group"><URI>http://acs/AllUsers</URI></Grantee>'
        "<Permission>READ</Permission></Grant>"
        "<Grant><Grantee><ID>untyped</ID></Grantee></Grant>"
        "</AccessControlList></AccessControlPolicy>",
        "parsed",
    ),
    # SNS (query): a map, well-formed and not.
    (
        "sns",
        "output:GetTopicAttributes",
        "<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes>"
        + ENTRY.format(k="Policy", v="{}")
        + ENTRY.format(k="Owner", v="1")
        + "<entry><key>Empty</key><value/></entry>"
        + "<entry><value>first</value><key>Swapped</key></entry>"
        + ENTRY.format(k="Owner", v="2")  # a repeated key: the last one wins
        + "</Attributes></GetTopicAttributesResult>"
        "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
        "</GetTopicAttributesResponse>",
        "parsed",
    ),
    (  # an entry without a value reuses the previous entry's (botocore's loop variables)
        "sns",
        "output:GetTopicAttributes",
        "<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes>"
        + ENTRY.format(k="a", v="1")
        + "<entry><key>b</key></entry></Attributes></GetTopicAttributesResult>"
        "</GetTopicAttributesResponse>",
        "parsed",
    ),
    (
        "sns",
        "output:GetTopicAttributes",
        "<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes>"
        "<entry><key>b</key></entry></Attributes></GetTopicAttributesResult>"
        "</GetTopicAttributesResponse>",
        "UnboundLocalError",
    ),
    (
        "sns",
        "output:GetTopicAttributes",
        "<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes>"
        "<entry><key>b</key><other>x</other></entry></Attributes></GetTopicAttributesResult>"
        "</GetTopicAttributesResponse>",
        "ResponseParserError",
    ),
    (
        "sns",
        "output:GetTopicAttributes",
        "<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes/>"
        "</GetTopicAttributesResult></GetTopicAttributesResponse>",
        "parsed",
    ),
    # IAM (query): a map of integers, a blob, a modelled error.
    (
        "iam",
        "output:GetAccountSummary",
        "<GetAccountSummaryResponse><GetAccountSummaryResult><SummaryMap>"
        + ENTRY.format(k="Users", v="3")
        + ENTRY.format(k="Roles", v="-1")
        + "</SummaryMap></GetAccountSummaryResult></GetAccountSummaryResponse>",
        "parsed",
    ),
    (
        "iam",
        "output:GetAccountSummary",
        "<GetAccountSummaryResponse><GetAccountSummaryResult><SummaryMap>"
        "<entry><key>Users</key><value/></entry>"
        "</SummaryMap></GetAccountSummaryResult></GetAccountSummaryResponse>",
        "ValueError",
    ),
    (
        "iam",
        "output:GetCredentialReport",
        "<GetCredentialReportResponse><GetCredentialReportResult>"
        "<Content>dXNlcixhcm4KYSxiCg==</Content><ReportFormat>text/csv</ReportFormat>"
        "<GeneratedTime>2024-01-15T10:20:30Z</GeneratedTime>"
        "</GetCredentialReportResult></GetCredentialReportResponse>",
        "parsed",
    ),
    (
        "iam",
        "output:GetCredentialReport",
        "<GetCredentialReportResponse><GetCredentialReportResult><Content/>"
        "</GetCredentialReportResult></GetCredentialReportResponse>",
        "parsed",
    ),
    (
        "iam",
        "output:GetCredentialReport",
        "<GetCredentialReportResponse><GetCredentialReportResult><Content>abc</Content>"
        "</GetCredentialReportResult></GetCredentialReportResponse>",
        "Error",  # binascii.Error: invalid base64
    ),
    (
        "iam",
        "output:GetCredentialReport",
        "<GetCredentialReportResponse><GetCredentialReportResult><GeneratedTime/>"
        "</GetCredentialReportResult></GetCredentialReportResponse>",
        "ValueError",
    ),
    # CloudWatch (query): doubles (NaN, exponents), a timestamp, a map of doubles.
    (
        "cloudwatch",
        "output:GetMetricStatistics",
        "<GetMetricStatisticsResponse><GetMetricStatisticsResult><Label>CPU</Label>"
        "<Datapoints><member><Timestamp>2024-01-15T10:20:30Z</Timestamp>"
        "<Average>1.5E2</Average><Sum>NaN</Sum><Minimum>-0</Minimum><Unit>Percent</Unit>"
        "<ExtendedStatistics><entry><key>p99</key><value>9.5</value></entry>"
        "</ExtendedStatistics></member><member><Maximum>1e400</Maximum></member>"
        "</Datapoints></GetMetricStatisticsResult></GetMetricStatisticsResponse>",
        "parsed",
    ),
    # CloudFormation, ELB (query): nested lists, booleans, lists of strings.
    (
        "cloudformation",
        "output:DescribeStacks",
        "<DescribeStacksResponse><DescribeStacksResult><Stacks><member>"
        "<StackName>s</StackName><CreationTime>2024-01-15T10:20:30.123Z</CreationTime>"
        "<StackStatus>CREATE_COMPLETE</StackStatus><DisableRollback>false</DisableRollback>"
        "<EnableTerminationProtection>true</EnableTerminationProtection>"
        "<Capabilities><member>CAPABILITY_IAM</member><member/></Capabilities>"
        "<Parameters><member><ParameterKey>k</ParameterKey><ParameterValue/></member>"
        "</Parameters><Outputs/><Tags><member><Key>t</Key><Value>v</Value></member></Tags>"
        "<DriftInformation><StackDriftStatus>NOT_CHECKED</StackDriftStatus>"
        "</DriftInformation></member></Stacks><NextToken>n</NextToken>"
        "</DescribeStacksResult></DescribeStacksResponse>",
        "parsed",
    ),
    (
        "elb",
        "output:DescribeLoadBalancers",
        "<DescribeLoadBalancersResponse><DescribeLoadBalancersResult>"
        "<LoadBalancerDescriptions><member><LoadBalancerName>lb</LoadBalancerName>"
        "<ListenerDescriptions><member><Listener><Protocol>HTTP</Protocol>"
        "<LoadBalancerPort>80</LoadBalancerPort><InstancePort>8080</InstancePort></Listener>"
        "<PolicyNames><member>p1</member><member>p2</member></PolicyNames></member>"
        "<member><PolicyNames/></member></ListenerDescriptions>"
        "<AvailabilityZones><member>us-east-1a</member></AvailabilityZones>"
        "<HealthCheck><Interval>30</Interval><Target>HTTP:80/</Target></HealthCheck>"
        "</member></LoadBalancerDescriptions></DescribeLoadBalancersResult>"
        "</DescribeLoadBalancersResponse>",
        "parsed",
    ),
    # EC2: children in EC2's order (not the model's), lists in lists, empty sets.
    (
        "ec2",
        "output:DescribeSecurityGroups",
        '<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        "<requestId>r</requestId><securityGroupInfo><item><ownerId>1</ownerId>"
        "<groupId>sg-1</groupId><groupName>g</groupName><groupDescription>d</groupDescription>"
        "<vpcId>vpc-1</vpcId><ipPermissions><item><ipProtocol>tcp</ipProtocol>"
        "<fromPort>22</fromPort><toPort>22</toPort><groups/><ipRanges><item>"
        "<cidrIp>10.0.0.0/8</cidrIp></item><item><cidrIp>0.0.0.0/0</cidrIp>"
        "<description>any</description></item></ipRanges><ipv6Ranges/>"
        "<prefixListIds/></item></ipPermissions><ipPermissionsEgress/>"
        "<tagSet><item><key>Name</key><value/></item></tagSet><unknownNewField>x"
        "</unknownNewField></item></securityGroupInfo></DescribeSecurityGroupsResponse>",
        "parsed",
    ),
    # Modelled errors (the structure is read from the error's root).
    (
        "iam",
        "shape:NoSuchEntityException",
        "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code>"
        "<Message>nope</Message></Error><RequestId>r</RequestId></ErrorResponse>",
        "parsed",
    ),
    (
        "route53",
        "shape:InvalidInput",
        '<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error>'
        "<Type>Sender</Type><Code>InvalidInput</Code><message>bad</message></Error>"
        "<RequestId>r</RequestId></ErrorResponse>",
        "parsed",
    ),
]


@pytest.mark.parametrize("case", REAL_SHAPE_CASES, ids=lambda case: case[1])
async def test_hand_written_bodies_of_real_shapes_parse_as_botocore_parses_them(
    case: tuple[str, str, str, str],
) -> None:
    service, target, body, outcome = case
    kind, name = target.split(":")
    shape = _output(service, name) if kind == "output" else _shape(service, name)
    protocol = botocore.session.get_session().get_service_model(service).resolved_protocol
    status = 400 if kind == "shape" else 200
    headers = {"x-amz-request-id": "r", "x-amz-id-2": "h"} if protocol == "rest-xml" else {}
    expected = await _same_outcome(protocol, shape, body, status, headers)
    assert expected[0 if outcome == "parsed" else 1] == outcome, expected


# A model exercising every shape feature the compiled walk distinguishes.
SYNTHETIC_SHAPES: dict[str, Any] = {
    "Output": {
        "type": "structure",
        "members": {
            "Name": {"shape": "String"},
            "Renamed": {"shape": "String", "locationName": "renamed-x"},
            "Count": {"shape": "Integer"},
            "Big": {"shape": "Long"},
            "Ratio": {"shape": "Float"},
            "Score": {"shape": "Double"},
            "Enabled": {"shape": "Boolean"},
            "When": {"shape": "Timestamp"},
            "Data": {"shape": "Blob"},
            "Letter": {"shape": "Character"},
            "Tags": {"shape": "TagList"},
            "Flat": {"shape": "StringList", "flattened": True},
            "FlatTags": {"shape": "TagList", "flattened": True},
            "FlatBare": {"shape": "BareTagList", "flattened": True},
            "Grid": {"shape": "Grid"},
            "Attrs": {"shape": "StringMap"},
            "Named": {"shape": "NamedMap"},
            "FlatMap": {"shape": "NamedMap", "flattened": True, "locationName": "Entry"},
            "Child": {"shape": "Output"},
            "Person": {"shape": "Person"},
            "People": {"shape": "PersonList"},
            "Choice": {"shape": "Choice"},
            "Twins": {"shape": "Twins"},
            "Header": {"shape": "String", "location": "header", "locationName": "x-h"},
            "Status": {"shape": "Integer", "location": "statusCode"},
            "Meta": {"shape": "StringMap", "location": "headers", "locationName": "x-meta-"},
            "Json": {
                "shape": "String",
                "location": "header",
                "locationName": "x-json",
                "jsonvalue": True,
            },
            "HeaderList": {"shape": "HeaderStrings", "location": "header", "locationName": "x-l"},
        },
    },
    "Failure": {
        "type": "structure",
        "exception": True,
        "members": {"Code": {"shape": "String"}, "Message": {"shape": "String"}},
    },
    "String": {"type": "string"},
    "Integer": {"type": "integer"},
    "Long": {"type": "long"},
    "Float": {"type": "float"},
    "Double": {"type": "double"},
    "Boolean": {"type": "boolean"},
    "Timestamp": {"type": "timestamp"},
    "Blob": {"type": "blob"},
    "Character": {"type": "character"},
    "Tag": {
        "type": "structure",
        "members": {"Key": {"shape": "String"}, "Value": {"shape": "String"}},
    },
    "TagList": {"type": "list", "member": {"shape": "Tag", "locationName": "item"}},
    "BareTagList": {"type": "list", "member": {"shape": "Tag"}},
    "StringList": {"type": "list", "member": {"shape": "String", "locationName": "FlatItem"}},
    "HeaderStrings": {"type": "list", "member": {"shape": "String"}},
    "IntegerList": {"type": "list", "member": {"shape": "Integer", "locationName": "n"}},
    "Grid": {"type": "list", "member": {"shape": "IntegerList", "locationName": "row"}},
    "StringMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
    "NamedMap": {
        "type": "map",
        "key": {"shape": "String", "locationName": "K"},
        "value": {"shape": "Tag", "locationName": "V"},
    },
    "Person": {
        "type": "structure",
        "members": {
            "Kind": {"shape": "String", "xmlAttribute": True, "locationName": "xsi:type"},
            "Plain": {"shape": "String", "xmlAttribute": True, "locationName": "plain"},
            "Name": {"shape": "String"},
        },
    },
    "PersonList": {"type": "list", "member": {"shape": "Person"}},
    "Choice": {
        "type": "structure",
        "union": True,
        "members": {"A": {"shape": "String"}, "B": {"shape": "Integer"}},
    },
    "Twins": {
        "type": "structure",
        "members": {
            "One": {"shape": "String", "locationName": "Same"},
            "Two": {"shape": "String", "locationName": "Same"},
        },
    },
}

FULL = (
    "<Name>n</Name><renamed-x>r</renamed-x><Count>-3</Count><Big>12345678901234</Big>"
    "<Ratio>0.5</Ratio><Score>1e3</Score><Enabled>true</Enabled>"
    "<When>2024-01-15T10:20:30+02:00</When><Data>aGk=</Data><Letter>c</Letter>"
    "<Tags><item><Key>a</Key><Value>1</Value></item><item><Key>b</Key></item></Tags>"
    "<FlatItem>x</FlatItem><FlatItem>y</FlatItem>"
    "<item><Key>f</Key></item><item><Value>g</Value></item>"
    "<FlatBare><Key>fb</Key></FlatBare><FlatBare><Key>fc</Key></FlatBare>"
    "<Grid><row><n>1</n><n>2</n></row><row/><row><n>3</n></row></Grid>"
    "<Attrs><entry><key>k</key><value>v</value></entry></Attrs>"
    "<Named><entry><K>k</K><V><Key>vk</Key></V></entry><entry><V/><K>k2</K></entry></Named>"
    "<Entry><K>e1</K><V><Value>1</Value></V></Entry><Entry><K>e2</K><V/></Entry>"
    "<Child><Name>c</Name><Child><Count>2</Count><Tags/></Child></Child>"
    f'<Person {XSI} xsi:type="T" plain="p"><Name>who</Name></Person>'
    "<People><member><Name>a</Name></member>"
    '<member plain="q"><plain>element wins</plain></member></People>'
    "<Choice><B>7</B></Choice><Twins><Same>s</Same></Twins>"
)
SYNTHETIC_BODIES: list[tuple[str, str, str]] = [
    # (id, body inside <Output>, outcome)
    ("full", FULL, "parsed"),
    (
        "reordered, unknown and namespaced tags",
        "<Unknown>u</Unknown><Twins><Same>s</Same></Twins><Unknown/>"
        "<Grid><row><n>1</n></row></Grid><Enabled>false</Enabled>"
        '<o:Name xmlns:o="urn:other">ns</o:Name><Count>1</Count>'
        "<x-h>located members are not read from the body</x-h><Status>5</Status>",
        "parsed",
    ),
    (
        "flattened, one element each",
        "<FlatItem>x</FlatItem><item><Key>f</Key></item><FlatBare/><Entry><K>e</K><V/></Entry>",
        "parsed",
    ),
    (
        "empty elements",
        "<Name/><renamed-x></renamed-x><Enabled/><Data/><Letter/><Tags/><FlatItem/>"
        "<Grid><row/></Grid><Attrs/><Named/><Child/><Person/><People/>",
        "parsed",
    ),
    ("empty integer", "<Count/>", "ValueError"),
    ("empty float", "<Ratio/>", "ValueError"),
    ("empty timestamp", "<When/>", "ValueError"),
    ("bad blob", "<Data>a</Data>", "Error"),
    ("booleans are 'true' only", "<Enabled>True</Enabled>", "parsed"),
    ("repeated string", "<Name>a</Name><Count>1</Count><Name>b</Name>", "parsed"),
    ("repeated integer", "<Count>1</Count><Count>2</Count>", "TypeError"),
    ("repeated structure", "<Child><Name>a</Name></Child><Child><Name>b</Name></Child>", "parsed"),
    ("repeated structure with attributes", "<Person/><Person/>", "AttributeError"),
    ("repeated list", "<Tags><item><Key>a</Key></item></Tags><Tags/>", "parsed"),
    (
        "repeated map",
        "<Attrs><entry><key>a</key><value>1</value></entry></Attrs><Attrs/>",
        "ResponseParserError",  # botocore reads each <Attrs> as an entry
    ),
    ("union, unknown member", "<Choice><C>x</C></Choice>", "parsed"),
    ("union, two members", "<Choice><A>x</A><B>1</B></Choice>", "ResponseParserError"),
    ("flattened map, entry without value", "<Entry><K>e</K></Entry>", "UnboundLocalError"),
    ("map, unknown tag", "<Named><entry><K>e</K><X/></entry></Named>", "ResponseParserError"),
    ("deep recursion", "<Child>" * 30 + "<Name>deep</Name>" + "</Child>" * 30, "parsed"),
]
RESPONSE_HEADERS = {
    "x-h": "header",
    "x-meta-a": "1",
    "x-json": "eyJhIjogMX0=",
    "x-l": "a, b",
    "x-amz-request-id": "r",
}


@pytest.fixture(scope="module")
def synthetic() -> Any:
    from botocore.model import ShapeResolver

    return ShapeResolver(SYNTHETIC_SHAPES)


@pytest.mark.parametrize("protocol", XML_PROTOCOLS)
@pytest.mark.parametrize("case", SYNTHETIC_BODIES, ids=lambda case: case[0])
async def test_synthetic_shapes_parse_as_botocore_parses_them(
    synthetic: Any, protocol: str, case: tuple[str, str, str]
) -> None:
    _, inner, outcome = case
    body = f'<Output xmlns="urn:test">{inner}</Output>'
    shape = synthetic.get_shape_by_name("Output")
    expected = await _same_outcome(protocol, shape, body, 200, RESPONSE_HEADERS)
    assert expected[0 if outcome == "parsed" else 1] == outcome, expected


@pytest.mark.parametrize("protocol", XML_PROTOCOLS)
async def test_synthetic_modelled_errors_parse_as_botocore_parses_them(
    synthetic: Any, protocol: str
) -> None:
    shape = synthetic.get_shape_by_name("Failure")
    error = "<Error><Code>c</Code><Message>m</Message></Error>"
    for body in (
        f"<ErrorResponse>{error}<RequestId>r</RequestId></ErrorResponse>",
        f"<Response><Errors>{error}</Errors><RequestID>r</RequestID></Response>",
        error,
    ):
        expected = await _same_outcome(protocol, shape, body, 400, {"x-amz-request-id": "r"})
        assert expected[0] == "parsed"


async def test_full_synthetic_body_parses_to_the_expected_values(synthetic: Any) -> None:
    """A spot check that the comparisons above compare something meaningful."""
    shape = synthetic.get_shape_by_name("Output")
    body = f'<Output xmlns="urn:test">{FULL}</Output>'.encode()
    response = {"status_code": 200, "headers": RESPONSE_HEADERS, "body": body, "context": {}}
    parsed = await ParserFactory().create_parser("rest-xml").parse(response, shape)
    assert list(parsed)[:5] == ["ResponseMetadata", "Header", "Status", "Meta", "Json"]
    assert parsed["Flat"] == ["x", "y"]
    assert parsed["FlatTags"] == [{"Key": "f"}, {"Value": "g"}]
    assert parsed["Grid"] == [[1, 2], [], [3]]
    assert parsed["FlatMap"] == {"e1": {"Value": "1"}, "e2": {}}
    assert parsed["Person"] == {"Kind": "T", "Plain": "p", "Name": "who"}
    assert parsed["People"] == [{"Name": "a"}, {"Plain": "element wins"}]
    assert parsed["Twins"] == {"One": "s", "Two": "s"}
    assert parsed["Data"] == b"hi"
    assert parsed["Child"]["Child"] == {"Count": 2, "Tags": []}


async def test_compiled_walk_replaces_botocores_generic_walk() -> None:
    """An EC2 page goes through ``_parse_shape`` once (the result's root) and builds the
    generic name -> node dict only for the envelope: the walk below is the compiled one."""
    from benchmarks.fake_aws import FakeConfig
    from benchmarks.fake_aws.server import FakeAWSServer

    config = FakeConfig(items={"instances": 5, "tables": 0, "functions": 0, "buckets": 0})
    server = FakeAWSServer(config)
    status, headers, body = server.render(
        "ec2", "DescribeInstances", config.member_accounts()[0], "us-east-1", {}
    )
    parser = ParserFactory().create_parser("ec2")
    calls: list[str] = []
    for method in ("_parse_shape", "_build_name_to_xml_node"):
        original = getattr(parser, method)

        def spy(*args: Any, _original: Any = original, _method: str = method) -> Any:
            calls.append(_method)
            return _original(*args)

        setattr(parser, method, spy)
    response = {"status_code": status, "headers": headers, "body": body, "context": {}}
    parsed = await parser.parse(response, _output("ec2", "DescribeInstances"))
    assert len(parsed["Reservations"]) > 1
    assert calls.count("_parse_shape") == 1
    assert calls.count("_build_name_to_xml_node") == 1  # the ResponseMetadata lookup
