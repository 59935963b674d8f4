"""``aiokit.inventory``: the catalogue against botocore's models and against moto, the spec
file loader and its hostile input, and ``select``.

The moto tests are parametrized over the catalogue: each entry's seeder makes a few
resources with the pool's clients, then the entry's listing runs with ``pool.paginate`` and
``search(records)``; the new records are counted and their primary keys must be non-empty,
unique, and the ones the seeder was given back. Entries moto cannot test are in
``UNTESTED`` with the reason, and the docs' "untested" table must say the same.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jmespath
import pytest

import aiokit
from aiokit import ConfigurationError, Listing
from aiokit.inventory import CATALOGUE, ResourceType, load_spec, select

pytestmark = pytest.mark.asyncio

DOCS = Path(__file__).resolve().parent.parent / "docs" / "guides" / "inventory.md"
REGION = "us-east-1"

# --- the catalogue as data ----------------------------------------------------------------

ISSUE_TYPES = (
    "ec2.instances ec2.vpcs ec2.subnets ec2.security_groups ec2.volumes ec2.snapshots "
    "ec2.images s3.buckets iam.users iam.roles iam.policies lambda.functions "
    "rds.db_instances rds.db_clusters dynamodb.tables sqs.queues sns.topics ecs.clusters "
    "eks.clusters cloudformation.stacks kms.keys logs.log_groups cloudwatch.alarms "
    "route53.hosted_zones elbv2.load_balancers autoscaling.groups secretsmanager.secrets "
    "ssm.parameters apigateway.rest_apis stepfunctions.state_machines ecr.repositories"
).split()


def test_the_catalogue_has_every_type_the_issue_lists() -> None:
    assert len(CATALOGUE) >= 30
    assert set(ISSUE_TYPES) <= set(CATALOGUE)


def test_every_entry_is_checked_against_botocore() -> None:
    """The whole catalogue through ``checked()`` (one test: each entry's failure listed)."""
    problems = []
    for name, entry in CATALOGUE.items():
        try:
            assert entry.checked() is entry
            assert entry.name == name == entry.listing.name
            assert entry.listing.service == name.partition(".")[0]
            assert entry.description and entry.description == entry.description.strip()
            jmespath.compile(entry.records)
            jmespath.compile(entry.primary_key)
        except Exception as exc:  # every bad entry, not just the first
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not problems, "\n".join(problems)


def test_global_entries() -> None:
    """IAM and Route 53 from the endpoint data; S3 buckets by the override; EC2 regional."""
    is_global = {name for name, entry in CATALOGUE.items() if entry.is_global}
    assert {"iam.users", "iam.roles", "route53.hosted_zones", "s3.buckets"} <= is_global
    assert CATALOGUE["s3.buckets"].listing.account_wide is True
    assert CATALOGUE["iam.users"].listing.account_wide is None  # derived, not hand-set
    assert not is_global & {"ec2.instances", "dynamodb.tables", "sqs.queues"}


def test_owned_by_self_and_local_scope() -> None:
    assert CATALOGUE["ec2.snapshots"].listing.params == {"OwnerIds": ["self"]}
    assert CATALOGUE["ec2.images"].listing.params == {"Owners": ["self"]}
    assert CATALOGUE["iam.policies"].listing.params == {"Scope": "Local"}


def test_listings_that_truncate_without_a_page_size_have_one() -> None:
    """SQS ListQueues without MaxResults stops at 1000 queues with no NextToken."""
    assert CATALOGUE["sqs.queues"].listing.params["PaginationConfig"] == {"PageSize": 1000}


def test_acm_lists_every_key_type() -> None:
    """ACM's default filter is RSA 1024/2048 only: the entry asks for every algorithm
    botocore's model knows."""
    from aiokit._botocore.loaders import shared_loader

    shapes = shared_loader().load_service_model("acm", "service-2")["shapes"]
    includes = CATALOGUE["acm.certificates"].listing.params["Includes"]
    assert set(includes["keyTypes"]) == set(shapes["KeyAlgorithm"]["enum"])


def test_the_catalogue_is_read_only_and_pickles() -> None:
    with pytest.raises(TypeError):
        CATALOGUE["ec2.x"] = CATALOGUE["ec2.vpcs"]  # type: ignore[index]
    entry = CATALOGUE["ec2.instances"]
    with pytest.raises(AttributeError):
        entry.records = "x"  # type: ignore[misc]
    back = pickle.loads(pickle.dumps(entry))
    assert back == entry and hash(back) == hash(entry)
    assert ResourceType.__module__ == "aiokit.inventory"
    assert repr(entry).startswith("aiokit.inventory.ResourceType('ec2.instances'")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "EC2.Instances"}, "service.type"),
        ({"name": "instances"}, "service.type"),
        ({"name": 3}, "service.type"),
        ({"listing": ("ec2", "describe_vpcs")}, "must be an aiokit.Listing"),
        ({"records": "Vpcs[?"}, "records is not a valid JMESPath"),
        ({"records": ""}, "records must be a JMESPath"),
        ({"primary_key": "VpcId)"}, "primary_key is not a valid JMESPath"),
        ({"primary_key": None}, "primary_key must be a JMESPath"),
        ({"description": 5}, "description must be a str"),
        ({"name": "vpc.vpcs"}, "is listed by 'ec2': its name must start with 'ec2.'"),
    ],
)
def test_resource_type_refuses_bad_fields(kwargs: dict[str, Any], words: str) -> None:
    fields: dict[str, Any] = {
        "name": "ec2.vpcs",
        "listing": Listing("ec2", "describe_vpcs"),
        "records": "Vpcs[]",
        "primary_key": "VpcId",
        **kwargs,
    }
    with pytest.raises(ConfigurationError, match=re.escape(words)):
        ResourceType(**fields)


