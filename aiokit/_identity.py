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

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._checks import ACCOUNT_ID, account_id, kind, text
from ._exceptions import ConfigurationError, InvalidRoleError

__all__ = ["AssumeRole", "DefaultCredentials", "Identity", "Profile", "StaticKeys"]

_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?P<name>[\w+=,.@/-]{1,512})$"
)

_ROLE_NAME = re.compile(r"^[\w+=,.@/-]{1,64}$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_SOURCE_IDENTITY = re.compile(r"^[\w+=,.@-]{2,64}$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$")
_MFA_SERIAL = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:mfa/[\w+=,.@/-]+|[\w+=/:,.@-]{9,256})$")
_TAG = re.compile(r"^[\w\s+=,.@:/-]*$")

MfaToken = str | Callable[[], str] | Callable[[], Awaitable[str]]
"""An MFA code, or a function (plain or async) that returns the current one."""


def check_session_name(name: object, parameter: str = "session_name") -> str:
    """``name`` if it is a valid role session name, else ``InvalidRoleError`` naming it."""
    if not isinstance(name, str) or not _SESSION_NAME.match(name):
        raise InvalidRoleError(
            f"{parameter}={name!r}: a role session name is 2-64 characters of letters, "
            "digits and +=,.@-"
        )
    return name


