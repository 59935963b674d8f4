"""The aiokit exception tree, and the one place where botocore errors are translated.

::

    AiokitError
    ├── ConfigurationError (also ValueError)  bad input, caught before any request
    │   ├── UnknownServiceError
    │   ├── UnknownOperationError
    │   ├── InvalidParameterError
    │   ├── InvalidRegionError
    │   ├── InvalidRoleError
    │   └── ProfileNotFoundError
    ├── CredentialsError                      no credentials, or none to be had
    │   └── AssumeRoleError                   STS refused a role (AccessDenied, ...)
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
``except client.exceptions.ResourceNotFoundException`` both still catch them.

Every error that concerns a request carries ``service``, ``operation``, ``region`` and
``account`` (``None`` where unknown) and names them in its message. No message ever includes
credentials: the request parameters are not echoed.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore import exceptions as bce
from botocore.retries.standard import ThrottledRetryableChecker

__all__ = [
    "AWSError",
    "AccessDeniedError",
    "AiokitError",
    "AssumeRoleError",
    "ConfigurationError",
    "CredentialsError",
    "EndpointError",
    "InvalidParameterError",
    "InvalidRegionError",
    "InvalidRoleError",
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
    "translate",
]


class AiokitError(Exception):
    """Root of every error aiokit raises.

    Attributes:
        service: the AWS service involved, when known.
        operation: the API operation (CamelCase, as AWS names it), when known.
        region: the region, when known.
        account: the account id, when known.
    """

    service: str | None = None
    operation: str | None = None
    region: str | None = None
    account: str | None = None

    def __init__(
        self,
        message: str,
        *,
        service: str | None = None,
        operation: str | None = None,
        region: str | None = None,
        account: str | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.operation = operation
        self.region = region
        self.account = account


class ConfigurationError(AiokitError, ValueError):
    """The caller asked for something that cannot exist: raised before any request is sent."""


class UnknownServiceError(ConfigurationError):
    """No AWS service of that name is known to botocore."""


class UnknownOperationError(ConfigurationError):
    """The service has no operation (or paginator, or waiter) of that name."""


class InvalidParameterError(ConfigurationError):
    """A request parameter is missing, unknown or of the wrong type."""


class InvalidRegionError(ConfigurationError):
    """The region name is malformed or belongs to no known partition."""


class InvalidRoleError(ConfigurationError):
    """A role ARN, account id or role name is malformed."""


class ProfileNotFoundError(ConfigurationError):
    """The named profile is in no AWS config or credentials file."""


class CredentialsError(AiokitError):
    """No credentials could be found or obtained for an identity."""


class AssumeRoleError(CredentialsError):
    """STS refused to let an identity assume a role.

    Attributes:
        code: the AWS error code (``AccessDenied``, ``RegionDisabledException``, ...).
        role_arn: the role that was asked for.
    """

    def __init__(self, message: str, *, code: str | None, role_arn: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.code = code
        self.role_arn = role_arn


class AWSError(AiokitError):
    """AWS answered a request with an error.

    The concrete class of an instance also derives from the botocore exception it replaces
    (``botocore.exceptions.ClientError`` or the service's modelled subclass of it), so
    ``.response`` holds the parsed error exactly as boto3 gives it.

    Attributes:
        code: the AWS error code, e.g. ``ResourceNotFoundException``.
        error_message: AWS's own message.
        http_status: the HTTP status code.
        request_id: the AWS request id, for support cases.
    """

    code: str = ""
    error_message: str = ""
    http_status: int | None = None
    request_id: str | None = None
    response: dict[str, Any]


class AccessDeniedError(AWSError):
    """AWS refused the request for want of permission."""


class ThrottlingError(AWSError):
    """AWS throttled the request and the retry attempts were spent."""


class EndpointError(AiokitError, ConnectionError):
    """No usable answer came back: connection refused or reset, or a timeout."""


class PoolClosedError(AiokitError, RuntimeError):
    """A pool, or a client it handed out, was used after the pool was closed."""


class UsageError(AiokitError, RuntimeError):
    """An aiokit object was used out of turn: a fan-out or crawl run twice or iterated
    outside its ``async with``, an ``aiokit.sync`` call from the pool's own event loop."""


class RetryableError(AiokitError):
    """Raise from a function wrapped by ``aiokit.retry`` to ask for another attempt.

    For conditions AWS reports in a successful answer, such as a DynamoDB batch write
    returning ``UnprocessedItems``.
    """


class PaginationError(AiokitError):
    """A paginator could not go on: its retry budget is spent or its token is unusable."""


class WaiterError(AiokitError):
    """A waiter ended without seeing its success state.

    Attributes:
        waiter: the waiter's name.
        last_response: the last response the waiter saw (``None`` if there was none).
    """

    def __init__(
        self,
        message: str,
        *,
        waiter: str,
        last_response: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.waiter = waiter
        self.last_response = last_response


class WaiterTimeout(WaiterError, TimeoutError):
    """The waiter's deadline or attempt limit was reached before the success state."""


class WaiterFailed(WaiterError):
    """The resource reached one of the waiter's failure states.

    Attributes:
        reason: botocore's description of the failure.
    """

    def __init__(self, message: str, *, reason: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason = reason


# --- translation -------------------------------------------------------------------------

# Error codes AWS uses for "you may not". Kept small and explicit: the fan-out classifier
# refines these further.
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AuthFailure",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "OptInRequired",
        "SubscriptionRequiredException",
    }
)


# botocore's own list, so aiokit and botocore's retry handler agree on what a throttle is.
THROTTLING_CODES = frozenset(ThrottledRetryableChecker._THROTTLED_ERROR_CODES)


def _is_throttling(code: str, status: int | None) -> bool:
    return code in THROTTLING_CODES or status == 429


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


_class_cache: dict[tuple[type[BaseException], type[AWSError]], type[AWSError]] = {}
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
                    {"__module__": "aiokit", "__qualname__": botocore_cls.__name__},
                )
                _class_cache[key] = cls
    return cls


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
    if _is_throttling(code, status):
        category: type[AWSError] = ThrottlingError
    elif code in ACCESS_DENIED_CODES:
        category = AccessDeniedError
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
    where = describe(service, operation, region, account)
    kw: dict[str, Any] = {
        "service": service,
        "operation": operation,
        "region": region,
        "account": account,
    }
    if isinstance(exc, bce.ClientError):
        return _from_client_error(exc, service, operation, region, account)
    if isinstance(exc, bce.ParamValidationError):
        # botocore's report lists the offending parameter names, never their values' secrets.
        return InvalidParameterError(f"{where}: {exc.kwargs.get('report', exc)}", **kw)
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
    if isinstance(exc, bce.ConnectTimeoutError | bce.ReadTimeoutError):
        return EndpointError(f"{where}: timed out ({exc})", **kw)
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectionClosedError):
        return EndpointError(f"{where}: {exc}", **kw)
    if isinstance(exc, bce.HTTPClientError):
        return EndpointError(f"{where}: {exc}", **kw)
    if type(exc) is ValueError and str(exc).startswith("Invalid endpoint: "):
        # botocore's check of an endpoint URL from the environment or config files
        # (AWS_ENDPOINT_URL_<SERVICE>, endpoint_url in a profile): aiokit checks its own.
        return ConfigurationError(
            f"{where}: {exc} (an endpoint URL needs http:// or https:// and a host)", **kw
        )
    return exc
