"""The aiokit exception tree, and the one place where botocore errors are translated.

::

    AiokitError
    ├── ConfigurationError (also ValueError)  bad input, caught before any request
    │   ├── UnknownServiceError
    │   ├── UnknownOperationError
    │   ├── InvalidParameterError
    │   ├── InvalidRegionError
    │   ├── InvalidRoleError
    │   ├── ProfileNotFoundError
    │   └── MissingDependencyError (also ImportError)  an optional extra is not installed
    ├── CredentialsError                      no credentials, or none to be had
    │   ├── AssumeRoleError                   STS refused a role (AccessDenied, ...)
    │   └── InvalidCredentialsError           AWS rejected the credentials themselves
    ├── AWSError                              AWS answered with an error (a ClientError)
    │   ├── AccessDeniedError
    │   └── ThrottlingError
    ├── EndpointError (also ConnectionError)  no usable answer: refused, reset, timeout
    ├── PoolClosedError (also RuntimeError)   a pool or its client used after close
    ├── UsageError (also RuntimeError)        an object used out of turn (run twice, ...)
    ├── PaginationError                       a paginator could not go on
    ├── RetryableError                        raised by user code to ask aiokit.retry again
    └── WaiterError
        ├── WaiterTimeout (also TimeoutError) the waiter's deadline passed
        └── WaiterFailed                      the resource reached a failure state

``AWSError`` instances are also instances of the botocore exception they replace, so code
written for boto3 keeps working: ``except ClientError`` and
``except client.exceptions.ResourceNotFoundException`` both still catch them. An answer with
a credential error code (``InvalidClientTokenId``, ``ExpiredToken``, ...) is both an
``AWSError`` and an ``InvalidCredentialsError``.

Every error that concerns a request carries ``service``, ``operation``, ``region`` and
``account`` (``None`` where unknown) and names them in its message. No message ever includes
credentials: the request parameters are not echoed.

The classes are defined in ``aiokit._errors`` (which depends on nothing, so the seam,
``aiokit._botocore``, can raise them) and re-exported here, where the rest of aiokit imports
them from. This module holds the translation: ``translate(exc, ...)`` is the mapping, ``with
translated(scope, operation):`` the boundary every request passes; and the code tables that
say what an AWS error code means, once (``translate`` picks the class from them, the
fan-out's ``classify`` the outcome, the limiters a throttle: ``is_throttling``).
"""

from __future__ import annotations

import re
import sys
import threading
from typing import Any, Literal

from botocore import exceptions as bce

from ._botocore.errors import THROTTLED_ERROR_CODES, ResponseParserError
from ._errors import (
    AccessDeniedError,
    AiokitError,
    AssumeRoleError,
    AWSError,
    ConfigurationError,
    CredentialsError,
    EndpointError,
    InvalidCredentialsError,
    InvalidParameterError,
    InvalidRegionError,
    InvalidRoleError,
    MissingDependencyError,
    PaginationError,
    PoolClosedError,
    ProfileNotFoundError,
    RetryableError,
    ThrottlingError,
    UnknownOperationError,
    UnknownServiceError,
    UsageError,
    WaiterError,
    WaiterFailed,
    WaiterTimeout,
    _AWSInvalidCredentialsError,
    _rebuilt,
)
from ._where import Scope, describe

__all__ = [
    "AWSError",
    "AccessDeniedError",
    "AiokitError",
    "AssumeRoleError",
    "ConfigurationError",
    "CredentialsError",
    "EndpointError",
    "InvalidCredentialsError",
    "InvalidParameterError",
    "InvalidRegionError",
    "InvalidRoleError",
    "MissingDependencyError",
    "PaginationError",
    "PoolClosedError",
    "ProfileNotFoundError",
    "RetryableError",
    "ThrottlingError",
    "UnknownOperationError",
    "UnknownServiceError",
    "UsageError",
    "WaiterError",
    "WaiterFailed",
    "WaiterTimeout",
    "is_throttling",
    "translate",
    "translated",
]


# --- translation -------------------------------------------------------------------------

# The code tables: what an AWS error code means, in one place. ``translate`` picks the
# exception class from them and the fan-out's ``classify`` the outcome.

# "You may not": the identity is known and its request was refused by policy.
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
    }
)

