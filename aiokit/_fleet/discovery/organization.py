"""An organization's accounts: ListAccounts, the OU tree and tags, read once per pool.

What a spec asks for decides what is read: ``ous`` or ``with_ou_paths`` walk the OU tree,
``tags`` or ``with_tags`` read each account's tags; the rest is one paginated ListAccounts.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from ... import _validate
from ..._exceptions import ConfigurationError
from ..._identity import Identity
from ..._protocols import Requester
from ..streams import bounded_map
from .accounts import Account
from .cache import Cache, OrgTree, OrgUnit, arn_partition, cache_of, caller_account, home_region
from .specs import Organization

__all__ = ["organization_accounts"]

# The Organizations API has low request quotas (a few per second per organization); more
# concurrent calls than this only buy throttling.
_ORG_CONCURRENCY = 4


async def _read_organization(pool: Requester, spec: Organization) -> Cache:
    """Fill the pool's organization cache with what ``spec`` needs (each part read once)."""
    cache = cache_of(pool)
    region = home_region(pool)
    # One lock: concurrent discoveries on one pool share one read of the organization.
    async with cache.lock:
        if cache.accounts is None:
            pager = pool.paginate("organizations", "list_accounts", region)
            cache.accounts = [a async for a in pager.items()]
        if cache.management is None:
            cache.management = _management_from_arns(cache.accounts)
        if cache.management is None and cache.accounts:
            # No account ARN to read it from (AWS always sends them): ask.
            org = await pool.client("organizations", region)
            answer = await org.describe_organization()
            cache.management = str(answer["Organization"]["MasterAccountId"])
        if (spec.ous or spec.with_ou_paths) and cache.tree is None:
            cache.tree = await _walk_organization(pool, region)
    return cache


def _management_from_arns(accounts: Sequence[Mapping[str, Any]]) -> str | None:
    """The management account, from ListAccounts' own answer.

    Every account ARN names it: ``arn:aws:organizations::<management>:account/o-.../<id>``.
    """
    for account in accounts:
        parts = str(account.get("Arn", "")).split(":")
        if len(parts) >= 6 and parts[2] == "organizations" and _validate.ACCOUNT_ID.match(parts[4]):
            return parts[4]
    return None


async def _walk_organization(pool: Requester, region: str) -> OrgTree:
    """Every root and OU, and which one directly holds each account, breadth first."""
    roots = [r async for r in pool.paginate("organizations", "list_roots", region).items()]
    units = {
        r["Id"]: OrgUnit(r["Id"], r.get("Name", "Root"), r.get("Name", "Root"), (r["Id"],))
        for r in roots
    }
    tree = OrgTree(units, {})
    limiter = anyio.CapacityLimiter(_ORG_CONCURRENCY)

    async def children(parent: str) -> tuple[list[Any], list[Any]]:
        ous = pool.paginate(
            "organizations", "list_organizational_units_for_parent", region, ParentId=parent
        )
        accounts = pool.paginate(
            "organizations", "list_accounts_for_parent", region, ParentId=parent
        )
        return [o async for o in ous.items()], [a async for a in accounts.items()]

    level = list(units)
    while level:
        found = await bounded_map(children, level, limiter)
        next_level = []
        for parent_id, (ous, accounts) in zip(level, found, strict=True):
            parent = units[parent_id]
            for ou in ous:
                units[ou["Id"]] = OrgUnit(
                    ou["Id"], ou["Name"], f"{parent.path}/{ou['Name']}", (*parent.chain, ou["Id"])
                )
                next_level.append(ou["Id"])
            for account in accounts:
                tree.parent[account["Id"]] = parent_id
        level = next_level
    return tree


