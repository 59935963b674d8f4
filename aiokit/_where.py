"""Where a request goes: the one ``Scope`` that errors, logs, limiter keys and paginators share.

The pool knows (account, region, service, partition) when it builds a client, a paginator
or a waiter; it hands that ``Scope`` on instead of letting each rediscover it. ``describe``
turns the same four facts into the ``service Operation in region (account N)`` prefix every
aiokit error message starts with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Scope", "describe", "scope_of_client"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a request goes.

    Attributes:
        account: the 12-digit account id, or ``None`` when not known (the pool's own
            identity before anyone asked STS).
        region: the region name, or ``None`` for a global endpoint.
        service: botocore's service name (``"ec2"``, ``"s3"``).
        partition: ``"aws"``, ``"aws-cn"``, ``"aws-us-gov"``, ...
    """

    account: str | None
    region: str | None
    service: str
    partition: str = "aws"

    def fields(self) -> dict[str, Any]:
        """The structured logging fields (and the keywords of aiokit's errors)."""
        return {"account": self.account, "region": self.region, "service": self.service}

    def describe(self, operation: str | None = None) -> str:
        """``service Operation in region (account N)``."""
        return describe(self.service, operation, self.region, self.account)


def scope_of_client(client: Any) -> Scope:
    """Where a client's requests go: the scope its pool bound it with, or for a client made
    elsewhere its own service and region (account unknown)."""
    scope = getattr(getattr(client, "_aiokit", None), "scope", None)
    if isinstance(scope, Scope):
        return scope
    return Scope(None, client.meta.region_name, client.meta.service_model.service_name)


def describe(
    service: str | None, operation: str | None, region: str | None, account: str | None
) -> str:
    """Return the ``service Operation in region (account N)`` prefix of error messages."""
    parts = [p for p in (service, operation) if p]
    text = " ".join(parts) or "request"
    if region:
        text += f" in {region}"
    if account:
        text += f" (account {account})"
    return text
