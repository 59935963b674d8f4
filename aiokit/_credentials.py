"""The credential store: each identity's botocore credentials, made once and refreshed.

A pool asks for an identity's credentials when it first binds a client to that identity;
the store makes them once (concurrent first requests share one lock) and keeps them for
the pool's life:

- ``StaticKeys``: fixed credentials.
- ``AssumeRole``: refreshable credentials, fetched on first use from STS (through a client
  of the pool, as the role's source identity) and refreshed before they expire. botocore's
  windows (15 minutes advisory, 10 mandatory) are replaced by the pool's
  ``refresh_before``, with up to 10 % jitter, and capped by the role's lifetime, so
  15-minute credentials are not refreshed on every call. At most ``sts_concurrency``
  AssumeRole calls run at once.
- ``Profile`` / ``DefaultCredentials``: botocore's credential chain, run in a worker
  thread (it reads files), with a ``credential_process`` child killed if the wait for it
  is cancelled.
"""

from __future__ import annotations

import datetime
import inspect
import random
from collections.abc import Awaitable, Callable
from typing import Any, cast

import anyio
from botocore.exceptions import BotoCoreError, PartialCredentialsError

from ._botocore.credentials import (
    kill_cancelled_credential_process,
    refreshable_role_credentials,
    set_refresh_windows,
    static_credentials,
)
from ._botocore.session import profile_session
from ._clients import sts_failure
from ._exceptions import (
    AiokitError,
    AWSError,
    ConfigurationError,
    CredentialsError,
    InvalidRoleError,
    translated,
)
from ._identity import AssumeRole, DefaultCredentials, Identity, Profile, StaticKeys

