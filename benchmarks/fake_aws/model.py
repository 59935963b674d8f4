"""The fake AWS world: its configuration knobs and its deterministic ground truth.

This module is stdlib-only on purpose: the benchmark harness and the tests import it to
compute, in-process and without the server, exactly which items the fake serves
(``expected_items``), so a crawl can be scored for lost and duplicated items.  The server
(``server.py``) generates its answers from the same functions, so the two cannot drift.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

# The commercial regions AWS enables by default for every account.  (AWS lists 17 today:
# ap-northeast-3 became a default region in 2021.)
DEFAULT_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
)

# A few regions that an account must opt in to before it can use them.
OPT_IN_REGIONS: tuple[str, ...] = (
    "af-south-1",
    "ap-east-1",
    "ap-south-2",
    "eu-south-1",
    "me-south-1",
)

# Resource kinds the fake serves, and the operation that lists each.
KINDS: dict[str, str] = {
    "instances": "ec2:DescribeInstances",
    "tables": "dynamodb:ListTables",
    "functions": "lambda:ListFunctions",
    "buckets": "s3:ListBuckets",
    "objects": "s3:ListObjectsV2",
}

# Token-bucket defaults as [burst, refill per second], keyed by "service:Action" patterns
# (a trailing "*" matches a prefix; the longest matching pattern wins).  EC2's numbers are
# the documented non-mutating/mutating buckets; the others are plausible values in the
# order of magnitude AWS documents, not authoritative quotas.
DEFAULT_BUCKETS: dict[str, list[float]] = {
    "ec2:Describe*": [100.0, 20.0],
    "ec2:*": [200.0, 5.0],
    "sts:*": [600.0, 600.0],
    "organizations:*": [20.0, 10.0],
    "dynamodb:*": [100.0, 100.0],
    "lambda:*": [30.0, 15.0],
    "s3:*": [5500.0, 5500.0],
}

# Largest page each list operation answers when the client asks for more (or nothing).
DEFAULT_PAGE_SIZE: dict[str, int] = {
    "DescribeInstances": 1000,
    "ListAccounts": 20,
    "ListTables": 100,
    "ListFunctions": 50,
    "ListBuckets": 10000,
    "ListObjectsV2": 1000,
}

DEFAULT_ITEMS: dict[str, int] = {
    "instances": 10,
    "tables": 5,
    "functions": 5,
    "buckets": 1,
    "objects": 20,
}


@dataclass
class FakeConfig:
    """Every knob of the fake endpoint.  JSON-serialisable (``to_dict`` / ``from_dict``).

    Changes sent at run time (``FakeAWS.configure`` or ``POST /_fake/config``) are merged:
    a dict-valued field is updated key by key, any other field is replaced.
    """

    # -- organisation
    accounts: int = 10  # member accounts: 100000000001, 100000000002, ...
    management_account: str = "100000000000"
    suspended_accounts: list[str] = field(default_factory=list)
    # -- regions
    regions: list[str] = field(default_factory=lambda: [*DEFAULT_REGIONS, *OPT_IN_REGIONS])
    opt_in_regions: list[str] = field(default_factory=lambda: list(OPT_IN_REGIONS))
    # account id (or "*" for every account) -> regions NOT enabled for it.  Every opt-in
    # region is opted in unless listed here.
    disabled_regions: dict[str, list[str]] = field(default_factory=dict)
    # account id (or "*") -> role names AssumeRole refuses ("*" refuses every role)
    denied_roles: dict[str, list[str]] = field(default_factory=dict)
    # -- latency, per request.  sigma 0: fixed latency_ms; sigma > 0: lognormal with
    # median latency_ms and that sigma.
    latency_ms: float = 0.0
    latency_sigma: float = 0.0
    # -- data
    items: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_ITEMS))
    # "account" or "account/region" -> {kind: count} overriding ``items`` there
    item_overrides: dict[str, dict[str, int]] = field(default_factory=dict)
    page_size: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PAGE_SIZE))
    instances_per_reservation: int = 2
    # -- throttling: one token bucket per (caller account, region, "service:Action")
    throttle: bool = False
    buckets: dict[str, list[float]] = field(default_factory=lambda: dict(DEFAULT_BUCKETS))
    retry_after_ms: int = 0  # >0 adds x-amz-retry-after (milliseconds) to throttles
    # -- faults: independent probabilities per AWS request, drawn from one seeded RNG
    fault_seed: int = 0
    fault_500: float = 0.0
    fault_503: float = 0.0
    fault_reset: float = 0.0
    fault_stall: float = 0.0
    stall_seconds: float = 10.0
    fault_actions: list[str] = field(default_factory=list)  # patterns; empty: every action
    # -- observability
    stats_by_target: bool = False  # count requests per (account, region, action)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FakeConfig:
        return cls().merged(data)

    def merged(self, changes: dict[str, Any]) -> FakeConfig:
        """A copy with ``changes`` merged in; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown FakeConfig fields: {sorted(unknown)}")
        current = self.to_dict()
        for key, value in changes.items():
            if isinstance(current[key], dict) and isinstance(value, dict):
                current[key] = {**current[key], **value}
            else:
                current[key] = value
        return FakeConfig(**current)

    # -- derived facts, shared by the server and the in-process ground truth

    def member_accounts(self) -> list[str]:
        base = int(self.management_account)
        return [f"{base + i:012d}" for i in range(1, self.accounts + 1)]

    def all_accounts(self) -> list[str]:
        """Every account of the organisation, management first (as ListAccounts orders)."""
        return [self.management_account, *self.member_accounts()]

    def region_enabled(self, account: str, region: str) -> bool:
        if region not in self.regions:
            return False
        for key in ("*", account):
            if region in self.disabled_regions.get(key, ()):
                return False
        return True

    def enabled_regions(self, account: str) -> list[str]:
        return [r for r in self.regions if self.region_enabled(account, r)]

    def role_denied(self, account: str, role: str) -> bool:
        for key in ("*", account):
            denied = self.denied_roles.get(key, ())
            if "*" in denied or role in denied:
                return True
        return False

    def item_count(self, account: str, region: str, kind: str) -> int:
        for key in (f"{account}/{region}", account):
            override = self.item_overrides.get(key)
            if override is not None and kind in override:
                return int(override[kind])
        return int(self.items.get(kind, 0))

    def pages(self, operation: str, count: int) -> int:
        """Pages a full listing of ``count`` items takes at the server's page size."""
        size = self.page_size.get(operation, 1000)
        return max(1, math.ceil(count / size))

    def latency_mean_s(self) -> float:
        """Mean of the per-request latency distribution, in seconds."""
        if self.latency_sigma > 0:
            return self.latency_ms / 1000 * math.exp(self.latency_sigma**2 / 2)
        return self.latency_ms / 1000


