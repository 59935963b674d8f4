"""Which accounts: the record discovery keeps per account, and profiles and listed ids.

An organization's accounts are read in ``organization.py``; ``"self"`` is the caller's own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio

from ... import _validate
from ..._exceptions import InvalidRoleError
from ..._identity import Identity, Profile
from ..._protocols import Requester
from ..streams import bounded_map
from .cache import caller_account
from .specs import Profiles

__all__ = ["ACCOUNT_CONCURRENCY", "Account", "listed_accounts", "profile_accounts"]

logger = logging.getLogger("aiokit")

# DescribeRegions and GetCallerIdentity hit a different account each: quotas are not shared.
ACCOUNT_CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class Account:
    """An account to visit, and as whom."""

    id: str
    partition: str | None  # None: not known; follows the regions or the pool
    identity: Identity | None
    name: str | None = None
    ou_path: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


async def profile_accounts(requester: Requester, spec: Profiles) -> list[Account]:
    """One account per profile (STS says which); a second profile in one account is dropped."""
    identities = [Profile(name) for name in spec.names]

    async def who(identity: Identity) -> tuple[str, str]:
        return await caller_account(requester, identity)

    answers = await bounded_map(who, identities, anyio.CapacityLimiter(ACCOUNT_CONCURRENCY))
    found: dict[str, Account] = {}
    for identity, (account, partition) in zip(identities, answers, strict=True):
        if account in found:
            logger.debug("profile %s is in account %s already reached", identity, account)
            continue
        found[account] = Account(account, partition, identity)
    return list(found.values())


def listed_accounts(requester: Requester, ids: Sequence[str], role: str | None) -> list[Account]:
    """Account ids, each reached through ``role`` (the pool's by default)."""
    found: dict[str, Account] = {}
    for account in ids:
        if not isinstance(account, str) or not _validate.ACCOUNT_ID.match(account):
            raise InvalidRoleError(
                f"malformed account id {account!r}: expected 12 digits",
                account=account if isinstance(account, str) else None,
            )
        if account not in found:
            # identity_for falls back on the pool's role, and says so when there is none.
            identity = requester.identity_for(account=account, role=role)
            found[account] = Account(account, None, identity)
    return list(found.values())
