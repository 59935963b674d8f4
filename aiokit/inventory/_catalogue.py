"""The built-in catalogue: ``ResourceType`` and one entry per common resource type.

Each entry is data: the listing that finds the type's resources, the JMESPath to its
records in one page, the JMESPath to a record's primary key, and a one-line description.
Nothing here reads a model file or sends a request; ``ResourceType.checked()`` (and
tests/test_inventory_catalogue.py, for every entry) checks an entry against botocore's
models.

Primary keys are the record's ARN where the API returns one. Where it returns none the key
is the identifier AWS guarantees unique within the account and region (an EC2 instance id,
a hosted zone id), and for listings that return bare strings (DynamoDB ``ListTables``, SQS
``ListQueues``, EKS ``ListClusters``) the record *is* the key (``"@"``). An inventory stores
the account and region beside the key, so a key need be unique only within its target.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from .._botocore.loaders import shared_loader
from .._botocore.model import ServiceModel
from .._checks import kind
from .._exceptions import ConfigurationError
from .._fleet.listings import Listing
from .._paginate import check_listing
from .._validate import did_you_mean

__all__ = ["CATALOGUE", "ResourceType", "check_expression"]

NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9_]*$")
"""A resource type's name: ``<service>.<type>``, lower case (``ec2.instances``)."""


