"""The fleet depends on the ``Requester`` protocol, never on ``SessionPool``.

A small fake requester (no pool, no HTTP: it answers the few calls the fleet makes, as a
pool would) drives a fan-out, a crawl and discovery, so the fleet's logic is testable
without SessionPool. Structural checks: no module of the fleet imports ``aiokit._pool``
(TYPE_CHECKING and function-level imports included), and no task group is entered by hand.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import aiokit
from aiokit._fleet.crawl import Crawl
from aiokit._fleet.discovery import Organization, discover_targets
from aiokit._fleet.fanout import Context, FanOut
from aiokit._fleet.limits import FanOutLimits
from aiokit._fleet.outcomes import Status
from aiokit._identity import AssumeRole, DefaultCredentials, Identity
from aiokit._protocols import Requester

pytestmark = pytest.mark.asyncio

PACKAGE = Path(aiokit.__file__).parent
OWN = "111111111111"
MEMBERS = ("222222222222", "333333333333")


class _Pages:
    """What the fleet uses of a Paginator: ``items()``."""

    def __init__(self, records: list[Any]) -> None:
        self._records = records

    async def items(self, key: str | None = None) -> AsyncIterator[Any]:
        for record in self._records:
            yield record


class _Client:
    """A client answering the calls the fleet makes itself (STS, EC2 DescribeRegions)."""

    def __init__(self, requester: FakeRequester, service: str, region: str | None) -> None:
        self._requester = requester
        self.service = service
        self.region = region

    async def get_caller_identity(self) -> dict[str, str]:
        self._requester.calls.append(("sts", "GetCallerIdentity"))
        return {"Account": OWN, "Arn": f"arn:aws:sts::{OWN}:assumed-role/admin/me"}

    async def describe_regions(self, **_: Any) -> dict[str, Any]:
        self._requester.calls.append(("ec2", "DescribeRegions"))
        return {
            "Regions": [
                {"RegionName": "us-east-1", "OptInStatus": "opt-in-not-required"},
                {"RegionName": "eu-west-1", "OptInStatus": "opt-in-not-required"},
                {"RegionName": "af-south-1", "OptInStatus": "not-opted-in"},
            ]
        }


class FakeRequester:
    """A Requester without a pool: every call answered from memory, and recorded."""

    def __init__(self, region: str | None = "us-east-1", role: str | None = "Audit") -> None:
        self._region = region
        self._role = role
        self._identity: Identity = DefaultCredentials()
        self.calls: list[tuple[str, str]] = []
        self.opened = 0

    @property
    def region(self) -> str | None:
        return self._region

    @property
    def identity(self) -> Identity:
        return self._identity

    async def open(self) -> None:
        self.opened += 1

    def identity_for(
        self, identity: Identity | None = None, account: str | None = None, role: str | None = None
    ) -> Identity:
        if identity is not None:
            return identity
        if account is None:
            return self._identity
        role_name = role or self._role
        assert role_name is not None
        return AssumeRole(account=account, role_name=role_name)

    async def client(
        self, service: str, region: str | None = None, *, identity: Identity | None = None, **_: Any
    ) -> _Client:
        self.calls.append((service, f"client {region} {identity!r}"))
        return _Client(self, service, region)

    def paginate(
        self,
        service: str,
        operation: str,
        region: str | None = None,
        *,
        identity: Identity | None = None,
        **params: Any,
    ) -> Any:
        self.calls.append((service, operation))
        if operation == "list_accounts":
            return _Pages(
                [
                    {
                        "Id": account,
                        "Name": f"member-{account[0]}",
                        "Arn": f"arn:aws:organizations::{OWN}:account/o-1/{account}",
                        "Status": "ACTIVE",
                    }
                    for account in (OWN, *MEMBERS)
                ]
            )
        return _Pages([f"{operation}-{region}-{n}" for n in range(3)])

    async def wait(
        self,
        service: str,
        waiter: str,
        region: str | None = None,
        *,
        identity: Identity | None = None,
        **kwargs: Any,
    ) -> Any:
        self.calls.append((service, f"wait {waiter}"))
        return {"waited": waiter}


def _requester(fake: FakeRequester) -> Requester:
    return fake  # the fake satisfies the protocol (the type checker's view of it)


async def test_a_fan_out_runs_on_a_fake_requester_without_a_pool() -> None:
    fake = FakeRequester()
    targets = [
        aiokit.Target(None, "us-east-1"),
        aiokit.Target(OWN, "eu-west-1"),  # the requester's own account: acted as itself
        aiokit.Target(MEMBERS[0], "eu-west-1"),  # another account: through the role
        aiokit.Target.assume(MEMBERS[1], "us-east-1", "Denied"),
    ]

    async def fn(ctx: Context) -> Any:
        if ctx.target.identity is not None and ctx.target.identity.role_name == "Denied":
            raise aiokit.AssumeRoleError(
                "sts AssumeRole: AccessDenied", code="AccessDenied", role_arn="arn:aws:iam::x"
            )
        client = await ctx.client("sqs")
        waited = await ctx.wait("sqs", "queue_exists")
        return [client.region, waited["waited"]]

    limits = FanOutLimits(concurrency=2, per_account=1)
    async with FanOut(_requester(fake), fn, targets, limits) as outcomes:
        got = {o.target: o async for o in outcomes}

    assert [got[t].status for t in targets] == [Status.OK, Status.OK, Status.OK, Status.SKIPPED]
    assert got[targets[1]].value == ["eu-west-1", "queue_exists"]
    assert got[targets[3]].reason == "role not assumable"
    # The account owner was asked of STS once; the member account went through the role.
    assert fake.calls.count(("sts", "GetCallerIdentity")) == 1
    member = AssumeRole(account=MEMBERS[0], role_name="Audit")
    assert ("sqs", f"client eu-west-1 {member!r}") in fake.calls
    assert ("sqs", "client eu-west-1 None") in fake.calls  # own account: no role


async def test_a_crawl_runs_on_a_fake_requester() -> None:
    fake = FakeRequester()
    targets = [aiokit.Target(None, r) for r in ("us-east-1", "eu-west-1")]
    crawl = Crawl(_requester(fake), "sqs", "list_queues", targets, {}, limits=FanOutLimits(1))
    items, report = await crawl.collect()
    assert sorted(i.data for i in items) == sorted(
        f"ListQueues-{r}-{n}" for r in ("us-east-1", "eu-west-1") for n in range(3)
    )
    assert report.counts["ok"] == 2 and report.items == 6
    assert crawl.statistics().items == 6


async def test_discovery_runs_on_a_fake_requester() -> None:
    fake = FakeRequester()
    listed = await discover_targets(_requester(fake), list(MEMBERS), ["us-east-1", "eu-west-1"])
    assert [(t.account, t.region) for t in listed] == [
        (MEMBERS[0], "us-east-1"),
        (MEMBERS[1], "eu-west-1"),
        (MEMBERS[0], "eu-west-1"),
        (MEMBERS[1], "us-east-1"),
    ]
    assert all(t.identity == AssumeRole(account=t.account or "", role_name="Audit") for t in listed)
    assert fake.opened == 1 and fake.calls == []  # listed ids: nothing to ask

    enabled = await discover_targets(_requester(fake), Organization(), "enabled")
    assert {(t.account, t.region) for t in enabled} == {
        (m, r) for m in MEMBERS for r in ("us-east-1", "eu-west-1")
    }  # the management account is left out; af-south-1 is not enabled
    assert ("organizations", "list_accounts") in fake.calls
    assert fake.calls.count(("ec2", "DescribeRegions")) == 2  # one per member account

    mine = await discover_targets(_requester(fake), "self", services=["iam"])
    assert [(t.account, t.region, t.identity) for t in mine] == [(OWN, "us-east-1", None)]


# --- structure ----------------------------------------------------------------------------


def _imported_modules(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, anywhere in it (TYPE_CHECKING, functions), absolute."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _fleet_files() -> list[Path]:
    return [*sorted((PACKAGE / "_fleet").rglob("*.py")), PACKAGE / "_protocols.py"]


def _package_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts if path.name == "__init__.py" else parts[:-1]).removesuffix(".__init__")


def test_no_module_of_the_fleet_imports_the_pool() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in _fleet_files()
        if any(
            m == "aiokit._pool" or m.startswith("aiokit._pool.")
            for m in _imported_modules(path, _package_of(path))
        )
    ]
    assert offenders == []
    assert len(_fleet_files()) >= 12  # the walk found the package (discovery/ included)


def test_no_task_group_is_entered_by_hand() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("__aenter__", "__aexit__")
                and not (
                    isinstance(node.func.value, ast.Attribute)
                    and node.func.value.attr == "_running"
                )
                and not (isinstance(node.func.value, ast.Call))  # super().__aenter__() and kin
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == [], "let an @asynccontextmanager own the task group (streams.running)"


async def test_each_fan_out_worker_runs_on_a_lean_botocore_context() -> None:
    """The workers' botocore context is aiokit's cheaply copied one (the fan-out's one use
    of the seam): deleting ``use_lean_client_context()`` in ``FanOut._work`` fails here."""
    from botocore.context import get_context

    from aiokit._botocore import LeanClientContext

    async def fn(ctx: Context) -> str:
        return type(get_context()).__name__

    targets = [aiokit.Target(None, r) for r in ("us-east-1", "eu-west-1", "us-west-2")]
    outcomes = await FanOut(_requester(FakeRequester()), fn, targets, FanOutLimits(2)).collect()
    assert {o.value for o in outcomes} == {LeanClientContext.__name__}


async def test_fan_out_limits_are_one_checked_value_that_bounds_the_run() -> None:
    import dataclasses
    from collections import Counter

    import anyio

    limits = FanOutLimits(concurrency=8, per_account=2, timeout=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.concurrency = 1  # type: ignore[misc]
    with pytest.raises(aiokit.ConfigurationError, match="per_account must be an int >= 1"):
        FanOutLimits(per_account=0)
    with pytest.raises(aiokit.ConfigurationError, match="concurrency must be at most 100,000"):
        FanOutLimits(concurrency=100_001)

    running: Counter[str | None] = Counter()
    peak: Counter[str | None] = Counter()

    async def fn(ctx: Context) -> int:
        account = ctx.target.account
        running[account] += 1
        peak[account] = max(peak[account], running[account])
        await anyio.sleep(0.01)
        running[account] -= 1
        return 1

    regions = ("us-east-1", "eu-west-1", "us-west-2", "ap-south-1")
    targets = [aiokit.Target.assume(a, r, "Audit") for a in MEMBERS for r in regions]
    outcomes = await FanOut(_requester(FakeRequester()), fn, targets, limits).collect()
    assert [o.status for o in outcomes] == [Status.OK] * len(targets)
    assert set(peak.values()) == {2}  # per_account, not concurrency, bounded each account

    async def slow(ctx: Context) -> int:
        await anyio.sleep(30)
        return 0

    quick = FanOutLimits(timeout=0.05)
    late = await FanOut(_requester(FakeRequester()), slow, targets[:2], quick).collect()
    assert [(o.status, o.reason) for o in late] == [(Status.FAILED, "timeout")] * 2