def _string_tuple(value: object, parameter: str) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | frozenset | set):
        raise InvalidRoleError(
            f"AssumeRole({parameter}=...) must be a list of strings, not {type(value).__name__}"
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise InvalidRoleError(
                f"AssumeRole({parameter}=...) must be a list of strings; "
                f"got a {type(item).__name__}"
            )
    return items


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
        text("Profile name", self.name)

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
        _check_static_keys(self)

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
        source: the identity that assumes the role; ``None`` means the pool's own identity
            (and for the pool's own identity, botocore's default chain). An ``AssumeRole``
            here makes a role chain.
        policy: a session policy (JSON text) further restricting the role's permissions.
        policy_arns: managed policies (ARNs) further restricting them.
        tags: session tags (``{"key": "value"}``, at most 50).
        transitive_tag_keys: keys of ``tags`` that pass on to the next role of a chain.
        source_identity: the source identity, kept in CloudTrail along the chain.
        mfa_serial: the MFA device's serial number or ARN, when the role requires MFA.
        mfa_token: the current MFA code, or a function (plain or async) that returns it;
            called at each refresh (a plain one in a worker thread, so it may prompt).
            A code serves one fetch: credentials that will need refreshing need a
            function. Never shown.

    Raises:
        InvalidRoleError: a parameter is malformed or of the wrong type; the message names
            it.
    """

    role_arn: str | None = None
    account: str | None = None
    role_name: str | None = None
    external_id: str | None = field(default=None, repr=False)
    session_name: str = "aiokit"
    duration: int = 3600
    source: Identity | None = None
    policy: str | None = None
    policy_arns: Sequence[str] = ()
    tags: Mapping[str, str] | tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: Sequence[str] = ()
    source_identity: str | None = None
    mfa_serial: str | None = None
    mfa_token: MfaToken | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_assume_role(self)
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
            if not ACCOUNT_ID.match(self.account):
                raise InvalidRoleError(
                    f"malformed account id {self.account!r}: expected 12 digits",
                    account=self.account,
                )
            if not _ROLE_NAME.match(self.role_name):
                raise InvalidRoleError(
                    f"malformed role name {self.role_name!r}", account=self.account
                )
        if not isinstance(self.session_name, str) or not _SESSION_NAME.match(self.session_name):
            raise InvalidRoleError(
                f"malformed role session name {self.session_name!r}: 2-64 characters of "
                "letters, digits and +=,.@-"
            )
        if not 900 <= self.duration <= 43200:
            raise InvalidRoleError(
                f"role session duration={self.duration} s is outside 900..43200",
                account=self.account,
            )
        if isinstance(self.source, AssumeRole) and self.duration > 3600:
            raise InvalidRoleError(
                f"role session duration={self.duration} s: AWS allows at most 3600 s for a "
                "role assumed from another role (a chain)",
                account=self.account,
            )
        self._check_session_options()

    def _check_session_options(self) -> None:
        if self.policy is not None:
            if not isinstance(self.policy, str):
                raise InvalidRoleError(
                    f"AssumeRole(policy=...) must be JSON text, not {type(self.policy).__name__}"
                    " (use json.dumps)"
                )
            try:
                json.loads(self.policy)
            except ValueError as exc:
                raise InvalidRoleError(f"AssumeRole(policy=...) is not valid JSON: {exc}") from exc
        arns = _string_tuple(self.policy_arns, "policy_arns")
        for arn in arns:
            if not _POLICY_ARN.match(arn):
                raise InvalidRoleError(
                    f"AssumeRole(policy_arns=...): malformed policy ARN {arn!r}: expected "
                    "arn:aws:iam::<account or aws>:policy/<name>"
                )
        object.__setattr__(self, "policy_arns", arns)
        tags: Any = self.tags
        if isinstance(tags, Mapping):
            pairs = tuple(sorted(tags.items()))
        elif isinstance(tags, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in tags):
            pairs = tuple(sorted(tags))
        else:
            raise InvalidRoleError(
                f"AssumeRole(tags=...) must be a mapping of strings, not {type(tags).__name__}"
            )
        for key, value in pairs:
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidRoleError("AssumeRole(tags=...): keys and values must be strings")
            if not 1 <= len(key) <= 128 or len(value) > 256 or not _TAG.match(key + value):
                raise InvalidRoleError(
                    f"AssumeRole(tags=...): malformed tag {key!r}: keys 1-128 and values "
                    "0-256 characters of letters, digits, spaces and _.:/=+-@"
                )
        if len(pairs) > 50:
            raise InvalidRoleError(f"AssumeRole(tags=...): {len(pairs)} tags, at most 50")
        object.__setattr__(self, "tags", pairs)
        transitive = _string_tuple(self.transitive_tag_keys, "transitive_tag_keys")
        unknown = sorted(set(transitive) - {k for k, _ in pairs})
        if unknown:
            raise InvalidRoleError(
                f"AssumeRole(transitive_tag_keys=...): {unknown} are not keys of tags"
            )
        object.__setattr__(self, "transitive_tag_keys", transitive)
        if self.source_identity is not None and (
            not isinstance(self.source_identity, str)
            or not _SOURCE_IDENTITY.match(self.source_identity)
        ):
            raise InvalidRoleError(
                f"AssumeRole(source_identity={self.source_identity!r}): 2-64 characters of "
                "letters, digits and +=,.@-"
            )
        if self.mfa_serial is not None and (
            not isinstance(self.mfa_serial, str) or not _MFA_SERIAL.match(self.mfa_serial)
        ):
            raise InvalidRoleError(
                f"AssumeRole(mfa_serial={self.mfa_serial!r}): expected an MFA device's "
                "serial number or arn:aws:iam::<account>:mfa/<name>"
            )
        token = self.mfa_token
        if (self.mfa_serial is None) != (token is None):
            raise InvalidRoleError(
                "AssumeRole: give mfa_serial and mfa_token together (the token, or a "
                "function returning the current one)"
            )
        if token is not None and not (isinstance(token, str) or callable(token)):
            raise InvalidRoleError(
                "AssumeRole(mfa_token=...) must be the code (a string) or a function "
                f"returning it, not {type(token).__name__}"
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


def check_identity(name: str, value: object) -> None:
    """``None`` or one of aiokit's identity kinds."""
    if value is None:
        return
    if not isinstance(value, DefaultCredentials | Profile | StaticKeys | AssumeRole):
        raise ConfigurationError(
            f"{name} must be an aiokit identity (aiokit.StaticKeys, aiokit.Profile, "
            f"aiokit.AssumeRole or aiokit.DefaultCredentials), not {kind(value)}"
        )


def _check_static_keys(keys: Any) -> None:
    """``StaticKeys``' fields are strings (the values never appear in the message)."""
    for name in ("access_key_id", "secret_access_key", "session_token"):
        value = getattr(keys, name)
        if value is None and name == "session_token":
            continue
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(
                f"StaticKeys {name} must be a non-empty str, not {kind(value)}"
            )


def _check_assume_role(role: Any) -> None:
    """``AssumeRole``'s fields have the right types; the formats are checked by the class."""
    text("AssumeRole role_arn", role.role_arn, optional=True, error=InvalidRoleError)
    account_id("AssumeRole account", role.account)
    text("AssumeRole role_name", role.role_name, optional=True, error=InvalidRoleError)
    if role.external_id is not None and (
        not isinstance(role.external_id, str) or not role.external_id
    ):
        # The value is a shared secret of sorts: its type is named, never the value.
        raise InvalidRoleError(
            f"AssumeRole external_id must be a non-empty str, not {kind(role.external_id)}"
        )
    text("AssumeRole session_name", role.session_name, error=InvalidRoleError)
    if isinstance(role.duration, bool) or not isinstance(role.duration, int):
        raise InvalidRoleError(
            f"AssumeRole duration must be an int of seconds (900 to 43200), not "
            f"{kind(role.duration)} {role.duration!r}"
        )
    check_identity("AssumeRole source", role.source)