def check_expression(where: str, expression: object) -> None:
    """``expression`` is a JMESPath that compiles; else a ``ConfigurationError`` naming it."""
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigurationError(
            f"{where} must be a JMESPath expression (a non-empty str), not {kind(expression)} "
            f"{expression!r}"
        )
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        raise ConfigurationError(
            f"{where} is not a valid JMESPath expression: {expression!r} ({exc})"
        ) from exc


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One type of resource an inventory lists: where its records are and what keys them.

    Args:
        name: ``"<service>.<type>"``, e.g. ``"ec2.instances"``; ``<service>`` is the
            listing's service.
        listing: the paginated request that lists them.
        records: JMESPath to the records in one page (``"Reservations[].Instances[]"``).
        primary_key: JMESPath on one record giving its key within its account and region
            (the ARN where the API returns one).
        description: one line for ``aiokit inventory list`` and the docs.

    Raises:
        ConfigurationError: a field of the wrong type, a malformed name, or a JMESPath that
            does not compile.
    """

    name: str
    listing: Listing
    records: str
    primary_key: str
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise ConfigurationError(
                f"ResourceType name must look like 'service.type' (lower case, e.g. "
                f"'ec2.instances'), not {kind(self.name)} {self.name!r}"
            )
        if not isinstance(self.listing, Listing):
            raise ConfigurationError(
                f"ResourceType {self.name!r} listing must be an aiokit.Listing, not "
                f"{kind(self.listing)}"
            )
        if self.listing.service != self.name.partition(".")[0]:
            # So that "ec2.*" selects every type EC2 lists, and only those.
            raise ConfigurationError(
                f"ResourceType {self.name!r} is listed by {self.listing.service!r}: its name "
                f"must start with '{self.listing.service}.'"
            )
        check_expression(f"ResourceType {self.name!r} records", self.records)
        check_expression(f"ResourceType {self.name!r} primary_key", self.primary_key)
        if not isinstance(self.description, str):
            raise ConfigurationError(
                f"ResourceType {self.name!r} description must be a str, not "
                f"{kind(self.description)}"
            )

    @property
    def is_global(self) -> bool:
        """Whether the type is listed once per account, not once per region."""
        return self.listing.is_global

    def checked(self) -> ResourceType:
        """This entry, checked against botocore's models (blocking: reads model files).

        The listing as :meth:`aiokit.Listing.checked` checks it; then ``records`` against
        the operation's output shape and ``primary_key`` against a record's shape, as far
        as the expressions are plain paths (fields, ``[]``, ``[*]``, indexes, filters): a
        misspelt field would otherwise find no record, silently, on every run.

        Raises:
            UnknownServiceError, UnknownOperationError, InvalidParameterError: as
                :meth:`aiokit.Listing.checked`.
            ConfigurationError: ``records`` or ``primary_key`` names a field the answer
                does not have (close names suggested).
        """
        listing = self.listing
        camel = check_listing(
            listing.service, listing.operation, listing.request_params(), listing.key
        )
        check_paths(self, camel)
        return self

    def __repr__(self) -> str:
        return f"aiokit.inventory.ResourceType({self.name!r}, {self.listing!r})"


# --- records and primary_key against botocore's shapes ----------------------------------
# A walk of the JMESPath's syntax tree over the output shape. A result is a botocore shape,
# ``("list", element)`` for a list (botocore's or one a projection makes), or ``None``:
# unknown (a function, a literal, a pipe...), where the check stops rather than guess.


def check_paths(entry: ResourceType, operation: str) -> None:
    """``records`` on ``operation``'s output shape, then ``primary_key`` on a record's."""
    service = entry.listing.service
    model = ServiceModel(shared_loader().load_service_model(service, "service-2"), service)
    output = model.operation_model(operation).output_shape
    where = f"ResourceType {entry.name!r}"
    found = _walk(jmespath.compile(entry.records).parsed, _norm(output), f"{where} records")
    record = found[1] if isinstance(found, tuple) else found
    _walk(jmespath.compile(entry.primary_key).parsed, record, f"{where} primary_key")


def _norm(shape: Any) -> Any:
    if getattr(shape, "type_name", None) == "list":
        return ("list", _norm(shape.member))
    return shape


def _some(names: Any, n: int = 12) -> str:
    names = list(names)
    return ", ".join(names[:n]) + (f", … ({len(names) - n} more)" if len(names) > n else "")


def _walk(node: dict[str, Any], shape: Any, where: str) -> Any:
    kind_, children = node["type"], node["children"]
    if shape is None:
        return None
    if kind_ in ("identity", "current"):
        return shape
    if kind_ == "field":
        members = getattr(shape, "members", None)
        if getattr(shape, "type_name", None) != "structure" or members is None:
            return None
        if node["value"] not in members:
            raise ConfigurationError(
                f"{where}: {shape.name} has no field {node['value']!r}"
                f"{did_you_mean(node['value'], members)} (fields: {_some(members)})"
            )
        return _norm(members[node["value"]])
    if kind_ == "subexpression":
        return _walk(children[1], _walk(children[0], shape, where), where)
    if kind_ in ("projection", "filter_projection"):
        left = _walk(children[0], shape, where)
        if not isinstance(left, tuple):
            return None
        return ("list", _walk(children[1], left[1], where))
    if kind_ == "flatten":
        inner = _walk(children[0], shape, where)
        if isinstance(inner, tuple) and isinstance(inner[1], tuple):
            return inner[1]
        return inner
    if kind_ == "index_expression":
        left = _walk(children[0], shape, where)
        return left[1] if isinstance(left, tuple) else None
    return None


def _entry(
    name: str,
    operation: str,
    records: str,
    primary_key: str,
    description: str,
    params: Mapping[str, Any] | None = None,
    **listing: Any,
) -> ResourceType:
    service = name.partition(".")[0]
    return ResourceType(
        name,
        Listing(service, operation, params, name=name, **listing),
        records,
        primary_key,
        description,
    )


_SELF = {"OwnerIds": ["self"]}
# ACM's key algorithms (botocore's KeyAlgorithm enum): ListCertificates filters on them.
_KEY_TYPES = [
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
]

_ENTRIES = (
    # EC2 (regional)
    _entry(
        "ec2.instances",
        "describe_instances",
        "Reservations[].Instances[]",
        "InstanceId",
        "EC2 instances, flattened out of their reservations (no ARN in the API: the id)",
    ),
    _entry("ec2.vpcs", "describe_vpcs", "Vpcs[]", "VpcId", "VPCs (no ARN in the API: the id)"),
    _entry("ec2.subnets", "describe_subnets", "Subnets[]", "SubnetArn", "VPC subnets"),
    _entry(
        "ec2.security_groups",
        "describe_security_groups",
        "SecurityGroups[]",
        "SecurityGroupArn",
        "Security groups",
    ),
    _entry("ec2.volumes", "describe_volumes", "Volumes[]", "VolumeId", "EBS volumes"),
    _entry(
        "ec2.snapshots",
        "describe_snapshots",
        "Snapshots[]",
        "SnapshotId",
        "EBS snapshots owned by the account (not the public ones)",
        _SELF,
    ),
    _entry(
        "ec2.images",
        "describe_images",
        "Images[]",
        "ImageId",
        "AMIs owned by the account (not the public ones)",
        {"Owners": ["self"]},
    ),
    _entry(
        "ec2.network_interfaces",
        "describe_network_interfaces",
        "NetworkInterfaces[]",
        "NetworkInterfaceId",
        "Elastic network interfaces",
    ),
    _entry(
        "ec2.internet_gateways",
        "describe_internet_gateways",
        "InternetGateways[]",
        "InternetGatewayId",
        "Internet gateways",
    ),
    _entry(
        "ec2.nat_gateways", "describe_nat_gateways", "NatGateways[]", "NatGatewayId", "NAT gateways"
    ),
    _entry(
        "ec2.route_tables", "describe_route_tables", "RouteTables[]", "RouteTableId", "Route tables"
    ),
    _entry(
        "ec2.launch_templates",
        "describe_launch_templates",
        "LaunchTemplates[]",
        "LaunchTemplateId",
        "EC2 launch templates",
    ),
    # S3: ListBuckets answers with every region's buckets, from any region.
    _entry(
        "s3.buckets",
        "list_buckets",
        "Buckets[]",
        "Name",
        "S3 buckets with their region (BucketRegion); no ARN in the answer: the name, unique in"
        " the partition",
        account_wide=True,
    ),
    # IAM (global)
    _entry("iam.users", "list_users", "Users[]", "Arn", "IAM users"),
    _entry("iam.groups", "list_groups", "Groups[]", "Arn", "IAM groups"),
    _entry("iam.roles", "list_roles", "Roles[]", "Arn", "IAM roles"),
    _entry(
        "iam.policies",
        "list_policies",
        "Policies[]",
        "Arn",
        "Customer-managed IAM policies (Scope=Local: not the AWS-managed ones)",
        {"Scope": "Local"},
    ),
    _entry(
        "iam.instance_profiles",
        "list_instance_profiles",
        "InstanceProfiles[]",
        "Arn",
        "IAM instance profiles",
    ),
    # Compute, containers, serverless
    _entry("lambda.functions", "list_functions", "Functions[]", "FunctionArn", "Lambda functions"),
    _entry("ecs.clusters", "list_clusters", "clusterArns[]", "@", "ECS clusters (their ARNs)"),
    _entry("eks.clusters", "list_clusters", "clusters[]", "@", "EKS clusters (names only)"),
    _entry(
        "ecr.repositories",
        "describe_repositories",
        "repositories[]",
        "repositoryArn",
        "ECR repositories",
    ),
    _entry(
        "autoscaling.groups",
        "describe_auto_scaling_groups",
        "AutoScalingGroups[]",
        "AutoScalingGroupARN",
        "Auto Scaling groups",
    ),
    _entry(
        "stepfunctions.state_machines",
        "list_state_machines",
        "stateMachines[]",
        "stateMachineArn",
        "Step Functions state machines",
    ),
    _entry(
        "apigateway.rest_apis",
        "get_rest_apis",
        "items[]",
        "id",
        "API Gateway REST APIs (no ARN in the API: the id)",
    ),
    _entry(
        "sagemaker.notebook_instances",
        "list_notebook_instances",
        "NotebookInstances[]",
        "NotebookInstanceArn",
        "SageMaker notebook instances",
    ),
    _entry("codebuild.projects", "list_projects", "projects[]", "@", "CodeBuild projects (names)"),
    # Databases and storage
    _entry(
        "rds.db_instances",
        "describe_db_instances",
        "DBInstances[]",
        "DBInstanceArn",
        "RDS DB instances",
    ),
    _entry(
        "rds.db_clusters", "describe_db_clusters", "DBClusters[]", "DBClusterArn", "RDS DB clusters"
    ),
    _entry(
        "dynamodb.tables",
        "list_tables",
        "TableNames[]",
        "@",
        "DynamoDB tables (ListTables gives names only: the record is the name)",
    ),
    _entry(
        "efs.file_systems",
        "describe_file_systems",
        "FileSystems[]",
        "FileSystemArn",
        "EFS file systems",
    ),
    _entry(
        "elasticache.clusters",
        "describe_cache_clusters",
        "CacheClusters[]",
        "ARN",
        "ElastiCache clusters",
    ),
    _entry(
        "redshift.clusters",
        "describe_clusters",
        "Clusters[]",
        "ClusterIdentifier",
        "Redshift provisioned clusters (no cluster ARN in the answer: the identifier)",
    ),
    _entry(
        "glue.databases", "get_databases", "DatabaseList[]", "Name", "Glue Data Catalog databases"
    ),
    _entry(
        "backup.vaults",
        "list_backup_vaults",
        "BackupVaultList[]",
        "BackupVaultArn",
        "Backup vaults",
    ),
    # Messaging
    # Without MaxResults, ListQueues answers with at most 1000 queues and no NextToken: a
    # page size makes it paginate.
    _entry(
        "sqs.queues",
        "list_queues",
        "QueueUrls[]",
        "@",
        "SQS queues (URLs only)",
        {"PaginationConfig": {"PageSize": 1000}},
    ),
    _entry("sns.topics", "list_topics", "Topics[]", "TopicArn", "SNS topics (ARNs only)"),
    _entry("kinesis.streams", "list_streams", "StreamSummaries[]", "StreamARN", "Kinesis streams"),
    # Management, security, networking
    _entry(
        "cloudformation.stacks",
        "describe_stacks",
        "Stacks[]",
        "StackId",
        "CloudFormation stacks (StackId is the stack's ARN; deleted stacks excluded)",
    ),
    _entry("kms.keys", "list_keys", "Keys[]", "KeyArn", "KMS keys (ids and ARNs only)"),
    _entry(
        "logs.log_groups",
        "describe_log_groups",
        "logGroups[]",
        "logGroupArn",
        "CloudWatch Logs log groups",
    ),
    _entry(
        "cloudwatch.alarms",
        "describe_alarms",
        "MetricAlarms[]",
        "AlarmArn",
        "CloudWatch metric alarms",
    ),
    _entry(
        "cloudwatch.composite_alarms",
        "describe_alarms",
        "CompositeAlarms[]",
        "AlarmArn",
        "CloudWatch composite alarms",
        {"AlarmTypes": ["CompositeAlarm"]},
    ),
    _entry("events.rules", "list_rules", "Rules[]", "Arn", "EventBridge rules (default event bus)"),
    _entry(
        "route53.hosted_zones",
        "list_hosted_zones",
        "HostedZones[]",
        "Id",
        "Route 53 hosted zones (no ARN in the API: the zone id)",
    ),
    _entry(
        "elbv2.load_balancers",
        "describe_load_balancers",
        "LoadBalancers[]",
        "LoadBalancerArn",
        "Application, network and gateway load balancers",
    ),
    _entry(
        "elbv2.target_groups",
        "describe_target_groups",
        "TargetGroups[]",
        "TargetGroupArn",
        "ELBv2 target groups",
    ),
    _entry(
        "elb.load_balancers",
        "describe_load_balancers",
        "LoadBalancerDescriptions[]",
        "LoadBalancerName",
        "Classic load balancers (no ARN in the API: the name)",
    ),
    _entry(
        "secretsmanager.secrets",
        "list_secrets",
        "SecretList[]",
        "ARN",
        "Secrets Manager secrets: metadata only, never the values",
    ),
    _entry(
        "ssm.parameters",
        "describe_parameters",
        "Parameters[]",
        "Name",
        "SSM parameters: metadata only, never the values (the name: ARN is a late addition)",
    ),
    _entry(
        "acm.certificates",
        "list_certificates",
        "CertificateSummaryList[]",
        "CertificateArn",
        "ACM certificates of every key type (by default ACM lists RSA 1024 and 2048 only)",
        {"Includes": {"keyTypes": _KEY_TYPES}},
    ),
    _entry(
        "cognito-idp.user_pools",
        "list_user_pools",
        "UserPools[]",
        "Id",
        "Cognito user pools (no ARN in the listing: the pool id)",
        {"MaxResults": 60},
    ),
    _entry(
        "cloudtrail.trails",
        "list_trails",
        "Trails[]",
        "TrailARN",
        "CloudTrail trails; a multi-region trail shows in every region (HomeRegion: its own)",
    ),
    _entry(
        "cloudfront.distributions",
        "list_distributions",
        "DistributionList.Items[]",
        "ARN",
        "CloudFront distributions",
    ),
)

CATALOGUE: Mapping[str, ResourceType] = MappingProxyType({t.name: t for t in _ENTRIES})
"""The built-in resource types by name (read-only)."""