__all__ = ["CredentialStore"]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class CredentialStore:
    """Identities -> botocore credentials, for one pool (see the module docstring).

    Args:
        own: the pool's own identity (the source of roles that name none).
        refresh_before: refresh role credentials this many seconds before expiry.
        sts_concurrency: AssumeRole calls at once.
        endpoint_for: the endpoint URL of a service, for a profile's own STS hop.
        region: the pool's default region now (``None`` until known).
        sts_client: ``await sts_client(region, source)``: an STS client acting as ``source``.
        partition: ``partition(region, service)``: the partition of a region, checked.
    """

    def __init__(
        self,
        own: Identity,
        *,
        refresh_before: float,
        sts_concurrency: int,
        endpoint_for: Callable[[str], str | None],
        region: Callable[[], str | None],
        sts_client: Callable[[str, Identity], Awaitable[Any]],
        partition: Callable[[str, str], str],
    ) -> None:
        self._own = own
        self._refresh_before = refresh_before
        self._sts_limiter = anyio.Semaphore(sts_concurrency)
        self._endpoint_for = endpoint_for
        self._region = region
        self._sts_client = sts_client
        self._partition = partition
        self._credentials: dict[Identity, Any] = {}
        self._locks: dict[Identity, anyio.Lock] = {}
        self.session: Any = None  # the pool's botocore session, once the pool is open
        self.refreshes = 0  # role credentials fetched from STS

    def __len__(self) -> int:
        return len(self._credentials)

    async def get(self, identity: Identity) -> Any:
        """The identity's credentials, made on first use."""
        credentials = self._credentials.get(identity)
        if credentials is not None:
            return credentials
        async with self._locks.setdefault(identity, anyio.Lock()):
            credentials = self._credentials.get(identity)
            if credentials is None:
                credentials = await self._make(identity)
                self._credentials[identity] = credentials
                self._locks.pop(identity, None)
        return credentials

    async def _make(self, identity: Identity) -> Any:
        if isinstance(identity, StaticKeys):
            return static_credentials(
                identity.access_key_id, identity.secret_access_key, identity.session_token
            )
        if isinstance(identity, AssumeRole):
            # botocore's default clock asks for the local zone (tzlocal) on every request's
            # expiry check; UTC compares the same against the aware expiry time.
            credentials = refreshable_role_credentials(
                lambda: self._assume_role(identity), time_fetcher=_utc_now
            )
            # botocore refreshes 15 min (advisory) / 10 min (mandatory) before expiry; the
            # jitter spreads refreshes of identities made at the same moment. Neither window
            # may be most of the credentials' lifetime: 15 minutes before the expiry of
            # 15-minute credentials is at once, and every call would fetch new ones.
            advisory = self._refresh_before * (1 + random.uniform(0.0, 0.1))
            set_refresh_windows(
                credentials,
                advisory=min(advisory, identity.duration / 2),
                mandatory=min(self._refresh_before * 2 / 3, identity.duration / 3),
            )
            return credentials
        try:
            with translated():
                try:
                    credentials = await self._from_chain(identity)
                except PartialCredentialsError as exc:
                    # AWS_ACCESS_KEY_ID set without AWS_SECRET_ACCESS_KEY, and the like.
                    raise _chain_error(identity, exc) from exc
        except AiokitError:
            raise
        except BotoCoreError as exc:
            # A credential_process that failed, a source_profile that is not there, a
            # loop of profiles, an SSO token to renew...: botocore says which (it names,
            # never shows).
            raise _chain_error(identity, exc) from exc
        except Exception as exc:
            # botocore lets some through raw: a credential_process that is not there
            # (OSError) or prints no JSON, or an expiry time that is no date (ValueError).
            # Not echoed: what a credential_process printed may be half a secret.
            raise CredentialsError(
                f"no credentials for {identity!r}: {type(exc).__name__} while reading "
                "them (a credential_process that is missing or prints no valid JSON?)"
            ) from None
        if credentials is None:
            raise CredentialsError(f"no AWS credentials found for {identity!r}")
        return credentials

    async def _from_chain(self, identity: Profile | DefaultCredentials) -> Any:
        """botocore's credential chain: a profile's, or the pool session's default one."""
        if isinstance(identity, Profile):
            session = profile_session(identity.name, self._endpoint_for)
        else:
            session = self.session
        # Reading config and credentials files is blocking I/O: do it in a thread.
        await anyio.to_thread.run_sync(session.get_scoped_config)
        region = self._region()
        if (
            isinstance(identity, Profile)
            and region is not None
            and session.get_config_variable("region") is None
        ):
            # The STS client botocore makes for the profile's role_arn hop needs a
            # region: a profile without one takes the pool's, as boto3's would.
            session.set_config_variable("region", region)
        kill_cancelled_credential_process(session)
        return await session.get_credentials()

    async def _assume_role(self, identity: AssumeRole) -> dict[str, Any]:
        """Fetch credentials for a role (botocore's refresh callback)."""
        source = identity.source if identity.source is not None else self._own
        if source == identity:
            # The pool's own identity is this role, with no source: it is assumed from
            # botocore's default chain, not from itself (which would wait on its own lock).
            source = DefaultCredentials()
        region = self._region() or "us-east-1"
        partition = self._partition(region, "sts")
        arn = identity.arn(partition)
        if arn.split(":", 2)[1] != partition:
            # STS of one partition knows no role of another: say so instead of asking it.
            raise InvalidRoleError(
                f"role {arn} is in partition {arn.split(':', 2)[1]}, but the pool assumes "
                f"roles through STS in {region} ({partition}): give the pool a region of "
                "the role's partition",
                account=identity.account,
                region=region,
            )
        sts = await self._sts_client(region, source)
        params: dict[str, Any] = {
            "RoleArn": arn,
            "RoleSessionName": identity.session_name,
            "DurationSeconds": identity.duration,
        }
        if identity.external_id is not None:
            params["ExternalId"] = identity.external_id
        params.update(await _session_options(identity))
        # Resolve the source's own credentials (an earlier hop of a chain) before taking an
        # STS slot, so a chain never waits for a slot while holding one.
        await sts._aiokit.credentials.get_frozen_credentials()
        async with self._sts_limiter:
            response = await _call_assume_role(sts, params, arn, region, identity, source)
        self.refreshes += 1
        return _role_credentials(response, arn, region, identity.account)


def _chain_error(identity: Identity, exc: BaseException) -> CredentialsError:
    return CredentialsError(f"no credentials for {identity!r}: {type(exc).__name__}: {exc}")