def _select_units(tree: OrgTree, wanted: Sequence[str]) -> set[str]:
    chosen: set[str] = set()
    for item in wanted:
        hits = {u.id for u in tree.units.values() if item in (u.id, u.name, u.path)}
        if not hits:
            paths = sorted(u.path for u in tree.units.values())
            shown = ", ".join(paths[:20]) + (", ..." if len(paths) > 20 else "")
            hint = _validate.did_you_mean(item, [u.name for u in tree.units.values()] + paths)
            raise ConfigurationError(
                f"no organizational unit {item!r} in the organization (by id, name or path)"
                f"{hint}; known: {shown}"
            )
        chosen |= hits
    return chosen


def _is_active(account: Mapping[str, Any]) -> bool:
    # AWS is replacing Status by State (which adds PENDING_CLOSURE); prefer State when sent.
    state = account.get("State")
    if state is None:
        state = account.get("Status")
    return state == "ACTIVE"


def _matches(account: Mapping[str, Any], patterns: Sequence[str]) -> bool:
    return any(
        fnmatch.fnmatchcase(account["Id"], p) or fnmatch.fnmatchcase(account.get("Name", ""), p)
        for p in patterns
    )


async def organization_accounts(pool: Requester, spec: Organization) -> list[Account]:
    cache = await _read_organization(pool, spec)
    assert cache.accounts is not None  # filled by _read_organization
    candidates = [a for a in cache.accounts if _is_active(a)]
    if not spec.include_management:
        candidates = [a for a in candidates if a["Id"] != cache.management]
    include, exclude = spec.include, spec.exclude
    if "self" in (include or ()) or "self" in (exclude or ()):
        caller, _ = await caller_account(pool, None)
        include = include and tuple(caller if p == "self" else p for p in include)
        exclude = exclude and tuple(caller if p == "self" else p for p in exclude)
    if include:
        candidates = [a for a in candidates if _matches(a, include)]
    if exclude:
        candidates = [a for a in candidates if not _matches(a, exclude)]
    # Only what this spec asked for: the cache may hold more from an earlier spec.
    tree = cache.tree if (spec.ous or spec.with_ou_paths) else None
    if spec.ous:
        assert tree is not None  # walked by _read_organization when ous are given
        chosen = _select_units(tree, spec.ous)
        candidates = [
            a
            for a in candidates
            if a["Id"] in tree.parent
            and chosen.intersection(tree.units[tree.parent[a["Id"]]].chain)
        ]
    if spec.tags:
        await _read_tags(pool, cache, [a["Id"] for a in candidates])
        wanted = spec.tags.items()
        candidates = [a for a in candidates if wanted <= cache.tags[a["Id"]].items()]
    elif spec.with_tags:
        await _read_tags(pool, cache, [a["Id"] for a in candidates])
    with_tags = bool(spec.tags or spec.with_tags)

    self_account: str | None = None
    if any(a["Id"] == cache.management for a in candidates):
        self_account, _ = await caller_account(pool, None)
    found = []
    for a in candidates:
        account_id = a["Id"]
        identity: Identity | None
        if account_id == cache.management and account_id == self_account:
            identity = None  # no role to assume into the management account: act as itself
        else:
            identity = spec._identity(account_id)
        ou_path = None
        if tree is not None and account_id in tree.parent:
            ou_path = tree.units[tree.parent[account_id]].path
        found.append(
            Account(
                account_id,
                arn_partition(a["Arn"]) if "Arn" in a else None,
                identity,
                name=a.get("Name"),
                ou_path=ou_path,
                tags=cache.tags[account_id] if with_tags else {},
            )
        )
    return found


async def _read_tags(pool: Requester, cache: Cache, accounts: Sequence[str]) -> None:
    """Tags of the accounts not read yet, a few requests at a time."""
    region = home_region(pool)
    missing = [a for a in accounts if a not in cache.tags]

    async def read(account: str) -> dict[str, str]:
        pager = pool.paginate("organizations", "list_tags_for_resource", region, ResourceId=account)
        return {t["Key"]: t["Value"] async for t in pager.items()}

    found = await bounded_map(read, missing, anyio.CapacityLimiter(_ORG_CONCURRENCY))
    cache.tags.update(zip(missing, found, strict=True))