@pytest.mark.parametrize(
    ("records", "primary_key", "words"),
    [
        ("Gateways[]", "TransitGatewayArn", "records: DescribeTransitGatewaysResult has no field"),
        ("TransitGateways[]", "Arn", "primary_key: TransitGateway has no field 'Arn'"),
        ("TransitGateways[].Options", "Asn", "primary_key: TransitGatewayOptions has no field"),
        ("TransitGateways[0]", "Options.Asn", "TransitGatewayOptions has no field 'Asn'"),
        ("TransitGateways[?State=='x']", "Nope", "TransitGateway has no field 'Nope'"),
    ],
)
def test_checked_finds_misspelt_fields(records: str, primary_key: str, words: str) -> None:
    entry = ResourceType(
        "ec2.tgw", Listing("ec2", "describe_transit_gateways"), records, primary_key
    )
    with pytest.raises(ConfigurationError, match=re.escape(words)):
        entry.checked()


@pytest.mark.parametrize(
    ("records", "primary_key"),
    [
        ("TransitGateways[?State=='available']", "TransitGatewayArn"),
        ("TransitGateways[0]", "Options.AmazonSideAsn"),
        ("TransitGateways[*]", "Tags[?Key=='Name'].Value | [0]"),  # a pipe: not followed
        ("length(TransitGateways)", "@"),  # a function: not followed
    ],
)
def test_checked_accepts_what_it_cannot_follow(records: str, primary_key: str) -> None:
    entry = ResourceType(
        "ec2.tgw", Listing("ec2", "describe_transit_gateways"), records, primary_key
    )
    assert entry.checked() is entry


def test_a_long_field_list_is_cut_short() -> None:
    entry = ResourceType(
        "ec2.x", Listing("ec2", "describe_instances"), "Reservations[].Instances[]", "Nope"
    )
    with pytest.raises(ConfigurationError, match=r"more\)\)$") as caught:
        entry.checked()
    assert len(str(caught.value)) < 400


# --- against moto -------------------------------------------------------------------------

# Entries moto (5.2) cannot test, and why: the docs' "untested" table lists the same.
UNTESTED: dict[str, str] = {
    "cloudwatch.composite_alarms": "no PutCompositeAlarm (answers it with a body botocore "
    "cannot parse), so no composite alarm can be made",
}

Seeder = Callable[["Seed"], Awaitable["list[str] | int"]]
SEEDERS: dict[str, Seeder] = {}


def seeds(name: str) -> Callable[[Seeder], Seeder]:
    def register(fn: Seeder) -> Seeder:
        SEEDERS[name] = fn
        return fn

    return register


class Seed:
    """What a seeder has at hand: the pool's clients in us-east-1 (or another region)."""

    def __init__(self, pool: aiokit.SessionPool) -> None:
        self.pool = pool

    async def client(self, service: str, region: str = REGION) -> Any:
        return await self.pool.client(service, region)

    async def vpc_with_subnets(self, n: int = 2) -> tuple[str, list[str]]:
        ec2 = await self.client("ec2")
        vpc = (await ec2.create_vpc(CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
        subnets = []
        for i in range(n):
            answer = await ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"{REGION}{'abc'[i]}"
            )
            subnets.append(answer["Subnet"]["SubnetId"])
        return vpc, subnets

    async def role(self, name: str = "seed-role", service: str = "lambda") -> str:
        iam = await self.client("iam")
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": f"{service}.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        answer = await iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))
        return str(answer["Role"]["Arn"])


AMI = "ami-12c6146b"  # one of moto's built-in images