async def _call_assume_role(
    sts: Any,
    params: dict[str, Any],
    arn: str,
    region: str,
    identity: AssumeRole,
    source: Identity,
) -> Any:
    """STS's answer to AssumeRole, its refusals made ``AssumeRoleError`` and the like."""
    where = {
        "service": "sts",
        "operation": "AssumeRole",
        "region": region,
        "account": identity.account,
    }
    try:
        # Transient failures (5xx, throttling, resets) are retried by the client
        # itself, as every call is; what is still an error here is final.
        return await sts.assume_role(**params)
    except AWSError as exc:
        failure = sts_failure(exc, arn, repr(source), where)
        if failure is exc:
            raise
        raise failure from exc
    except AiokitError:
        raise
    except Exception as exc:
        # An answer that is not STS's (a proxy's page, cut-off XML, a bad date):
        # botocore's parser error, KeyError or ValueError, never a target's bug.
        raise CredentialsError(
            f"could not assume {arn}: STS's answer could not be read: {type(exc).__name__}",
            **where,
        ) from None


async def _session_options(role: AssumeRole) -> dict[str, Any]:
    """AssumeRole's optional parameters for ``role``: policies, tags, MFA..."""
    params: dict[str, Any] = {}
    if role.policy is not None:
        params["Policy"] = role.policy
    if role.policy_arns:
        params["PolicyArns"] = [{"arn": arn} for arn in role.policy_arns]
    if role.tags:
        # Stored as sorted (key, value) pairs, so the identity stays hashable.
        pairs = cast(tuple[tuple[str, str], ...], role.tags)
        params["Tags"] = [{"Key": k, "Value": v} for k, v in pairs]
    if role.transitive_tag_keys:
        params["TransitiveTagKeys"] = list(role.transitive_tag_keys)
    if role.source_identity is not None:
        params["SourceIdentity"] = role.source_identity
    if role.mfa_serial is not None:
        params["SerialNumber"] = role.mfa_serial
        params["TokenCode"] = await _mfa_code(role)
    return params


async def _mfa_code(role: AssumeRole) -> str:
    token: Any = role.mfa_token
    if callable(token):
        if inspect.iscoroutinefunction(token):
            token = await token()
        else:
            # A plain function may prompt (input()): never on the event loop.
            token = await anyio.to_thread.run_sync(token)
            if inspect.isawaitable(token):
                token = await token
    if not isinstance(token, str):
        raise ConfigurationError(
            f"the mfa_token function of {role!r} returned {type(token).__name__}, not "
            "the code as a string"
        )
    return token


def _role_credentials(response: Any, arn: str, region: str, account: str | None) -> dict[str, Any]:
    """botocore's refresh metadata from an AssumeRole answer, checked: complete, unexpired."""
    c = response.get("Credentials") if isinstance(response, dict) else None
    keys = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    missing = [k for k in keys if not c.get(k)] if isinstance(c, dict) else list(keys)
    where: dict[str, Any] = {
        "service": "sts",
        "operation": "AssumeRole",
        "region": region,
        "account": account,
    }
    if not isinstance(c, dict) or missing:
        raise CredentialsError(
            f"could not assume {arn}: STS answered without credentials "
            f"(missing {', '.join(missing)})",
            **where,
        )
    expiry = c["Expiration"]
    if not isinstance(expiry, datetime.datetime) or expiry.tzinfo is None:
        raise CredentialsError(f"could not assume {arn}: STS gave no usable expiry time", **where)
    if expiry <= _utc_now():
        # botocore would say only "the refreshed credentials are still expired" (a
        # RuntimeError), from the middle of signing some other call.
        raise CredentialsError(
            f"could not assume {arn}: STS handed out credentials that expired at "
            f"{expiry.isoformat()} (is this machine's clock right?)",
            **where,
        )
    return {
        "access_key": c["AccessKeyId"],
        "secret_key": c["SecretAccessKey"],
        "token": c["SessionToken"],
        "expiry_time": expiry.isoformat(),
    }
