"""Target discovery: organizations, id lists, profiles, regions, services and order, on moto."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import pytest_asyncio
from aiohttp import web

import aiokit
from aiokit._botocore import shared_loader
from aiokit._fleet.discovery import Organization, Profiles, discover_targets
from aiokit._fleet.targets import Target
from aiokit.testing import TEST_CREDENTIALS, FakeOrganization, serve_on_loopback
from tests.conftest import relay

pytestmark = pytest.mark.asyncio

ROLE = "OrganizationAccountAccessRole"
MANAGEMENT = "123456789012"
TWO_REGIONS = ["us-east-1", "eu-west-1"]


def _org_client(endpoint: str) -> Any:
    return boto3.client(
        "organizations",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _aws_regions() -> list[str]:
    data = shared_loader().load_data("endpoints")
    return list(next(p for p in data["partitions"] if p["partition"] == "aws")["regions"])


def _cells(targets: list[Target]) -> set[tuple[str | None, str | None]]:
    return {(t.account, t.region) for t in targets}


async def _account_of(pool: aiokit.SessionPool, target: Target) -> str:
    sts = await pool.client("sts", target.region, identity=target.identity)
    return str((await sts.get_caller_identity())["Account"])


# --- organizations ----------------------------------------------------------------------------


async def test_organization_targets_every_active_member_in_every_region(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    targets = await discover_targets(aiokit_pool, Organization(), regions=TWO_REGIONS)
    members = fake_organization.account_ids
    assert len(targets) == len(members) * 2
    assert _cells(targets) == {(a, r) for a in members for r in TWO_REGIONS}
    by_id = {a.id: a for a in fake_organization.accounts}
    for t in targets:
        assert t.partition == "aws"
        assert t.identity == aiokit.AssumeRole(account=t.account, role_name=ROLE)
        assert t.account is not None
        assert t.name == by_id[t.account].name
    # The identities really reach their accounts (moto maps the role ARN's account).
    assert await _account_of(aiokit_pool, targets[0]) == targets[0].account
    assert await _account_of(aiokit_pool, targets[-1]) == targets[-1].account


async def test_organization_is_listed_once_per_pool_and_never_described_per_account(
    aiokit_pool: aiokit.SessionPool,
    fake_organization: FakeOrganization,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operations: list[str] = []
    paginate = aiokit_pool.paginate

    def counting(service: str, operation: str, *args: Any, **kw: Any) -> aiokit.Paginator:
        operations.append(operation)
        return paginate(service, operation, *args, **kw)

    monkeypatch.setattr(aiokit_pool, "paginate", counting)
    first = await discover_targets(aiokit_pool, Organization())
    second = await discover_targets(aiokit_pool, Organization(exclude=["member-0"]))
    assert operations == ["list_accounts"]  # no tags, no OU walk: neither was asked for
    assert len(first) == 6
    assert len(second) == 5
    await discover_targets(aiokit_pool, Organization(), refresh=True)
    assert operations == ["list_accounts", "list_accounts"]


async def test_organization_tags_and_ous_are_read_only_when_filtered_on(
    aiokit_pool: aiokit.SessionPool,
    fake_organization: FakeOrganization,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operations: list[str] = []
    paginate = aiokit_pool.paginate

    def counting(service: str, operation: str, *args: Any, **kw: Any) -> aiokit.Paginator:
        operations.append(operation)
        return paginate(service, operation, *args, **kw)

    monkeypatch.setattr(aiokit_pool, "paginate", counting)
    targets = await discover_targets(aiokit_pool, Organization(tags={"env": "prod"}))
    assert operations.count("list_tags_for_resource") == 6
    # Tags once read are not read again, but a spec that does not ask for them has none:
    # what a spec gives does not depend on what ran before (see the tests at the end).
    targets = await discover_targets(aiokit_pool, Organization(ous=["Root"]))
    assert operations.count("list_tags_for_resource") == 6
    assert operations.count("list_roots") == 1
    by_id = {a.id: a for a in fake_organization.accounts}
    for t in targets:
        assert t.account is not None
        assert t.ou_path == f"Root/{by_id[t.account].ou}"
        assert dict(t.tags) == {}
    targets = await discover_targets(aiokit_pool, Organization(with_tags=True))
    assert operations.count("list_tags_for_resource") == 6
    for t in targets:
        assert t.account is not None
        assert t.ou_path is None
        assert dict(t.tags) == by_id[t.account].tags


def _ids(org: FakeOrganization, *indexes: int) -> set[str]:
    return {org.accounts[i].id for i in indexes}


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        pytest.param(
            lambda o: [o.accounts[0].id, o.accounts[3].id], None, (0, 3), id="include-ids"
        ),
        pytest.param(lambda o: ["member-[12]"], None, (1, 2), id="include-name-pattern"),
        pytest.param(None, lambda o: [o.accounts[5].id], (0, 1, 2, 3, 4), id="exclude-id"),
        pytest.param(None, lambda o: ["member-*"], (), id="exclude-all-by-pattern"),
        pytest.param(
            lambda o: ["member-*"], lambda o: ["*-4", "member-0"], (1, 2, 3, 5), id="both"
        ),
        pytest.param(lambda o: ["MEMBER-*"], None, (), id="patterns-are-case-sensitive"),
    ],
)
async def test_include_and_exclude_by_id_and_name_pattern(
    aiokit_pool: aiokit.SessionPool,
    fake_organization: FakeOrganization,
    include: Any,
    exclude: Any,
    expected: tuple[int, ...],
) -> None:
    spec = Organization(
        include=include(fake_organization) if include else None,
        exclude=exclude(fake_organization) if exclude else None,
    )
    targets = await discover_targets(aiokit_pool, spec, regions="us-east-1")
    assert {t.account for t in targets} == _ids(fake_organization, *expected)


@pytest.fixture
def nested_ou(fake_organization: FakeOrganization) -> str:
    """Moves member-2 (in prod) into a new OU prod/web; returns the new OU's id."""
    org = _org_client(fake_organization.endpoint_url)
    try:
        web_ou = org.create_organizational_unit(ParentId=fake_organization.ous["prod"], Name="web")[
            "OrganizationalUnit"
        ]["Id"]
        org.move_account(
            AccountId=fake_organization.accounts[2].id,
            SourceParentId=fake_organization.ous["prod"],
            DestinationParentId=web_ou,
        )
    finally:
        org.close()
    return str(web_ou)