@seeds("ec2.instances")
async def _instances(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    # Two reservations, one of two instances: the records flatten them.
    two = await ec2.run_instances(ImageId=AMI, MinCount=2, MaxCount=2, InstanceType="t3.micro")
    one = await ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    return [i["InstanceId"] for r in (two, one) for i in r["Instances"]]


@seeds("ec2.vpcs")
async def _vpcs(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    return [(await ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16"))["Vpc"]["VpcId"] for i in (20, 21)]


@seeds("ec2.subnets")
async def _subnets(seed: Seed) -> int:
    _, subnets = await seed.vpc_with_subnets(2)
    return len(subnets)


@seeds("ec2.security_groups")
async def _security_groups(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    return [
        (await ec2.create_security_group(GroupName=f"sg{i}", Description="seed"))[
            "SecurityGroupArn"
        ]
        for i in range(2)
    ]


@seeds("ec2.volumes")
async def _volumes(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    return [
        (await ec2.create_volume(Size=1, AvailabilityZone=f"{REGION}a"))["VolumeId"]
        for _ in range(2)
    ]


@seeds("ec2.snapshots")
async def _snapshots(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    volume = (await ec2.create_volume(Size=1, AvailabilityZone=f"{REGION}a"))["VolumeId"]
    return [(await ec2.create_snapshot(VolumeId=volume))["SnapshotId"] for _ in range(2)]


@seeds("ec2.images")
async def _images(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    run = await ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)
    instance = run["Instances"][0]["InstanceId"]
    return [
        (await ec2.create_image(InstanceId=instance, Name=f"image-{i}"))["ImageId"]
        for i in range(2)
    ]


@seeds("ec2.network_interfaces")
async def _network_interfaces(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    _, (subnet, _b) = await seed.vpc_with_subnets(2)
    return [
        (await ec2.create_network_interface(SubnetId=subnet))["NetworkInterface"][
            "NetworkInterfaceId"
        ]
        for _ in range(2)
    ]


@seeds("ec2.internet_gateways")
async def _internet_gateways(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    return [
        (await ec2.create_internet_gateway())["InternetGateway"]["InternetGatewayId"]
        for _ in range(2)
    ]


@seeds("ec2.nat_gateways")
async def _nat_gateways(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    _, subnets = await seed.vpc_with_subnets(2)
    found = []
    for subnet in subnets:
        allocation = (await ec2.allocate_address(Domain="vpc"))["AllocationId"]
        answer = await ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)
        found.append(answer["NatGateway"]["NatGatewayId"])
    return found


@seeds("ec2.route_tables")
async def _route_tables(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    vpc, _ = await seed.vpc_with_subnets(0)
    # A new VPC comes with its main route table: one more.
    main = await ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return [t["RouteTableId"] for t in main["RouteTables"]] + [
        (await ec2.create_route_table(VpcId=vpc))["RouteTable"]["RouteTableId"] for _ in range(2)
    ]


@seeds("s3.buckets")
async def _buckets(seed: Seed) -> list[str]:
    s3 = await seed.client("s3")
    await s3.create_bucket(Bucket="seed-east")
    west = await seed.client("s3", "eu-west-1")
    await west.create_bucket(
        Bucket="seed-west", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return ["seed-east", "seed-west"]


@seeds("iam.users")
async def _users(seed: Seed) -> list[str]:
    iam = await seed.client("iam")
    return [(await iam.create_user(UserName=f"u{i}"))["User"]["Arn"] for i in range(2)]


@seeds("iam.groups")
async def _groups(seed: Seed) -> list[str]:
    iam = await seed.client("iam")
    return [(await iam.create_group(GroupName=f"g{i}"))["Group"]["Arn"] for i in range(2)]


@seeds("iam.roles")
async def _roles(seed: Seed) -> list[str]:
    return [await seed.role(f"r{i}") for i in range(2)]


@seeds("iam.policies")
async def _policies(seed: Seed) -> list[str]:
    iam = await seed.client("iam")
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    )
    return [
        (await iam.create_policy(PolicyName=f"p{i}", PolicyDocument=document))["Policy"]["Arn"]
        for i in range(2)
    ]


@seeds("iam.instance_profiles")
async def _instance_profiles(seed: Seed) -> list[str]:
    iam = await seed.client("iam")
    return [
        (await iam.create_instance_profile(InstanceProfileName=f"ip{i}"))["InstanceProfile"]["Arn"]
        for i in range(2)
    ]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@seeds("lambda.functions")
async def _functions(seed: Seed) -> list[str]:
    role = await seed.role()
    client = await seed.client("lambda")
    return [
        (
            await client.create_function(
                FunctionName=f"f{i}",
                Runtime="python3.12",
                Role=role,
                Handler="handler.handler",
                Code={"ZipFile": _zip()},
            )
        )["FunctionArn"]
        for i in range(2)
    ]


@seeds("ecs.clusters")
async def _ecs_clusters(seed: Seed) -> list[str]:
    ecs = await seed.client("ecs")
    return [
        (await ecs.create_cluster(clusterName=f"c{i}"))["cluster"]["clusterArn"] for i in range(2)
    ]


@seeds("eks.clusters")
async def _eks_clusters(seed: Seed) -> list[str]:
    eks = await seed.client("eks")
    role = await seed.role("eks-role", "eks")
    _, subnets = await seed.vpc_with_subnets(2)
    return [
        (
            await eks.create_cluster(
                name=f"k{i}", roleArn=role, resourcesVpcConfig={"subnetIds": subnets}
            )
        )["cluster"]["name"]
        for i in range(2)
    ]


@seeds("ecr.repositories")
async def _repositories(seed: Seed) -> list[str]:
    ecr = await seed.client("ecr")
    return [
        (await ecr.create_repository(repositoryName=f"repo{i}"))["repository"]["repositoryArn"]
        for i in range(2)
    ]


@seeds("autoscaling.groups")
async def _auto_scaling_groups(seed: Seed) -> int:
    autoscaling = await seed.client("autoscaling")
    await autoscaling.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=AMI, InstanceType="t3.micro"
    )
    for i in range(2):
        await autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=f"asg{i}",
            LaunchConfigurationName="lc",
            MinSize=0,
            MaxSize=1,
            AvailabilityZones=[f"{REGION}a"],
        )
    return 2


@seeds("stepfunctions.state_machines")
async def _state_machines(seed: Seed) -> list[str]:
    sfn = await seed.client("stepfunctions")
    role = await seed.role("sfn-role", "states")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    return [
        (await sfn.create_state_machine(name=f"sm{i}", definition=definition, roleArn=role))[
            "stateMachineArn"
        ]
        for i in range(2)
    ]


@seeds("apigateway.rest_apis")
async def _rest_apis(seed: Seed) -> list[str]:
    apigateway = await seed.client("apigateway")
    return [(await apigateway.create_rest_api(name=f"api{i}"))["id"] for i in range(2)]


@seeds("rds.db_instances")
async def _db_instances(seed: Seed) -> list[str]:
    rds = await seed.client("rds")
    return [
        (
            await rds.create_db_instance(
                DBInstanceIdentifier=f"db{i}",
                DBInstanceClass="db.t3.micro",
                Engine="postgres",
                MasterUsername="admin",
                MasterUserPassword="not-a-real-secret",
                AllocatedStorage=20,
            )
        )["DBInstance"]["DBInstanceArn"]
        for i in range(2)
    ]


@seeds("rds.db_clusters")
async def _db_clusters(seed: Seed) -> list[str]:
    rds = await seed.client("rds")
    return [
        (
            await rds.create_db_cluster(
                DBClusterIdentifier=f"cluster{i}",
                Engine="aurora-postgresql",
                MasterUsername="admin",
                MasterUserPassword="not-a-real-secret",
            )
        )["DBCluster"]["DBClusterArn"]
        for i in range(2)
    ]


@seeds("dynamodb.tables")
async def _tables(seed: Seed) -> list[str]:
    dynamodb = await seed.client("dynamodb")
    for name in ("t0", "t1"):
        await dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return ["t0", "t1"]


@seeds("efs.file_systems")
async def _file_systems(seed: Seed) -> list[str]:
    efs = await seed.client("efs")
    return [
        (await efs.create_file_system(CreationToken=f"fs{i}"))["FileSystemArn"] for i in range(2)
    ]


@seeds("sqs.queues")
async def _queues(seed: Seed) -> list[str]:
    sqs = await seed.client("sqs")
    return [(await sqs.create_queue(QueueName=f"q{i}"))["QueueUrl"] for i in range(2)]


@seeds("sns.topics")
async def _topics(seed: Seed) -> list[str]:
    sns = await seed.client("sns")
    return [(await sns.create_topic(Name=f"topic{i}"))["TopicArn"] for i in range(2)]


@seeds("kinesis.streams")
async def _streams(seed: Seed) -> int:
    kinesis = await seed.client("kinesis")
    for i in range(2):
        await kinesis.create_stream(StreamName=f"s{i}", ShardCount=1)
    return 2


TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


@seeds("cloudformation.stacks")
async def _stacks(seed: Seed) -> list[str]:
    cloudformation = await seed.client("cloudformation")
    return [
        (await cloudformation.create_stack(StackName=f"stack{i}", TemplateBody=TEMPLATE))["StackId"]
        for i in range(2)
    ]


@seeds("kms.keys")
async def _keys(seed: Seed) -> list[str]:
    kms = await seed.client("kms")
    return [(await kms.create_key())["KeyMetadata"]["Arn"] for _ in range(2)]


@seeds("logs.log_groups")
async def _log_groups(seed: Seed) -> int:
    logs = await seed.client("logs")
    for i in range(2):
        await logs.create_log_group(logGroupName=f"/seed/{i}")
    return 2


@seeds("cloudwatch.alarms")
async def _alarms(seed: Seed) -> int:
    cloudwatch = await seed.client("cloudwatch")
    for i in range(2):
        await cloudwatch.put_metric_alarm(
            AlarmName=f"alarm{i}",
            MetricName="CPUUtilization",
            Namespace="AWS/EC2",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=90.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    return 2


@seeds("route53.hosted_zones")
async def _hosted_zones(seed: Seed) -> list[str]:
    route53 = await seed.client("route53")
    return [
        (await route53.create_hosted_zone(Name=f"zone{i}.example.com", CallerReference=f"c{i}"))[
            "HostedZone"
        ]["Id"]
        for i in range(2)
    ]


@seeds("elbv2.load_balancers")
async def _load_balancers(seed: Seed) -> list[str]:
    elbv2 = await seed.client("elbv2")
    _, subnets = await seed.vpc_with_subnets(2)
    return [
        (await elbv2.create_load_balancer(Name=f"lb{i}", Subnets=subnets))["LoadBalancers"][0][
            "LoadBalancerArn"
        ]
        for i in range(2)
    ]


@seeds("elbv2.target_groups")
async def _target_groups(seed: Seed) -> list[str]:
    elbv2 = await seed.client("elbv2")
    vpc, _ = await seed.vpc_with_subnets(0)
    return [
        (await elbv2.create_target_group(Name=f"tg{i}", Protocol="HTTP", Port=80, VpcId=vpc))[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for i in range(2)
    ]


SECRET_VALUE = "s3cr3t-value-never-listed"


@seeds("secretsmanager.secrets")
async def _secrets(seed: Seed) -> list[str]:
    secrets = await seed.client("secretsmanager")
    return [
        (await secrets.create_secret(Name=f"secret{i}", SecretString=SECRET_VALUE))["ARN"]
        for i in range(2)
    ]


@seeds("ssm.parameters")
async def _parameters(seed: Seed) -> list[str]:
    ssm = await seed.client("ssm")
    for i in range(2):
        await ssm.put_parameter(Name=f"/seed/p{i}", Value=SECRET_VALUE, Type="SecureString")
    return ["/seed/p0", "/seed/p1"]


@seeds("acm.certificates")
async def _certificates(seed: Seed) -> list[str]:
    acm = await seed.client("acm")
    return [
        (await acm.request_certificate(DomainName=f"site{i}.example.com"))["CertificateArn"]
        for i in range(2)
    ]


@seeds("cloudtrail.trails")
async def _trails(seed: Seed) -> list[str]:
    s3 = await seed.client("s3")
    await s3.create_bucket(Bucket="seed-trails")
    cloudtrail = await seed.client("cloudtrail")
    return [
        (await cloudtrail.create_trail(Name=f"trail{i}", S3BucketName="seed-trails"))["TrailARN"]
        for i in range(2)
    ]


@seeds("cloudfront.distributions")
async def _distributions(seed: Seed) -> list[str]:
    cloudfront = await seed.client("cloudfront")
    found = []
    for i in range(2):
        config = {
            "CallerReference": f"ref{i}",
            "Comment": "seed",
            "Enabled": False,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "origin",
                        "DomainName": "example.com",
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "http-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "origin",
                "ViewerProtocolPolicy": "allow-all",
                "MinTTL": 0,
            },
        }
        answer = await cloudfront.create_distribution(DistributionConfig=config)
        found.append(answer["Distribution"]["ARN"])
    return found


@seeds("ec2.launch_templates")
async def _launch_templates(seed: Seed) -> list[str]:
    ec2 = await seed.client("ec2")
    return [
        (
            await ec2.create_launch_template(
                LaunchTemplateName=f"lt{i}", LaunchTemplateData={"ImageId": AMI}
            )
        )["LaunchTemplate"]["LaunchTemplateId"]
        for i in range(2)
    ]


@seeds("sagemaker.notebook_instances")
async def _notebook_instances(seed: Seed) -> list[str]:
    sagemaker = await seed.client("sagemaker")
    role = await seed.role("sm-role", "sagemaker")
    return [
        (
            await sagemaker.create_notebook_instance(
                NotebookInstanceName=f"nb{i}", InstanceType="ml.t3.medium", RoleArn=role
            )
        )["NotebookInstanceArn"]
        for i in range(2)
    ]


@seeds("codebuild.projects")
async def _projects(seed: Seed) -> list[str]:
    codebuild = await seed.client("codebuild")
    role = await seed.role("cb-role", "codebuild")
    for i in range(2):
        await codebuild.create_project(
            name=f"proj{i}",
            source={"type": "S3", "location": "seed-bucket/source.zip"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=role,
        )
    return ["proj0", "proj1"]


@seeds("elasticache.clusters")
async def _cache_clusters(seed: Seed) -> list[str]:
    elasticache = await seed.client("elasticache")
    return [
        (
            await elasticache.create_cache_cluster(
                CacheClusterId=f"cache{i}",
                Engine="redis",
                CacheNodeType="cache.t3.micro",
                NumCacheNodes=1,
            )
        )["CacheCluster"]["ARN"]
        for i in range(2)
    ]


@seeds("redshift.clusters")
async def _redshift_clusters(seed: Seed) -> int:
    redshift = await seed.client("redshift")
    for i in range(2):
        await redshift.create_cluster(
            ClusterIdentifier=f"rs{i}",
            NodeType="dc2.large",
            MasterUsername="admin",
            MasterUserPassword="Not-a-real-secret1",
        )
    return 2


@seeds("glue.databases")
async def _databases(seed: Seed) -> list[str]:
    glue = await seed.client("glue")
    for i in range(2):
        await glue.create_database(DatabaseInput={"Name": f"db{i}"})
    return ["db0", "db1"]


@seeds("backup.vaults")
async def _vaults(seed: Seed) -> list[str]:
    backup = await seed.client("backup")
    return [
        (await backup.create_backup_vault(BackupVaultName=f"vault{i}"))["BackupVaultArn"]
        for i in range(2)
    ]


@seeds("cloudwatch.composite_alarms")
async def _composite_alarms(seed: Seed) -> int:
    await _alarms(seed)  # metric alarms, which the composite listing must not count
    cloudwatch = await seed.client("cloudwatch")
    for i in range(2):
        await cloudwatch.put_composite_alarm(
            AlarmName=f"composite{i}", AlarmRule='ALARM("alarm0") OR ALARM("alarm1")'
        )
    return 2


@seeds("events.rules")
async def _rules(seed: Seed) -> list[str]:
    events = await seed.client("events")
    return [
        (await events.put_rule(Name=f"rule{i}", ScheduleExpression="rate(5 minutes)"))["RuleArn"]
        for i in range(2)
    ]


@seeds("elb.load_balancers")
async def _classic_load_balancers(seed: Seed) -> list[str]:
    elb = await seed.client("elb")
    for i in range(2):
        await elb.create_load_balancer(
            LoadBalancerName=f"clb{i}",
            Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
            AvailabilityZones=[f"{REGION}a"],
        )
    return ["clb0", "clb1"]


@seeds("cognito-idp.user_pools")
async def _user_pools(seed: Seed) -> list[str]:
    cognito = await seed.client("cognito-idp")
    return [
        (await cognito.create_user_pool(PoolName=f"pool{i}"))["UserPool"]["Id"] for i in range(2)
    ]


async def _records(pool: aiokit.SessionPool, entry: ResourceType) -> list[Any]:
    listing = entry.listing
    pager = pool.paginate(listing.service, listing.operation, REGION, **listing.request_params())
    return [record async for record in pager.search(entry.records)]


@pytest.mark.parametrize("name", sorted(CATALOGUE))
async def test_entry_against_moto(name: str, aiokit_pool: aiokit.SessionPool) -> None:
    if name in UNTESTED:
        pytest.skip(f"moto: {UNTESTED[name]}")
    entry = CATALOGUE[name]
    before = await _records(aiokit_pool, entry)
    seeded = await SEEDERS[name](Seed(aiokit_pool))
    after = await _records(aiokit_pool, entry)
    expected = seeded if isinstance(seeded, int) else len(seeded)
    assert expected >= 2
    assert len(after) - len(before) == expected
    keys = [jmespath.search(entry.primary_key, record) for record in after]
    assert all(isinstance(k, str) and k for k in keys), keys
    assert len(set(keys)) == len(keys), keys
    if not isinstance(seeded, int):
        assert set(seeded) <= set(keys)
    # Metadata only: no secret value in any record.
    assert SECRET_VALUE not in json.dumps(after, default=str)


def test_every_entry_has_a_seeder_or_a_reason() -> None:
    assert set(SEEDERS) | set(UNTESTED) == set(CATALOGUE)
    assert not set(UNTESTED) - set(CATALOGUE)


@pytest.mark.xfail(
    strict=True,
    reason="moto 5.2's ListBuckets omits BucketRegion (AWS and botocore's model have it); "
    "strict: this fails once moto answers with it",
)
async def test_s3_buckets_carry_their_region(aiokit_pool: aiokit.SessionPool) -> None:
    entry = CATALOGUE["s3.buckets"]
    await SEEDERS["s3.buckets"](Seed(aiokit_pool))
    records = await _records(aiokit_pool, entry)
    assert {r["Name"]: r.get("BucketRegion") for r in records} == {
        "seed-east": "us-east-1",
        "seed-west": "eu-west-1",
    }


def _untested_in_docs() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.partition("## Untested entries")[2].partition("\n## ")[0]
    rows = re.findall(r"^\| `([a-z0-9_.-]+)` \| (.+?) \|$", section, flags=re.M)
    return dict(rows)


def test_the_docs_list_exactly_the_untested_entries() -> None:
    assert set(_untested_in_docs()) == set(UNTESTED)


def test_the_docs_table_lists_every_entry() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text.partition("## The catalogue")[2].partition("\n## ")[0]
    rows = re.findall(
        r"^\| `([a-z0-9_.-]+)` \| `([^`]+)` \| `([^`]+)` \| `([^`]+)` \| (yes|no) \|",
        section,
        flags=re.M,
    )
    documented = {
        name: (op, records, key, is_global == "yes") for name, op, records, key, is_global in rows
    }
    actual = {
        name: (
            f"{e.listing.service}.{e.listing.operation}",
            e.records,
            e.primary_key,
            e.is_global,
        )
        for name, e in CATALOGUE.items()
    }
    assert documented == actual


# --- load_spec: the TOML spec file ---------------------------------------------------------

TRANSIT = """
[resources."ec2.transit_gateways"]
service = "ec2"
operation = "describe_transit_gateways"
records = "TransitGateways[]"
primary_key = "TransitGatewayArn"
params = { }
global = false
description = "Transit gateways"
"""


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "extra.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_spec_adds_an_entry(tmp_path: Path) -> None:
    merged = load_spec(_spec(tmp_path, TRANSIT))
    entry = merged["ec2.transit_gateways"]
    assert entry.listing == Listing(
        "ec2", "describe_transit_gateways", name="ec2.transit_gateways", account_wide=False
    )
    assert (entry.records, entry.primary_key, entry.description) == (
        "TransitGateways[]",
        "TransitGatewayArn",
        "Transit gateways",
    )
    assert entry.is_global is False
    # The built-ins are all there, in their order, then the new entry; the built-in
    # catalogue itself is unchanged.
    assert list(merged) == [*CATALOGUE, "ec2.transit_gateways"]
    assert "ec2.transit_gateways" not in CATALOGUE
    with pytest.raises(TypeError):
        merged["x.y"] = entry  # type: ignore[index]


def test_load_spec_takes_a_str_path_and_minimal_entries(tmp_path: Path) -> None:
    text = '[resources."iam.saml_providers_like"]\nservice = "iam"\noperation = "ListUsers"\n'
    text += 'records = "Users[]"\nprimary_key = "Arn"\n'
    entry = load_spec(str(_spec(tmp_path, text)))["iam.saml_providers_like"]
    assert entry.listing.operation == "list_users"
    assert entry.is_global is True  # derived: no `global` given
    assert entry.description == ""


def test_a_spec_entry_replaces_a_built_in_one(tmp_path: Path) -> None:
    text = """
[resources."ec2.snapshots"]
service = "ec2"
operation = "describe_snapshots"
params = { OwnerIds = ["123456789012"], Filters = [{ Name = "status", Values = ["completed"] }] }
records = "Snapshots[]"
primary_key = "SnapshotId"
"""
    merged = load_spec(_spec(tmp_path, text))
    assert merged["ec2.snapshots"].listing.params == {
        "OwnerIds": ["123456789012"],
        "Filters": [{"Name": "status", "Values": ["completed"]}],
    }
    assert list(merged) == list(CATALOGUE)  # replaced in place
    assert CATALOGUE["ec2.snapshots"].listing.params == {"OwnerIds": ["self"]}


def test_load_spec_merges_into_a_given_catalogue(tmp_path: Path) -> None:
    first = load_spec(_spec(tmp_path, TRANSIT))
    other = tmp_path / "more.toml"
    other.write_text(TRANSIT.replace("ec2.transit_gateways", "ec2.tgws"), encoding="utf-8")
    both = load_spec(other, first)
    assert {"ec2.transit_gateways", "ec2.tgws"} <= set(both)


async def test_a_spec_entry_runs_against_moto(
    tmp_path: Path, aiokit_pool: aiokit.SessionPool
) -> None:
    entry = load_spec(_spec(tmp_path, TRANSIT))["ec2.transit_gateways"]
    ec2 = await aiokit_pool.client("ec2", REGION)
    made = [(await ec2.create_transit_gateway())["TransitGateway"] for _ in range(2)]
    records = await _records(aiokit_pool, entry)
    keys = {jmespath.search(entry.primary_key, r) for r in records}
    assert keys == {m["TransitGatewayArn"] for m in made}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("this is = not [toml", "is not valid TOML"),
        (TRANSIT + TRANSIT, "is not valid TOML"),  # the same entry twice
        ("", "defines no resource types"),
        ("[resources]\n", "defines no resource types"),
        ("resources = 3\n", "defines no resource types"),
        (
            "[resource.'ec2.x']\nservice = 'ec2'\n",
            "unknown top-level key 'resource'; did you mean resources?",
        ),
        ("[resources]\n'ec2.x' = 3\n", "entry 'ec2.x' must be a table of fields, not int"),
        (
            TRANSIT.replace('"ec2.transit_gateways"', "ec2.transit_gateways"),
            'quote the dotted name: [resources."ec2.<type>"]',
        ),
        (
            TRANSIT.replace('"ec2.transit_gateways"', '"EC2 gateways"'),
            "entry 'EC2 gateways': a resource type's name",
        ),
        (
            TRANSIT.replace("primary_key", "primary_kye"),
            "unknown field 'primary_kye'; did you mean primary_key?",
        ),
        (TRANSIT.replace("global =", "globl ="), "unknown field 'globl'; did you mean global?"),
        (TRANSIT.replace('records = "TransitGateways[]"\n', ""), "field 'records' is missing"),
        (
            TRANSIT.replace('service = "ec2"', "service = 2"),
            "field 'service': must be a string, not an integer",
        ),
        (
            TRANSIT.replace("params = { }", "params = []"),
            "field 'params': must be a table, not an array",
        ),
        (
            TRANSIT.replace("params = { }", 'params = "x"'),
            "field 'params': must be a table, not a string",
        ),
        (
            TRANSIT.replace("global = false", 'global = "no"'),
            "field 'global': must be true or false, not a string",
        ),
        (
            TRANSIT.replace("global = false", "global = 0"),
            "field 'global': must be true or false, not an integer",
        ),
        (
            TRANSIT.replace('description = "Transit gateways"', "description = 1.5"),
            "field 'description': must be a string, not a float",
        ),
        (
            TRANSIT.replace('service = "ec2"', 'service = "ec3"').replace(
                "ec2.transit", "ec3.transit"
            ),
            "field 'service': unknown service 'ec3'",
        ),
        (
            TRANSIT.replace('service = "ec2"', 'service = "s3"'),
            "field 'service': 's3' is not the service its name starts with",
        ),
        (
            TRANSIT.replace("describe_transit_gateways", "describe_transit_gatways"),
            "field 'operation': ec2 has no operation 'describe_transit_gatways'; "
            "did you mean describe_transit_gateways",
        ),
        (
            TRANSIT.replace("describe_transit_gateways", "run_instances"),
            "field 'operation': ec2 RunInstances is not paginated",
        ),
        (
            TRANSIT.replace("params = { }", "params = { Fitlers = [] }"),
            "field 'params': ec2 DescribeTransitGateways: Unknown parameter in input: \"Fitlers\"",
        ),
        (
            TRANSIT.replace("params = { }", 'params = { MaxResults = "5" }'),
            "field 'params': ec2 DescribeTransitGateways: Invalid type for parameter MaxResults",
        ),
        (
            TRANSIT.replace("params = { }", "params = { PaginationConfig = { PageSize = 0 } }"),
            "field 'params'",
        ),
        (
            TRANSIT.replace("params = { }", "params = { When = 07:32:00 }"),
            "field 'params': ec2 describe_transit_gateways params['When'] must be",
        ),
        (
            TRANSIT + 'key = "Gateways"\n',
            "field 'key': ec2 DescribeTransitGateways has result keys ['TransitGateways'], "
            "not 'Gateways'",
        ),
        (
            TRANSIT.replace('records = "TransitGateways[]"', 'records = "TransitGateways[?"'),
            "field 'records'",
        ),
        (TRANSIT.replace('records = "TransitGateways[]"', 'records = ""'), "field 'records'"),
        (
            TRANSIT.replace('records = "TransitGateways[]"', 'records = "Gateways[]"'),
            "field 'records': ResourceType 'ec2.transit_gateways' records: "
            "DescribeTransitGatewaysResult has no field 'Gateways'; did you mean TransitGateways?",
        ),
        (
            TRANSIT.replace('"TransitGatewayArn"', '"TransitGatewayArm"'),
            "field 'primary_key': ResourceType 'ec2.transit_gateways' primary_key: "
            "TransitGateway has no field 'TransitGatewayArm'; did you mean TransitGatewayArn",
        ),
        (
            TRANSIT.replace('primary_key = "TransitGatewayArn"', 'primary_key = "a b"'),
            "field 'primary_key'",
        ),
        (
            TRANSIT.replace(
                'primary_key = "TransitGatewayArn"', 'primary_key = "TransitGatewayArn ||"'
            ),
            "field 'primary_key'",
        ),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else repr(v),
)
def test_load_spec_refuses_hostile_input(tmp_path: Path, text: str, words: str) -> None:
    path = _spec(tmp_path, text)
    with pytest.raises(ConfigurationError, match=re.escape(words)) as caught:
        load_spec(path)
    message = str(caught.value)
    assert str(path) in message  # the file
    if "field '" in words:  # and, for a field, the entry
        assert re.search(r"entry 'ec[23]\.transit_gateways'", message), message
    # One ConfigurationError of aiokit's own, not the TOML parser's or botocore's.
    assert type(caught.value) is ConfigurationError


def test_load_spec_names_the_entry_and_the_field(tmp_path: Path) -> None:
    text = TRANSIT + TRANSIT.replace("ec2.transit_gateways", "ec2.bad").replace(
        "params = { }", "params = { Bogus = 1 }"
    )
    with pytest.raises(ConfigurationError) as caught:
        load_spec(_spec(tmp_path, text))
    message = str(caught.value)
    assert "entry 'ec2.bad'" in message and "field 'params'" in message and "Bogus" in message
    assert "'extra.toml'" in message or "extra.toml" in message


def test_load_spec_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(
        ConfigurationError, match=re.escape(f"spec file '{missing}' does not exist")
    ):
        load_spec(missing)


def test_load_spec_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory, not a TOML file"):
        load_spec(tmp_path)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads unreadable files"
)
def test_load_spec_unreadable(tmp_path: Path) -> None:
    path = _spec(tmp_path, TRANSIT)
    path.chmod(0)
    try:
        with pytest.raises(ConfigurationError, match="cannot be read: Permission denied"):
            load_spec(path)
    finally:
        path.chmod(0o600)


def test_load_spec_os_error(tmp_path: Path) -> None:
    """Read as root too: a path through a file cannot be opened by anyone."""
    path = _spec(tmp_path, TRANSIT) / "inside.toml"
    with pytest.raises(ConfigurationError, match="cannot be read: Not a directory"):
        load_spec(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_load_spec_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    """Reading a named pipe would wait for a writer forever: refused before opening."""
    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigurationError, match="is not a regular file"):
        load_spec(fifo)


def test_load_spec_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigurationError, match="not TOML: it is not UTF-8 text"):
        load_spec(path)


@pytest.mark.parametrize("path", [None, 3, "", b"spec.toml", ["a.toml"]])
def test_load_spec_bad_path_types(path: Any) -> None:
    with pytest.raises(ConfigurationError, match="spec path must be a file path"):
        load_spec(path)


@pytest.mark.parametrize(
    "catalogue",
    [{"ec2.vpcs": "not a type"}, {"wrong.name": CATALOGUE["ec2.vpcs"]}, ["ec2.vpcs"], 3],
    ids=["value", "key", "list", "int"],
)
def test_bad_catalogue_arguments(tmp_path: Path, catalogue: Any) -> None:
    with pytest.raises(
        ConfigurationError, match="catalogue must be a mapping of name to ResourceType"
    ):
        load_spec(_spec(tmp_path, TRANSIT), catalogue)
    with pytest.raises(ConfigurationError, match="catalogue must be a mapping"):
        select("ec2.vpcs", catalogue)


# --- select: --resources ---------------------------------------------------------------------


def test_select_names_in_order_once() -> None:
    chosen = select("s3.buckets, ec2.instances,s3.buckets,")
    assert [t.name for t in chosen] == ["s3.buckets", "ec2.instances"]
    assert select(["iam.users", "iam.roles"]) == (CATALOGUE["iam.users"], CATALOGUE["iam.roles"])
    assert select(iter(["sqs.queues"])) == (CATALOGUE["sqs.queues"],)


def test_select_service_globs() -> None:
    ec2 = select("ec2.*")
    assert [t.name for t in ec2] == [n for n in CATALOGUE if n.startswith("ec2.")]
    assert len(ec2) >= 7
    assert {t.name for t in select("iam.*,s3.buckets")} == {
        n for n in CATALOGUE if n.startswith("iam.")
    } | {"s3.buckets"}
    assert select("*") == tuple(CATALOGUE.values())
    # A glob and a name of the same type: once, where it first came.
    assert [t.name for t in select("ec2.vpcs,ec2.*")][:2] == ["ec2.vpcs", "ec2.instances"]


def test_select_from_a_loaded_spec(tmp_path: Path) -> None:
    merged = load_spec(_spec(tmp_path, TRANSIT))
    assert select("ec2.transit_gateways", merged) == (merged["ec2.transit_gateways"],)
    with pytest.raises(ConfigurationError, match=r"unknown resource type 'ec2\.transit_gateways'"):
        select("ec2.transit_gateways")


@pytest.mark.parametrize(
    ("names", "words"),
    [
        ("ec2.instance", "unknown resource type 'ec2.instance'; did you mean ec2.instances"),
        ("s3.bucket,ec2.vpcs", "unknown resource type 's3.bucket'; did you mean s3.buckets"),
        ("ec3.*", "'ec3.*' matches no resource type; did you mean ecs, ecr, ec2?"),
        ("ec2.nothing*", "'ec2.nothing*' matches no resource type"),
        ("", "no resource type given"),
        (" , ,", "no resource type given"),
        ([], "no resource type given"),
        ([""], "no resource type given"),
        ([3], "resources must be names (str), not int 3"),
        (None, "resources must be a comma-separated str or an iterable of names, not NoneType"),
        (b"ec2.vpcs", "not bytes"),
        ({"ec2.vpcs": 1}, "not dict"),
    ],
    ids=repr,
)
def test_select_refuses(names: Any, words: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(words)):
        select(names)
