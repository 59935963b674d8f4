"""Which regions: explicit names, ``"all"`` of a partition, or each account's ``"enabled"``.

``"enabled"`` is each account's own EC2 DescribeRegions answer (opt-in aware), read once per
pool; where that is denied or the account cannot be reached, the partition's
default-enabled regions stand in, and the crawl reports what fails.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiobotocore.config import AioConfig

from ... import _validate
from ..._endpoints import Endpoints, Partition
from ..._exceptions import (
    AccessDeniedError,
    AiokitError,
    AssumeRoleError,
    ConfigurationError,
    CredentialsError,
    InvalidRegionError,
)
from ..._protocols import Requester
from .accounts import Account
from .cache import cache_of
from .specs import as_tuple

__all__ = ["Regions", "enabled_regions", "parse_regions"]

logger = logging.getLogger("aiokit")

# Few attempts for DescribeRegions: a fallback exists, and a slow account should not hold up
# discovery for every other one.
_FEW_RETRIES = AioConfig(retries={"mode": "standard", "total_max_attempts": 3})

_ENABLED_STATUSES = frozenset({"opt-in-not-required", "opted-in"})


@dataclass(frozen=True, slots=True)
class Regions:
    """What ``regions=`` asked for."""

    mode: str  # "list", "all" or "enabled"
    names: tuple[str, ...] = ()
    partition: str | None = None  # the explicit names' partition


def parse_regions(
    regions: str | Sequence[str] | None, endpoints: Endpoints, pool: Requester
) -> Regions:
    if regions in ("all", "enabled"):
        return Regions(str(regions))
    if regions is None:
        if pool.region is None:
            raise InvalidRegionError(
                "no region: pass regions=... (names, 'all' or 'enabled') or give the pool one"
            )
        # The pool's region already works for its clients: accept it even if botocore's
        # endpoint data predates it.
        owner = endpoints.owner(pool.region)
        return Regions("list", (pool.region,), owner.name if owner else None)
    names = tuple(dict.fromkeys(as_tuple(regions) or ()))
    if not names:
        raise InvalidRegionError("regions=[] names no region")
    partitions = set()
    for name in names:
        if not isinstance(name, str):
            raise InvalidRegionError(f"region names are strings, not {name!r}")
        partition = endpoints.known(name)
        if partition is None:
            everywhere = [r for p in endpoints.partitions.values() for r in p.regions]
            special = " ('all' and 'enabled' stand alone)" if name in ("all", "enabled") else ""
            hint = _validate.did_you_mean(name, everywhere)
            raise InvalidRegionError(f"unknown region {name!r}{special}{hint}", region=name)
        partitions.add(partition.name)
    if len(partitions) > 1:
        raise InvalidRegionError(
            f"regions {list(names)} span partitions {sorted(partitions)}; an account lives in "
            "one partition: discover each partition separately"
        )
    return Regions("list", names, partitions.pop())


async def enabled_regions(
    pool: Requester, account: Account, partition: Partition
) -> tuple[str, ...]:
    """The account's enabled regions, from EC2 DescribeRegions (defaults when denied)."""
    cache = cache_of(pool)
    key = (account.identity if account.identity is not None else pool.identity, partition.name)
    known = cache.enabled.get(key)
    if known is not None:
        return known
    # Ask in a region enabled in every account, the pool's own when it is one: a policy
    # that limits regions is likelier to allow the pool's region than us-east-1.
    region = pool.region
    if region is None or region not in partition.default_enabled():
        region = partition.global_region
    try:
        ec2 = await pool.client("ec2", region, identity=account.identity, config=_FEW_RETRIES)
        answer = await ec2.describe_regions(AllRegions=False)
    except AccessDeniedError as exc:
        logger.warning(
            "account %s: %s; using the regions enabled by default in %s",
            account.id,
            exc,
            partition.name,
        )
        found = partition.default_enabled()
    except AssumeRoleError as exc:
        # Every target in the account will fail the same way and be reported as such by the
        # fan-out; not cached, since a role may be fixed while the pool lives.
        logger.warning("account %s: %s; using the default-enabled regions", account.id, exc)
        return partition.default_enabled()
    except AiokitError as exc:
        if isinstance(exc, ConfigurationError) or not (
            exc.operation == "AssumeRole"
            or (account.identity is not None and isinstance(exc, CredentialsError))
        ):
            raise
        # The account could not be reached (STS down or failing, its role's source keys
        # rejected, its profile's credentials unreadable): not a reason to list no account
        # at all. Its targets fail in the crawl, with this error, and count as failed.
        logger.warning("account %s: %s; using the default-enabled regions", account.id, exc)
        return partition.default_enabled()
    else:
        # AllRegions=False already leaves opted-out regions out; the status check keeps
        # emulators that ignore it (moto) honest, and the partition check drops regions of
        # other partitions that some of them list.
        found = tuple(
            r["RegionName"]
            for r in answer.get("Regions", ())
            if r.get("OptInStatus", "opt-in-not-required") in _ENABLED_STATUSES
            and partition.owns(r["RegionName"])
        )
    cache.enabled[key] = found
    return found
