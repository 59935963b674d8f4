"""What discovery reads once per pool: the organization, callers' accounts, enabled regions.

The cache is keyed by the requester (the pool), weakly: it goes away with its pool, and the
pool's own code knows nothing of it. ``refresh=True`` drops it (:func:`forget`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..._identity import Identity
from ..._protocols import Requester

__all__ = [
    "Cache",
    "OrgTree",
    "OrgUnit",
    "arn_partition",
    "cache_of",
    "caller_account",
    "forget",
    "home_region",
]


@dataclass(frozen=True, slots=True)
class OrgUnit:
    """A root or OU of the organization."""

    id: str
    name: str
    path: str  # "Root/prod/web"
    chain: tuple[str, ...]  # ids from the root down to this unit, itself included


@dataclass(slots=True)
class OrgTree:
    """The organization's roots and OUs, and which one directly holds each account."""

    units: dict[str, OrgUnit]
    parent: dict[str, str]  # account id -> id of the root or OU directly holding it


@dataclass(slots=True)
class Cache:
    """What one pool's discoveries read (each part once, unless refreshed)."""

    lock: anyio.Lock = field(default_factory=anyio.Lock)
    accounts: list[dict[str, Any]] | None = None  # ListAccounts, as AWS answered it
    management: str | None = None
    tree: OrgTree | None = None
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    callers: dict[Identity, tuple[str, str]] = field(default_factory=dict)  # account, partition
    caller_locks: dict[Identity, anyio.Lock] = field(default_factory=dict)
    enabled: dict[tuple[Identity, str], tuple[str, ...]] = field(default_factory=dict)


_caches: weakref.WeakKeyDictionary[Requester, Cache] = weakref.WeakKeyDictionary()


def cache_of(requester: Requester) -> Cache:
    """The requester's cache (a new one the first time)."""
    cache = _caches.get(requester)
    if cache is None:
        cache = _caches[requester] = Cache()
    return cache


def forget(requester: Requester) -> None:
    """Drop what was read for ``requester``: the next discovery reads it again."""
    _caches.pop(requester, None)


def home_region(requester: Requester) -> str:
    """Where account-level calls (STS, Organizations) go: the pool's region, else us-east-1."""
    return requester.region or "us-east-1"


def arn_partition(arn: str) -> str:
    """The partition field of an ARN (``arn:<partition>:...``)."""
    return arn.split(":", 2)[1]


async def caller_account(requester: Requester, identity: Identity | None) -> tuple[str, str]:
    """``(account id, partition)`` of an identity (``None``: the pool's), from STS, once.

    Asked once per identity and pool, however many tasks (a fan-out's targets) ask at once.
    """
    cache = cache_of(requester)
    key = identity if identity is not None else requester.identity
    known = cache.callers.get(key)
    if known is None:
        async with cache.caller_locks.setdefault(key, anyio.Lock()):
            known = cache.callers.get(key)
            if known is None:
                sts = await requester.client("sts", home_region(requester), identity=identity)
                answer = await sts.get_caller_identity()
                known = (str(answer["Account"]), arn_partition(answer["Arn"]))
                cache.callers[key] = known
    return known