@pytest.mark.parametrize(
    ("ous", "expected"),
    [
        pytest.param(lambda o, web: ["prod"], (0, 2, 4), id="name-recursive"),
        pytest.param(lambda o, web: [o.ous["dev"]], (1, 3, 5), id="id"),
        pytest.param(lambda o, web: [web], (2,), id="nested-id"),
        pytest.param(lambda o, web: ["Root/prod/web"], (2,), id="path"),
        pytest.param(lambda o, web: ["web", "dev"], (1, 2, 3, 5), id="several"),
    ],
)
async def test_ou_filter_by_name_id_and_path(
    aiokit_pool: aiokit.SessionPool,
    fake_organization: FakeOrganization,
    nested_ou: str,
    ous: Any,
    expected: tuple[int, ...],
) -> None:
    spec = Organization(ous=ous(fake_organization, nested_ou))
    targets = await discover_targets(aiokit_pool, spec, regions="us-east-1")
    assert {t.account for t in targets} == _ids(fake_organization, *expected)
    paths = {t.account: t.ou_path for t in targets}
    if fake_organization.accounts[2].id in paths:
        assert paths[fake_organization.accounts[2].id] == "Root/prod/web"


async def test_unknown_ou_is_a_configuration_error(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    with pytest.raises(aiokit.ConfigurationError, match=r"no organizational unit 'prdo'.*prod"):
        await discover_targets(aiokit_pool, Organization(ous=["prdo"]))


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param({"env": "prod"}, (0, 2, 4), id="one-pair"),
        pytest.param({"env": "dev", "index": "3"}, (3,), id="all-pairs-must-match"),
        pytest.param({"env": "staging"}, (), id="no-match"),
    ],
)
async def test_tag_filter(
    aiokit_pool: aiokit.SessionPool,
    fake_organization: FakeOrganization,
    tags: dict[str, str],
    expected: tuple[int, ...],
) -> None:
    targets = await discover_targets(aiokit_pool, Organization(tags=tags), regions="us-east-1")
    assert {t.account for t in targets} == _ids(fake_organization, *expected)
    for t in targets:
        assert tags.items() <= t.tags.items()


