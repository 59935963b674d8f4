"""What ``pool.targets(accounts=...)`` accepts: :class:`Organization`, :class:`Profiles`, ids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields

from ... import _validate
from ..._exceptions import ConfigurationError
from ..._identity import AssumeRole

__all__ = ["Accounts", "Organization", "Profiles", "as_tuple"]


def as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """A bare string is one item, not a sequence of characters."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class Organization:
    """The active accounts of the AWS Organization the pool's identity can list.

    Reading it takes one paginated ``ListAccounts`` (permission
    ``organizations:ListAccounts``); the management account is known from the account ARNs
    it returns, so no ``DescribeOrganization``. Filters and details cost more calls only
    when asked for: ``ous`` or ``with_ou_paths`` walk the OU tree (``ListRoots``,
    ``ListOrganizationalUnitsForParent``, ``ListAccountsForParent``), ``tags`` or
    ``with_tags`` read each account's tags (``ListTagsForResource``, one per account), and
    ``"self"`` in ``include``/``exclude`` asks STS ``GetCallerIdentity`` once.

    Filters combine with *and*; the management account is subject to them like any other
    once ``include_management`` lets it in.

    Each target's ``ou_path`` and ``tags`` depend on the spec alone, never on what the pool
    read before: ``ou_path`` is filled when ``ous`` or ``with_ou_paths`` is given (else
    ``None``), ``tags`` when ``tags`` or ``with_tags`` is given (else empty).

    Args:
        role: the role assumed in each member account.
        ous: OU ids, names or paths (``"Root/prod/web"``); accounts anywhere under one of
            them are kept. A name matching several OUs selects all of them.
        include: account ids or name patterns (``fnmatch``, case-sensitive, matched against
            id and name); only matching accounts are kept. ``"self"`` is the account of the
            pool's own identity (the calling account), not an account named "self".
        exclude: account ids or name patterns; matching accounts are dropped.
            ``exclude=["self"]`` drops the calling account: the management account when
            ``include_management`` let it in, or a delegated administrator's own account.
        tags: keep accounts whose tags contain all of these key/value pairs.
        include_management: also visit the management account. When the pool's identity is
            in it, it is visited as that identity (no role assumed); otherwise through
            ``role``.
        external_id: the external id the member roles' trust policies ask for.
        session_name: the role session name, visible in the members' CloudTrail.
        with_ou_paths: fill every target's ``ou_path`` (``"Root/prod/web"``) without
            filtering on OUs.
        with_tags: fill every target's ``tags`` without filtering on them.

    Raises:
        InvalidRoleError: the role name or session name is malformed.
    """

    role: str = "OrganizationAccountAccessRole"
    ous: Sequence[str] | None = None
    include: Sequence[str] | None = None
    exclude: Sequence[str] | None = None
    tags: Mapping[str, str] | None = field(default=None, hash=False)
    include_management: bool = False
    external_id: str | None = field(default=None, repr=False)
    session_name: str = "aiokit"
    with_ou_paths: bool = False
    with_tags: bool = False

    def __post_init__(self) -> None:
        _validate.organization(self)
        for name in ("ous", "include", "exclude"):
            object.__setattr__(self, name, as_tuple(getattr(self, name)))
        if self.tags is not None:
            object.__setattr__(self, "tags", dict(self.tags))
        # AssumeRole owns the rules for role and session names: check them now, not at the
        # first request.
        self._identity("000000000000")

    def __repr__(self) -> str:
        # Only what differs from the defaults, and never the external id.
        shown = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name != "external_id" and getattr(self, f.name) != f.default
        ]
        if self.external_id is not None:
            shown.append("external_id=...")
        return f"aiokit.Organization({', '.join(shown)})"

    def _identity(self, account: str) -> AssumeRole:
        return AssumeRole(
            account=account,
            role_name=self.role,
            external_id=self.external_id,
            session_name=self.session_name,
        )


@dataclass(frozen=True)
class Profiles:
    """Accounts reached through named profiles of the AWS config files, one per profile.

    Each profile's account is found with STS GetCallerIdentity; two profiles in one account
    give one target (the first profile's).

    Args:
        names: the profile names (a single string is one profile).

    Raises:
        ConfigurationError: no profile name is given.
    """

    names: Sequence[str]

    def __post_init__(self) -> None:
        if not isinstance(self.names, str | Iterable) or isinstance(self.names, Mapping):
            raise ConfigurationError(
                f"Profiles needs one or more non-empty profile names, not {self.names!r}"
            )
        names = as_tuple(self.names) or ()
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigurationError("Profiles needs one or more non-empty profile names")
        object.__setattr__(self, "names", names)

    def __repr__(self) -> str:
        return f"aiokit.Profiles({list(self.names)!r})"


Accounts = Organization | Profiles | Sequence[str]
"""What ``accounts=`` accepts: an :class:`Organization`, :class:`Profiles`, account ids (one
or a list), or ``"self"`` (the pool's own identity)."""
