"""``Target``: one (account, region, partition) cell of a crawl, and who to act as there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .. import _validate
from .._exceptions import ConfigurationError
from .._identity import AssumeRole, Identity
from .display import html_table

__all__ = ["Target"]


@dataclass(frozen=True, slots=True)
class Target:
    """One cell of a fan-out: an account in a region.

    Targets compare and hash by ``(account, region, partition)`` only; the rest is what is
    known about the account, carried along for reports and filters.

    Args:
        account: the 12-digit account id (``None``: whatever account the identity is in).
        region: the region (``None`` for a global service visited once per account).
        partition: ``aws``, ``aws-cn``, ``aws-us-gov``...
        identity: who to act as. ``None``: the pool's own identity when ``account`` is
            ``None`` or the pool's own account; for another account, the pool's ``role``
            there (``ConfigurationError`` when the pool has none).
        name: the account's name, when known.
        ou_path: the account's OU path in the organization, e.g. ``"Root/prod/web"``.
        tags: the account's tags.
    """

    account: str | None
    region: str | None
    partition: str = "aws"
    identity: Identity | None = field(default=None, compare=False, repr=False)
    name: str | None = field(default=None, compare=False)
    ou_path: str | None = field(default=None, compare=False, repr=False)
    tags: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        _validate.account_id("Target account", self.account)
        _validate.region("Target region", self.region)
        _validate.text("Target partition", self.partition)
        _validate.identity("Target identity", self.identity)
        for name in ("name", "ou_path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(
                    f"Target {name} must be a str or None, not {type(value).__name__}"
                )
        if not isinstance(self.tags, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.tags.items()
        ):
            raise ConfigurationError(
                f"Target tags must be a mapping of str to str, not {type(self.tags).__name__}"
            )
        # Read-only, so a Target shared across tasks cannot be changed under them.
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (to a worker process, ``runner=``): the read-only tags go as a dict.
        fields = (self.account, self.region, self.partition, self.identity, self.name)
        return (type(self), (*fields, self.ou_path, dict(self.tags)))

    @classmethod
    def assume(
        cls, account: str, region: str | None, role: str, *, partition: str = "aws", **kw: Any
    ) -> Target:
        """A target reached by assuming ``role`` in ``account``."""
        identity = AssumeRole(account=account, role_name=role)
        return cls(account, region, partition, identity=identity, **kw)

    def __repr__(self) -> str:
        where = self.region or "global"
        label = f" {self.name!r}" if self.name else ""
        return f"aiokit.Target({self.account or 'self'}{label} {where})"

    def _repr_html_(self) -> str:
        """Jupyter's view: what is known about the target, one row."""
        tags = ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
        return html_table(
            ("account", "name", "region", "partition", "OU", "tags"),
            [
                (
                    self.account or "self",
                    self.name,
                    self.region or "global",
                    self.partition,
                    self.ou_path,
                    tags,
                )
            ],
            caption="aiokit.Target",
        )