# "Who are you?": AWS rejected the credentials themselves (unknown key, bad signature,
# expired or malformed token).
CREDENTIAL_CODES = frozenset(
    {
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)

# The region or the service must be switched on for the account first: skipped by design.
OPT_IN_CODES: dict[str, str] = {
    "OptInRequired": "opt-in required",
    "SubscriptionRequiredException": "subscription required",
}

# What AWS answers in a region the account has not enabled: the region's endpoints do not
# know the account's keys, so they look like credential errors (EC2 AuthFailure, S3
# InvalidAccessKeyId, JSON APIs UnrecognizedClientException, query APIs
# InvalidClientTokenId), or STS's RegionDisabledException. Only in an opt-in region can
# they mean "region disabled"; anywhere else they mean what they say.
REGION_DISABLED_CODES = frozenset(
    {
        "AuthFailure",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "RegionDisabledException",
        "UnrecognizedClientException",
    }
)

# botocore's own list, so aiokit and botocore's retry handler agree on what a throttle is.
THROTTLING_CODES = THROTTLED_ERROR_CODES

# The commercial regions enabled in every account, which can never be disabled: those
# launched before 20 March 2019. Every region launched since is opt-in, so this set is
# closed. Source: AWS Account Management Reference Guide, "Enable or disable AWS Regions in
# your account" (docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html).
# Other partitions (China, GovCloud, ISO) have no opt-in regions.
DEFAULT_ENABLED_REGIONS = frozenset(
    {
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-north-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)

# The opt-in regions known today: the commercial ("aws" partition) regions of botocore
# 1.40's endpoints.json minus the ones above, as the same AWS page lists them. A region
# launched later is opt-in too (see ``is_opt_in_region``); this list is for reading.
OPT_IN_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-west-1",
        "eu-central-2",
        "eu-south-1",
        "eu-south-2",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
    }
)

# botocore's regionRegex of the commercial partition.
_COMMERCIAL_REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$")


def is_opt_in_region(region: str | None) -> bool:
    """Whether an account may have ``region`` disabled (an opt-in commercial region)."""
    if not region:
        return False
    if region in OPT_IN_REGIONS:
        return True
    return region not in DEFAULT_ENABLED_REGIONS and bool(_COMMERCIAL_REGION.match(region))


def is_throttling(code: str, status: int | None) -> bool:
    """The one throttle check: an error code botocore retries as a throttle, or HTTP 429."""
    return code in THROTTLING_CODES or status == 429


_class_cache: dict[tuple[type[BaseException], type[Any]], type[AWSError]] = {}
_class_lock = threading.Lock()


def _aws_error_class(botocore_cls: type[BaseException], category: type[AWSError]) -> type[AWSError]:
    """A class deriving from both the botocore exception and an aiokit category, cached."""
    key = (botocore_cls, category)
    cls = _class_cache.get(key)
    if cls is None:
        with _class_lock:
            cls = _class_cache.get(key)
            if cls is None:
                # The class keeps the botocore name, so tracebacks read like boto3's.
                cls = type(
                    botocore_cls.__name__,
                    (botocore_cls, category),
                    {
                        "__module__": "aiokit",
                        "__qualname__": botocore_cls.__name__,
                        "__reduce__": _reduce_aws_error,
                    },
                )
                _class_cache[key] = cls
    return cls


def _reduce_aws_error(self: AWSError) -> tuple[Any, ...]:
    """Pickle an error of a class :func:`_aws_error_class` made: by its two parents.

    Such a class exists only in the process that made it; the one that unpickles makes it
    again from the botocore class (a service's modelled exception class, which botocore
    makes at run time too, travels as its importable base) and the aiokit category, with
    the same message and attributes. What cannot travel in the attributes (botocore's
    ``kwargs`` may hold the underlying exception) travels as its text.
    """
    cls = type(self)
    botocore_cls = next(b for b in cls.__bases__ if not issubclass(b, AiokitError))
    category = next(b for b in cls.__bases__ if issubclass(b, AiokitError))
    while not _importable(botocore_cls):
        botocore_cls = botocore_cls.__bases__[0]
    state = dict(vars(self))
    if isinstance(state.get("kwargs"), dict):
        state["kwargs"] = {k: _plain(v) for k, v in state["kwargs"].items()}
    return (_rebuilt_aws_error, (botocore_cls, category, self.args, state))