def pattern_match(pattern: str, key: str) -> bool:
    """``service:Action`` pattern match: exact, or prefix when the pattern ends in ``*``."""
    if pattern.endswith("*"):
        return key.startswith(pattern[:-1])
    return key == pattern


def best_pattern(patterns: dict[str, Any] | list[str], key: str) -> str | None:
    """The longest pattern matching ``key`` (so ``ec2:Describe*`` beats ``ec2:*``)."""
    best: str | None = None
    for pattern in patterns:
        if pattern_match(pattern, key) and (best is None or len(pattern) > len(best)):
            best = pattern
    return best


@functools.lru_cache(maxsize=1 << 16)
def _digest(kind: str, account: str, region: str, index: int) -> str:
    # blake2b is fast and stable across processes (unlike hash()), so the harness and the
    # server compute the same ids independently.
    return hashlib.blake2b(f"{kind}:{account}:{region}:{index}".encode(), digest_size=9).hexdigest()


def instance_id(account: str, region: str, index: int) -> str:
    return "i-" + _digest("i", account, region, index)[:17]


def reservation_id(account: str, region: str, index: int) -> str:
    return "r-" + _digest("r", account, region, index)[:17]


def table_name(account: str, region: str, index: int) -> str:
    # Zero-padded so the lexical order DynamoDB pages in equals the index order.
    return f"table-{index:05d}"


def function_name(account: str, region: str, index: int) -> str:
    return f"function-{index:05d}"


def bucket_name(account: str, region: str, index: int) -> str:
    # S3 bucket names are global: encoding owner and region in the name lets the server
    # answer ListObjectsV2 for any bucket without state.
    return f"fake-{account}-{region}-{index:03d}"


def parse_bucket_name(name: str) -> tuple[str, str, int] | None:
    """(account, region, index) of a bucket ``bucket_name`` made, else None."""
    parts = name.split("-")
    if len(parts) < 4 or parts[0] != "fake" or not parts[1].isdigit():
        return None
    try:
        index = int(parts[-1])
    except ValueError:
        return None
    return parts[1], "-".join(parts[2:-1]), index


def object_key(index: int) -> str:
    return f"obj-{index:06d}"


_MAKERS = {
    "instances": instance_id,
    "tables": table_name,
    "functions": function_name,
    "buckets": bucket_name,
}


def expected_items(
    config: FakeConfig, account: str | None, region: str | None, kind: str
) -> list[str]:
    """Exactly the items the fake serves for (account, region, kind), in listing order.

    kinds: ``instances`` (instance ids), ``tables``, ``functions``, ``buckets`` (bucket
    names located in that region), ``objects`` (``bucket/key`` for every object of every
    bucket of that account and region), ``accounts`` (ListAccounts ids; account and region
    are ignored).  A region not enabled for the account holds nothing.
    """
    if kind == "accounts":
        return config.all_accounts()
    if account is None or region is None:
        raise ValueError(f"kind {kind!r} needs an account and a region")
    if not config.region_enabled(account, region):
        return []
    if kind == "objects":
        out: list[str] = []
        for bucket in expected_items(config, account, region, "buckets"):
            out.extend(f"{bucket}/{key}" for key in object_keys(config, bucket))
        return out
    try:
        make = _MAKERS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; known: {sorted(KINDS)}") from None
    return [make(account, region, i) for i in range(config.item_count(account, region, kind))]


def object_keys(config: FakeConfig, bucket: str) -> list[str]:
    """The keys stored in ``bucket`` (empty for a bucket the fake does not hold)."""
    parsed = parse_bucket_name(bucket)
    if parsed is None:
        return []
    account, region, index = parsed
    if index >= config.item_count(account, region, "buckets"):
        return []
    return [object_key(i) for i in range(config.item_count(account, region, "objects"))]
