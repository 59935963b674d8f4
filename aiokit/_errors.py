"""The classes of aiokit's exception tree (drawn in ``aiokit._exceptions``' docstring).

They depend on nothing else in aiokit, so every module, the seam (``aiokit._botocore``)
included, can raise them; ``aiokit._exceptions`` re-exports them with the translation that
turns botocore's errors into them.
"""

from __future__ import annotations

from typing import Any

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

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as it is: its message and attributes, whatever its ``__init__`` needs.

        An error travels from a worker process to the driver (``runner=``): it must arrive
        with the same class, message and attributes as it would in-process.
        """
        return (_rebuilt, (type(self), self.args, dict(vars(self))))


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An exception of ``cls`` with ``args`` and attributes ``state``, without its
    ``__init__`` (whose keyword-only arguments the pickle does not carry)."""
    new = cls.__new__(cls)
    Exception.__init__(new, *args)
    vars(new).update(state)
    return new


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


class MissingDependencyError(ConfigurationError, ImportError):
    """A feature needs an optional extra that is not installed; the message names it."""


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


class InvalidCredentialsError(CredentialsError):
    """AWS rejected the credentials themselves: unknown key, bad signature, expired token.

    Raised when an AssumeRole fails because the *source* credentials are bad, and (as a
    class that is also an :class:`AWSError` and botocore's ``ClientError``) for any call
    AWS answers with a credential error code (see ``CREDENTIAL_CODES``) where the region
    cannot explain it.
    """


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


class _AWSInvalidCredentialsError(AWSError, InvalidCredentialsError):
    """An AWS answer with a credential error code: both an AWSError and invalid credentials."""


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
