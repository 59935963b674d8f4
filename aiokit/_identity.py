"""Identities: who a request is made as.

An identity is a small frozen, hashable description (never a live credentials object), so a
pool can key its credential cache and its clients by it. Secrets are kept out of every repr.

- :class:`DefaultCredentials`: botocore's default chain (environment, config files, SSO,
  container and instance metadata).
- :class:`Profile`: a named profile from the AWS config files.
- :class:`StaticKeys`: explicit access keys.
- :class:`AssumeRole`: an STS role, assumed from another identity (the pool's own by
  default); chain roles by giving an ``AssumeRole`` as ``source``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import _validate
from ._exceptions import InvalidRoleError

__all__ = ["AssumeRole", "DefaultCredentials", "Identity", "Profile", "StaticKeys"]

_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?P<name>[\w+=,.@/-]{1,512})$"
)
_ACCOUNT = re.compile(r"^\d{12}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@/-]{1,64}$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def _mask(key: str) -> str:
    """Show enough of an access key id to tell keys apart, not enough to use it."""
    return f"{key[:4]}…{key[-4:]}" if len(key) > 8 else "…"


@dataclass(frozen=True, slots=True)
class DefaultCredentials:
    """botocore's default credential chain, as a plain ``boto3.Session()`` would find it."""

    def __repr__(self) -> str:
        return "aiokit.DefaultCredentials()"


@dataclass(frozen=True, slots=True)
class Profile:
    """A named profile from ``~/.aws/config`` / ``~/.aws/credentials``.

    Args:
        name: the profile's name.
    """

    name: str

    def __post_init__(self) -> None:
        _validate.text("Profile name", self.name)

    def __repr__(self) -> str:
        return f"aiokit.Profile({self.name!r})"


@dataclass(frozen=True, slots=True)
class StaticKeys:
    """Explicit access keys. Only a masked access key id ever appears in a repr.

    Args:
        access_key_id: the access key id.
        secret_access_key: the secret key.
        session_token: the session token of temporary credentials.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _validate.static_keys(self)

    def __repr__(self) -> str:
        return f"aiokit.StaticKeys({_mask(self.access_key_id)!r})"


@dataclass(frozen=True, slots=True)
class AssumeRole:
    """An IAM role assumed through STS, refreshed before its credentials expire.

    Name the role by ``role_arn``, or by ``account`` and ``role_name`` (the partition then
    follows the region the role is used in).

    Args:
        role_arn: the role's ARN.
        account: the 12-digit account id holding the role.
        role_name: the role's name (with its path, if it has one).
        external_id: the external id the role's trust policy asks for (never shown).
        session_name: the role session name, visible in the target account's CloudTrail.
        duration: the session's lifetime in seconds (900 to 43,200; AWS caps chained
            roles at 3,600).
        source: the identity that assumes the role; ``None`` means the pool's own identity.
            An ``AssumeRole`` here makes a role chain.

    Raises:
        InvalidRoleError: the ARN, account id, role name, session name or duration is
            malformed.
    """

    role_arn: str | None = None
    account: str | None = None
    role_name: str | None = None
    external_id: str | None = field(default=None, repr=False)
    session_name: str = "aiokit"
    duration: int = 3600
    source: Identity | None = None

    def __post_init__(self) -> None:
        _validate.assume_role(self)
        if self.role_arn is not None:
            m = _ROLE_ARN.match(self.role_arn)
            if m is None:
                raise InvalidRoleError(
                    f"malformed role ARN {self.role_arn!r}: expected "
                    "arn:aws:iam::<12-digit account>:role/<name>"
                )
            if self.account is not None and self.account != m["account"]:
                raise InvalidRoleError(
                    f"role ARN {self.role_arn!r} is not in account {self.account!r}",
                    account=self.account,
                )
            object.__setattr__(self, "account", m["account"])
        else:
            if self.account is None or self.role_name is None:
                raise InvalidRoleError("AssumeRole needs role_arn, or account and role_name")
            if not _ACCOUNT.match(self.account):
                raise InvalidRoleError(
                    f"malformed account id {self.account!r}: expected 12 digits",
                    account=self.account,
                )
            if not _ROLE_NAME.match(self.role_name):
                raise InvalidRoleError(
                    f"malformed role name {self.role_name!r}", account=self.account
                )
        if not _SESSION_NAME.match(self.session_name):
            raise InvalidRoleError(
                f"malformed role session name {self.session_name!r}: 2-64 characters of "
                "letters, digits and +=,.@-"
            )
        if not 900 <= self.duration <= 43200:
            raise InvalidRoleError(
                f"role session duration {self.duration} s is outside 900..43200",
                account=self.account,
            )

    def arn(self, partition: str = "aws") -> str:
        """The role's ARN, in ``partition`` when the role was named by account and name."""
        if self.role_arn is not None:
            return self.role_arn
        return f"arn:{partition}:iam::{self.account}:role/{self.role_name}"

    def __repr__(self) -> str:
        target = self.role_arn or f"{self.account}/{self.role_name}"
        via = f", source={self.source!r}" if self.source is not None else ""
        return f"aiokit.AssumeRole({target!r}{via})"


Identity = DefaultCredentials | Profile | StaticKeys | AssumeRole
"""Any of the identity kinds a pool accepts."""


def identity_account(identity: Identity) -> str | None:
    """The account an identity acts in, when it is known without asking AWS."""
    return identity.account if isinstance(identity, AssumeRole) else None