async def test_management_account_is_visited_as_the_pool_itself(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    without = await discover_targets(aiokit_pool, Organization())
    assert MANAGEMENT not in {t.account for t in without}
    targets = await discover_targets(aiokit_pool, Organization(include_management=True))
    assert len(targets) == 7
    management = next(t for t in targets if t.account == MANAGEMENT)
    assert management.identity is None
    assert await _account_of(aiokit_pool, management) == MANAGEMENT


async def test_inactive_accounts_are_skipped(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    closed = fake_organization.accounts[1].id
    org = _org_client(fake_organization.endpoint_url)
    try:
        org.close_account(AccountId=closed)
        # moto suspends at once (AWS goes through PENDING_CLOSURE): neither is ACTIVE.
        entry = next(a for a in org.list_accounts()["Accounts"] if a["Id"] == closed)
        assert entry["State"] != "ACTIVE"
    finally:
        org.close()
    targets = await discover_targets(aiokit_pool, Organization(), regions=TWO_REGIONS)
    assert len(targets) == 5 * 2
    assert closed not in {t.account for t in targets}


async def test_organization_with_role_argument_is_refused(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    with pytest.raises(aiokit.ConfigurationError, match=r"Organization\(role=\.\.\.\)"):
        await discover_targets(aiokit_pool, Organization(), role="Other")


def test_organization_checks_role_names_at_once() -> None:
    with pytest.raises(aiokit.InvalidRoleError):
        Organization(role="no spaces allowed")
    with pytest.raises(aiokit.InvalidRoleError):
        Organization(session_name="x")


def test_specs_are_hashable_and_say_what_they_select() -> None:
    spec = Organization(include="111111111111", tags={"env": "prod"}, external_id="secret")
    assert spec.include == ("111111111111",)  # a bare string is one item
    same = Organization(include=["111111111111"], tags={"env": "prod"}, external_id="secret")
    assert spec == same
    assert hash(spec) == hash(same)
    assert repr(spec) == (
        "aiokit.Organization(include=('111111111111',), tags={'env': 'prod'}, external_id=...)"
    )
    assert repr(Organization()) == "aiokit.Organization()"
    assert Profiles("a") == Profiles(["a"])
    assert repr(Profiles(["a", "b"])) == "aiokit.Profiles(['a', 'b'])"


# --- regions --------------------------------------------------------------------------------


async def test_all_regions_are_botocores_regions_of_the_partition(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    regions = _aws_regions()
    targets = await discover_targets(aiokit_pool, Organization(), regions="all")
    assert len(targets) == 6 * len(regions)
    assert {t.region for t in targets} == set(regions)


async def test_enabled_regions_follow_each_accounts_describe_regions(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    # moto answers DescribeRegions with every region of every partition, ignoring
    # AllRegions, and marks the opt-in ones "not-opted-in".
    ec2 = boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=fake_organization.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        answer = ec2.describe_regions()["Regions"]
    finally:
        ec2.close()
    expected = {
        r["RegionName"]
        for r in answer
        if r["OptInStatus"] != "not-opted-in" and r["RegionName"] in _aws_regions()
    }
    assert "ap-east-1" not in expected  # opt-in, not opted in
    spec = Organization(include=["member-0", "member-1"])
    targets = await discover_targets(aiokit_pool, spec, regions="enabled")
    assert len(targets) == 2 * len(expected)
    assert {t.region for t in targets} == expected
    assert not any(t.region.startswith(("cn-", "us-gov-")) for t in targets if t.region)


class DeniedEC2:
    """An EC2 endpoint on loopback that refuses DescribeRegions, counting the requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
            "<Code>UnauthorizedOperation</Code><Message>You are not authorized to perform "
            "this operation.</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
        )
        return web.Response(status=403, text=body, content_type="text/xml")


@pytest_asyncio.fixture
async def denied_ec2() -> AsyncIterator[DeniedEC2]:
    server = DeniedEC2()
    async with serve_on_loopback(server.handle) as server.url:
        yield server


async def test_enabled_regions_fall_back_to_defaults_when_denied_and_are_cached(
    fake_organization: FakeOrganization, denied_ec2: DeniedEC2
) -> None:
    async with aiokit.SessionPool(
        endpoint_url=fake_organization.endpoint_url,
        endpoint_urls={"ec2": denied_ec2.url},
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
    ) as pool:
        spec = Organization(include=["member-0", "member-1"])
        targets = await discover_targets(pool, spec, regions="enabled")
        defaults = {
            *("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1"),
            *("eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1"),
            *("ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1"),
            *("ap-southeast-1", "ap-southeast-2"),
        }
        assert {t.region for t in targets} == defaults
        assert len(targets) == 2 * 17
        assert denied_ec2.requests == 2  # once per account: 403 is not retried
        await discover_targets(pool, spec, regions="enabled")
        assert denied_ec2.requests == 2  # cached per account


async def test_enabled_regions_are_looked_up_only_for_regional_services(
    fake_organization: FakeOrganization, denied_ec2: DeniedEC2
) -> None:
    async with aiokit.SessionPool(
        endpoint_url=fake_organization.endpoint_url,
        endpoint_urls={"ec2": denied_ec2.url},
        region="us-east-1",
        credentials=TEST_CREDENTIALS,
    ) as pool:
        targets = await discover_targets(pool, Organization(), "enabled", services=["iam"])
        assert len(targets) == 6
        assert denied_ec2.requests == 0


@pytest.mark.parametrize(
    ("regions", "error", "match"),
    [
        pytest.param(["us-east-1", "eu-wset-1"], aiokit.InvalidRegionError, "eu-west-1", id="typo"),
        pytest.param("mars-north-1", aiokit.InvalidRegionError, "unknown region", id="unknown"),
        pytest.param(["all"], aiokit.InvalidRegionError, "stand alone", id="all-in-a-list"),
        pytest.param(
            ["us-east-1", "cn-north-1"], aiokit.InvalidRegionError, "partitions", id="mixed"
        ),
        pytest.param([], aiokit.InvalidRegionError, "no region", id="empty"),
    ],
)
async def test_bad_regions_are_configuration_errors(
    aiokit_pool: aiokit.SessionPool, regions: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await discover_targets(aiokit_pool, regions=regions)
    assert issubclass(error, aiokit.ConfigurationError)


async def test_regions_outside_the_accounts_partition_are_refused(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    with pytest.raises(aiokit.InvalidRegionError, match="partition aws, regions"):
        await discover_targets(aiokit_pool, Organization(), regions=["cn-north-1"])


# --- services ---------------------------------------------------------------------------------


def _service_regions(service: str) -> set[str]:
    # boto3's public answer, to check aiokit's reading of the same data independently.
    return set(boto3.Session().get_available_regions(service)) & set(_aws_regions())


@pytest.mark.parametrize(
    "service",
    [
        pytest.param("sso", id="sso"),
        # Its endpoint prefix (appstream2) differs from its name.
        pytest.param("appstream", id="endpoint-prefix"),
    ],
)
async def test_services_cut_regions_to_where_they_exist(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization, service: str
) -> None:
    available = _service_regions(service)
    missing = set(_aws_regions()) - available
    assert available
    assert missing, f"{service} is now in every region: pick another service for this test"
    targets = await discover_targets(aiokit_pool, Organization(), "all", services=[service])
    assert len(targets) == 6 * len(available)
    assert {t.region for t in targets} == available


async def test_a_service_absent_from_an_explicit_region_drops_that_region(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    absent = sorted(set(_aws_regions()) - _service_regions("sso"))[0]
    targets = await discover_targets(aiokit_pool, "self", ["us-east-1", absent], ["sso"])
    assert [t.region for t in targets] == ["us-east-1"]


async def test_global_service_gives_one_target_per_account_in_the_global_region(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    targets = await discover_targets(aiokit_pool, Organization(), "all", services=["iam"])
    assert len(targets) == 6
    assert {t.region for t in targets} == {"us-east-1"}
    # The region is set so the target works whatever the pool's default region.
    iam = await aiokit_pool.client("iam", targets[0].region, identity=targets[0].identity)
    assert "Roles" in await iam.list_roles()


async def test_global_and_regional_services_give_the_union(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    targets = await discover_targets(
        aiokit_pool, Organization(), ["eu-west-1", "ap-southeast-2"], ["organizations", "ec2"]
    )
    assert len(targets) == 6 * 3
    # The global cells are one per account, in the partition's global region.
    assert sorted(t.account for t in targets if t.region == "us-east-1") == sorted(
        fake_organization.account_ids
    )
    # A global region that is also asked for regionally is one cell, not two.
    both = await discover_targets(aiokit_pool, Organization(), ["us-east-1"], ["iam", "ec2"])
    assert len(both) == 6


async def test_unknown_service_is_refused(aiokit_pool: aiokit.SessionPool) -> None:
    with pytest.raises(aiokit.UnknownServiceError):
        await discover_targets(aiokit_pool, services=["ec3"])


# --- order --------------------------------------------------------------------------------------


async def test_targets_are_diagonal_so_neighbours_differ_in_account_and_region(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    regions = ["eu-west-1", "us-east-1", "ap-southeast-2"]
    targets = await discover_targets(aiokit_pool, Organization(), regions)
    assert len(targets) == 18
    assert len(set(targets)) == 18
    assert all(a.account != b.account for a, b in itertools.pairwise(targets))
    assert all(a.region != b.region for a, b in itertools.pairwise(targets))
    accounts = fake_organization.account_ids
    for block in range(3):  # each round visits every account once
        assert sorted(t.account for t in targets[block * 6 : block * 6 + 6]) == sorted(accounts)
    assert targets[0].region == "eu-west-1"  # the caller's region order leads


# --- id lists, self, profiles -------------------------------------------------------------


async def test_explicit_account_ids_are_reached_through_the_role(
    aiokit_pool: aiokit.SessionPool, fake_organization: FakeOrganization
) -> None:
    ids = fake_organization.account_ids[:2]
    targets = await discover_targets(aiokit_pool, [*ids, ids[0]], TWO_REGIONS, role=ROLE)
    assert [(t.account, t.region) for t in targets] == [
        (ids[0], "us-east-1"),
        (ids[1], "eu-west-1"),
        (ids[0], "eu-west-1"),
        (ids[1], "us-east-1"),
    ]  # diagonal: each round visits both accounts, in different regions
    assert targets[1].identity == aiokit.AssumeRole(account=ids[1], role_name=ROLE)
    assert await _account_of(aiokit_pool, targets[1]) == ids[1]
    single = await discover_targets(aiokit_pool, ids[0], role=ROLE)
    assert _cells(single) == {(ids[0], "us-east-1")}


async def test_explicit_account_ids_use_the_pools_role_by_default(moto_endpoint: str) -> None:
    async with aiokit.SessionPool(
        endpoint_url=moto_endpoint, region="eu-west-1", credentials=TEST_CREDENTIALS, role=ROLE
    ) as pool:
        targets = await discover_targets(pool, ["111111111111"])
    assert targets == [Target("111111111111", "eu-west-1")]
    assert targets[0].identity == aiokit.AssumeRole(account="111111111111", role_name=ROLE)


@pytest.mark.parametrize(
    ("accounts", "role", "error", "match"),
    [
        pytest.param(["111111111111"], None, aiokit.ConfigurationError, "no role", id="no-role"),
        pytest.param(["1111"], ROLE, aiokit.InvalidRoleError, "'1111'.*12 digits", id="short-id"),
        pytest.param("everyone", None, aiokit.ConfigurationError, "'self'", id="bad-spec"),
        pytest.param("self", ROLE, aiokit.ConfigurationError, "role=", id="role-with-self"),
        pytest.param(["111111111111"], "bad role!", aiokit.InvalidRoleError, "role", id="bad-role"),
    ],
)
async def test_bad_account_specs_are_configuration_errors(
    aiokit_pool: aiokit.SessionPool,
    accounts: Any,
    role: str | None,
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        await discover_targets(aiokit_pool, accounts, role=role)


async def test_self_is_the_pools_own_account(aiokit_pool: aiokit.SessionPool) -> None:
    targets = await discover_targets(aiokit_pool)
    assert targets == [Target(MANAGEMENT, "us-east-1", "aws")]
    assert targets[0].identity is None
    targets = await discover_targets(aiokit_pool, "self", TWO_REGIONS)
    assert [t.region for t in targets] == TWO_REGIONS


async def test_profiles_are_found_by_get_caller_identity(
    aiokit_pool: aiokit.SessionPool,
    fake_organization: FakeOrganization,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    member = fake_organization.account_ids[0]
    config = tmp_path / "config"
    config.write_text(
        "[profile base]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        f"[profile member]\nrole_arn = {fake_organization.role_arn(member)}\n"
        "source_profile = base\n"
        "[profile again]\nrole_arn = "
        f"{fake_organization.role_arn(member)}\nsource_profile = base\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    # botocore's own assume-role provider (for the role profiles) must reach moto too.
    monkeypatch.setenv("AWS_ENDPOINT_URL", fake_organization.endpoint_url)
    targets = await discover_targets(aiokit_pool, Profiles(["base", "member", "again"]))
    assert [(t.account, t.identity) for t in targets] == [
        (MANAGEMENT, aiokit.Profile("base")),
        (member, aiokit.Profile("member")),  # "again" is the same account: visited once
    ]
    with pytest.raises(aiokit.ConfigurationError):
        Profiles([])


# --- Organization(): the calls it makes, the calling account, details independent of history ---


class RecordingProxy:
    """Forwards every request to moto and records the operations, as AWS would see them."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.operations: list[str] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        target = request.headers.get("X-Amz-Target")  # JSON protocols: Organizations
        if target is not None:
            self.operations.append(target.rsplit(".", 1)[-1])
        else:  # query protocols: STS, EC2
            form = dict(p.split("=", 1) for p in body.decode().split("&") if "=" in p)
            self.operations.append(form.get("Action", f"{request.method} {request.path}"))
        return await relay(request, body, self.upstream)


@pytest_asyncio.fixture
async def recording(fake_organization: FakeOrganization) -> AsyncIterator[RecordingProxy]:
    proxy = RecordingProxy(fake_organization.endpoint_url)
    async with serve_on_loopback(proxy.handle) as proxy.url:
        yield proxy


def _pool_via(proxy: RecordingProxy) -> aiokit.SessionPool:
    return aiokit.SessionPool(
        endpoint_url=proxy.url, region="us-east-1", credentials=TEST_CREDENTIALS
    )


def _details(targets: list[Target]) -> list[tuple[Any, ...]]:
    return [
        (t.account, t.region, t.name, t.identity, t.ou_path, sorted(t.tags.items()))
        for t in targets
    ]


async def test_organization_calls_list_accounts_only(
    recording: RecordingProxy, fake_organization: FakeOrganization
) -> None:
    """One permission, one paginated call: the management account comes from the ARNs."""
    async with _pool_via(recording) as pool:
        targets = await discover_targets(pool, Organization(), regions="us-east-1")
    assert recording.operations == ["ListAccounts"]
    assert {t.account for t in targets} == set(fake_organization.account_ids)
    assert MANAGEMENT not in {t.account for t in targets}


async def test_including_the_management_account_asks_only_who_the_pool_is(
    recording: RecordingProxy, fake_organization: FakeOrganization
) -> None:
    async with _pool_via(recording) as pool:
        spec = Organization(include_management=True)
        targets = await discover_targets(pool, spec, regions="us-east-1")
    # GetCallerIdentity: whether the pool is in the management account (then no role)
    assert recording.operations == ["ListAccounts", "GetCallerIdentity"]
    management = next(t for t in targets if t.account == MANAGEMENT)
    assert management.identity is None


async def test_exclude_self_drops_the_calling_account(
    recording: RecordingProxy, fake_organization: FakeOrganization
) -> None:
    async with _pool_via(recording) as pool:
        spec = Organization(include_management=True, exclude=["self"])
        targets = await discover_targets(pool, spec, regions="us-east-1")
        assert {t.account for t in targets} == set(fake_organization.account_ids)
        only = Organization(include_management=True, include=["self"])
        (me,) = await discover_targets(pool, only, regions="us-east-1")
        # and combined with other patterns, as an id among ids
        spec = Organization(exclude=["self", "member-0"])
        rest = await discover_targets(pool, spec, regions="us-east-1")
    assert me.account == MANAGEMENT and me.identity is None
    assert {t.account for t in rest} == set(fake_organization.account_ids[1:])
    assert recording.operations.count("GetCallerIdentity") == 1  # asked once per pool


EARLIER: list[dict[str, Any]] = [
    {"ous": ["Root"]},
    {"tags": {"env": "prod"}},
    {"with_tags": True, "with_ou_paths": True, "include_management": True},
]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({}, id="plain"),
        pytest.param({"ous": ["prod"]}, id="ous"),
        pytest.param({"tags": {"env": "dev"}}, id="tags"),
        pytest.param({"with_ou_paths": True}, id="with-ou-paths"),
        pytest.param({"with_tags": True}, id="with-tags"),
    ],
)
async def test_the_same_spec_gives_the_same_targets_whatever_ran_before(
    fake_organization: FakeOrganization, spec: dict[str, Any]
) -> None:
    endpoint = fake_organization.endpoint_url
    async with aiokit.SessionPool(
        endpoint_url=endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as fresh:
        alone = await discover_targets(fresh, Organization(**spec), regions=TWO_REGIONS)
    async with aiokit.SessionPool(
        endpoint_url=endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as used:
        for earlier in EARLIER:
            await discover_targets(used, Organization(**earlier), regions="us-east-1")
        after = await discover_targets(used, Organization(**spec), regions=TWO_REGIONS)
    assert _details(after) == _details(alone)
    assert alone


async def test_ou_paths_and_tags_are_filled_on_request_at_their_cost(
    recording: RecordingProxy, fake_organization: FakeOrganization
) -> None:
    by_id = {a.id: a for a in fake_organization.accounts}
    async with _pool_via(recording) as pool:
        plain = await discover_targets(pool, Organization(), regions="us-east-1")
        assert all(t.ou_path is None and not t.tags for t in plain)
        paths = await discover_targets(pool, Organization(with_ou_paths=True), "us-east-1")
        walk = recording.operations[1:]
        tagged = await discover_targets(pool, Organization(with_tags=True), "us-east-1")
        reads = recording.operations[1 + len(walk) :]
    # the OU walk: the root, then each unit's OUs and accounts (Root, prod, dev)
    assert walk.count("ListRoots") == 1
    assert walk.count("ListOrganizationalUnitsForParent") == 3
    assert walk.count("ListAccountsForParent") == 3
    assert len(walk) == 7
    assert reads == ["ListTagsForResource"] * len(fake_organization.accounts)
    for t in paths:
        assert t.account is not None
        assert t.ou_path == f"Root/{by_id[t.account].ou}" and not t.tags
    for t in tagged:
        assert t.account is not None
        assert dict(t.tags) == by_id[t.account].tags and t.ou_path is None


def test_cli_targets_of_an_organization_show_each_accounts_ou(
    fake_organization: FakeOrganization,
) -> None:
    """``aiokit targets`` has an "ou" column: it is filled, not left empty."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "aiokit.cli", "targets", "--accounts", "org", "--regions",
         "us-east-1", "--endpoint-url", fake_organization.endpoint_url, "--region", "us-east-1"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    import json

    rows = json.loads(done.stdout)  # piped: one JSON document, a record a target
    assert len(rows) == len(fake_organization.accounts)
    for account in fake_organization.accounts:
        (row,) = [r for r in rows if r["account"] == account.id]
        assert row["ou"] == f"Root/{account.ou}"