def _rebuilt_aws_error(
    botocore_cls: type[BaseException],
    category: type[AWSError],
    args: tuple[Any, ...],
    state: dict[str, Any],
) -> Any:
    return _rebuilt(_aws_error_class(botocore_cls, category), args, state)


def _importable(cls: type[Any]) -> bool:
    module = sys.modules.get(cls.__module__)
    return getattr(module, cls.__qualname__, None) is cls


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _from_client_error(
    exc: bce.ClientError,
    service: str | None,
    operation: str | None,
    region: str | None,
    account: str | None,
) -> AWSError:
    response: dict[str, Any] = dict(exc.response)
    error = response.get("Error", {}) or {}
    meta = response.get("ResponseMetadata", {}) or {}
    code = str(error.get("Code", "") or "")
    status = meta.get("HTTPStatusCode")
    if is_throttling(code, status):
        category: type[AWSError] = ThrottlingError
    elif code in ACCESS_DENIED_CODES or code in OPT_IN_CODES:
        category = AccessDeniedError
    elif code in CREDENTIAL_CODES:
        category = _AWSInvalidCredentialsError
    else:
        category = AWSError
    cls = _aws_error_class(type(exc), category)
    new = cls.__new__(cls)
    op = operation or exc.operation_name
    message = f"{describe(service, op, region, account)}: {code}: {error.get('Message', '')}"
    retries = meta.get("RetryAttempts")
    if retries:
        message += f" (after {retries} retries)"
    Exception.__init__(new, message)
    new.response = response
    new.operation_name = op  # type: ignore[attr-defined]  # botocore's attribute
    new.service, new.operation, new.region, new.account = service, op, region, account
    new.code = code
    new.error_message = str(error.get("Message", "") or "")
    new.http_status = status
    new.request_id = meta.get("RequestId")
    return new


# botocore's "invalid type" lines echo the value (a secret passed as bytes, say): the
# parameter's name and types say what is wrong without it.
_ECHOED_VALUE = re.compile(
    r"(Invalid type for (?:document )?parameter .+?), value: .*?, (type: <class '[^']*'>, "
    r"valid types: )",
    re.DOTALL,
)


def _without_values(report: str) -> str:
    """botocore's parameter validation report, less the values it echoes."""
    return _ECHOED_VALUE.sub(r"\1, \2", report)


def translate(
    exc: BaseException,
    *,
    service: str | None = None,
    operation: str | None = None,
    region: str | None = None,
    account: str | None = None,
) -> BaseException:
    """Turn a botocore exception into the matching aiokit exception.

    Exceptions aiokit does not know (and aiokit's own) are returned unchanged, so callers can
    always ``raise translate(exc, ...) from exc``.
    """
    if isinstance(exc, AiokitError):
        return exc
    if isinstance(exc, bce.ClientError):
        return _from_client_error(exc, service, operation, region, account)
    where = describe(service, operation, region, account)
    kw: dict[str, Any] = {
        "service": service,
        "operation": operation,
        "region": region,
        "account": account,
    }
    new = _from_request_error(exc, where, kw)
    if new is None:
        new = _from_answer_error(exc, where, kw)
    return exc if new is None else new


def _from_request_error(exc: BaseException, where: str, kw: dict[str, Any]) -> AiokitError | None:
    """What was wrong before any answer: parameters, service, region, profile, credentials,
    an endpoint URL from the environment."""
    if isinstance(exc, bce.ParamValidationError):
        report = _without_values(str(exc.kwargs.get("report", exc)))
        # botocore's error rides along as the cause, which tracebacks print: without too.
        exc.kwargs["report"] = report
        exc.args = (exc.fmt.format(**exc.kwargs),)
        return InvalidParameterError(f"{where}: {report}", **kw)
    if isinstance(exc, bce.UnknownServiceError):
        return UnknownServiceError(
            f"unknown service {exc.kwargs.get('service_name')!r}; see botocore's list of services",
            **kw,
        )
    if isinstance(exc, bce.InvalidRegionError):
        return InvalidRegionError(f"invalid region name {exc.kwargs.get('region_name')!r}", **kw)
    if isinstance(exc, bce.NoRegionError):
        return InvalidRegionError(
            f"{where}: no region given: pass region=... or set AWS_DEFAULT_REGION", **kw
        )
    if isinstance(exc, bce.ProfileNotFound):
        return ProfileNotFoundError(
            f"profile {exc.kwargs.get('profile')!r} is not in the AWS config files", **kw
        )
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        return CredentialsError(f"{where}: no AWS credentials found ({type(exc).__name__})", **kw)
    if type(exc) is RuntimeError and str(exc).startswith("Credentials were refreshed, but"):
        # botocore's refresh of temporary credentials (a credential_process, SSO, a
        # container's endpoint) got credentials whose expiry time had already passed.
        return CredentialsError(
            f"{where}: the credential source handed out credentials that have already "
            "expired (is this machine's clock right?)",
            **kw,
        )
    if type(exc) is ValueError and str(exc).startswith("Invalid endpoint: "):
        # botocore's check of an endpoint URL from the environment or config files
        # (AWS_ENDPOINT_URL_<SERVICE>, endpoint_url in a profile): aiokit checks its own.
        return ConfigurationError(
            f"{where}: {exc} (an endpoint URL needs http:// or https:// and a host)", **kw
        )
    return None


def _from_answer_error(exc: BaseException, where: str, kw: dict[str, Any]) -> AiokitError | None:
    """No usable answer: a timeout, TLS, the connection, or an answer that cannot be read."""
    if isinstance(exc, bce.ConnectTimeoutError | bce.ReadTimeoutError):
        return _endpoint_error(exc, f"{where}: timed out ({exc})", kw)
    if isinstance(exc, bce.SSLError):
        return _endpoint_error(
            exc, f"{where}: {exc} (a CA bundle: verify='path'; no check: verify=False)", kw
        )
    if isinstance(exc, bce.ConnectionError | bce.ConnectionClosedError):
        # EndpointConnectionError, ProxyConnectionError, and the rest of botocore's kind
        return _endpoint_error(exc, f"{where}: {exc}", kw)
    if isinstance(exc, bce.HTTPClientError):
        if isinstance(exc.kwargs.get("error"), ValueError):
            # The request could not be sent as built (a line break in a header value,
            # say): a bad parameter, not the endpoint's fault.
            return InvalidParameterError(f"{where}: {exc.kwargs['error']}", **kw)
        return _endpoint_error(exc, f"{where}: {exc}", kw)
    if isinstance(exc, ResponseParserError):
        # botocore quotes the whole body, which may be an STS answer with its keys: keep
        # only its first line, in this error and in the one it chains.
        first = str(exc).split("\n", 1)[0]
        exc.args = (first,)
        return EndpointError(
            f"{where}: the answer could not be read, not what AWS sends (a proxy's page, a "
            f"body cut short?): {first}",
            **kw,
        )
    return None


class translated:
    """``with translated(scope, operation):`` — the one boundary where botocore's errors
    become aiokit's (``raise new from exc``), carrying where the request went.

    aiokit's own errors, and exceptions aiokit does not know, pass through unchanged. A
    class, not a generator-based context manager: it wraps every request, and this costs
    a fraction of ``contextlib.contextmanager``'s CPU.
    """

    __slots__ = ("_operation", "_scope")

    def __init__(self, scope: Scope | None = None, operation: str | None = None) -> None:
        self._scope = scope
        self._operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> Literal[False]:
        if exc is None or not isinstance(exc, Exception):
            return False
        scope = self._scope
        if scope is None:
            new = translate(exc, operation=self._operation)
        else:
            new = translate(
                exc,
                service=scope.service,
                operation=self._operation,
                region=scope.region,
                account=scope.account,
            )
        if new is exc:
            return False
        raise new from exc


def _endpoint_error(exc: bce.BotoCoreError, message: str, kw: dict[str, Any]) -> EndpointError:
    """An EndpointError that is also the botocore class it replaces, as AWSError is, so
    ``except botocore.exceptions.EndpointConnectionError`` (and the like) still catches it."""
    cls = _aws_error_class(type(exc), EndpointError)  # type: ignore[arg-type]
    new = cls.__new__(cls)
    Exception.__init__(new, message)
    new.kwargs = dict(exc.kwargs)  # type: ignore[attr-defined]  # botocore's attribute
    for name, value in kw.items():
        setattr(new, name, value)
    return new  # type: ignore[return-value]
