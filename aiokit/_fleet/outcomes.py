"""What a fan-out reports: each target's :class:`Outcome`, its :class:`Status` and why.

:func:`classify` is the one place that decides whether a target that raised was *skipped*
(it cannot be visited by design: a resume leaves it alone), *failed* (it should have worked:
a resume runs it again) or hit a bug that stops the whole fan-out. The AWS error codes it
reads are ``aiokit._exceptions``' code tables; ``SKIP_REASONS`` joins the ones that mean
"skipped" with the reason each gives.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from .._exceptions import (
    ACCESS_DENIED_CODES,
    CREDENTIAL_CODES,
    OPT_IN_CODES,
    REGION_DISABLED_CODES,
    THROTTLING_CODES,
    AiokitError,
    AssumeRoleError,
    AWSError,
    ConfigurationError,
    CredentialsError,
    InvalidCredentialsError,
    ThrottlingError,
    is_opt_in_region,
)
from .display import html_table
from .targets import Target

if TYPE_CHECKING:  # (listings imports the paginator; outcomes stays below it)
    from .listings import Listing

__all__ = [
    "SKIP_REASONS",
    "FanOutStatistics",
    "Outcome",
    "Progress",
    "Status",
    "WorkerSummary",
    "classify",
]

T = TypeVar("T")


class Status(enum.Enum):
    """How one target ended."""

    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


#: The AWS error codes that skip a target, and the reason its outcome gives: the request
#: was refused by policy, or the service must be switched on for the account first. Built
#: from ``aiokit._exceptions``' code tables (``OPT_IN_CODES`` carries its own reasons), so
#: no code is listed twice.
SKIP_REASONS: Mapping[str, str] = MappingProxyType(
    {**dict.fromkeys(sorted(ACCESS_DENIED_CODES), "access denied"), **OPT_IN_CODES}
)


def classify(exc: BaseException, region: str | None = None) -> tuple[Status, str] | None:
    """The (status, reason) of a target that raised ``exc``; ``None`` if it must stop all.

    ``None`` means a bug in ``fn`` or a ``ConfigurationError`` (an unknown operation or
    parameter is wrong for every target alike): the fan-out stops and raises it.

    Skipped means "cannot be visited by design": STS refused the role (access denied), the
    call was denied, the region is an opt-in one the account has not enabled (only an
    opt-in region can be disabled: ``region`` is the target's, else the error's), the
    service needs opt-in or a subscription. Failed is everything else, and a resume runs it
    again: credentials AWS rejects ("invalid credentials"), throttled past the retry
    budget, timed out, STS outages, any other AWS or connection error.
    """
    if isinstance(exc, ConfigurationError):
        return None  # the same for every target: stop and say so once, not N times
    if isinstance(exc, AssumeRoleError):
        return _assume_role_verdict(exc.code or "")
    if isinstance(exc, ThrottlingError):
        return Status.FAILED, "throttled"
    if isinstance(exc, AWSError):
        code = exc.code
        if code in REGION_DISABLED_CODES and is_opt_in_region(region or exc.region):
            return Status.SKIPPED, "region disabled"
        if code in CREDENTIAL_CODES:
            return Status.FAILED, "invalid credentials"
        if code in SKIP_REASONS:
            return Status.SKIPPED, SKIP_REASONS[code]
        return Status.FAILED, f"error: {code}"
    if isinstance(exc, InvalidCredentialsError):
        return Status.FAILED, "invalid credentials"
    if isinstance(exc, TimeoutError) or isinstance(
        exc.__cause__, ConnectTimeoutError | ReadTimeoutError
    ):
        return Status.FAILED, "timeout"
    if isinstance(exc, CredentialsError):
        return Status.FAILED, "no credentials"
    if isinstance(exc, AiokitError | ClientError | BotoCoreError):
        return Status.FAILED, f"error: {type(exc).__name__}"
    return None


def _assume_role_verdict(code: str) -> tuple[Status, str]:
    """Why a target whose role STS would not hand out ended as it did."""
    if code in CREDENTIAL_CODES:
        return Status.FAILED, "invalid credentials"  # the source keys, not the role
    if not code or code in ACCESS_DENIED_CODES or code == "RegionDisabledException":
        return Status.SKIPPED, "role not assumable"
    if code in THROTTLING_CODES:
        return Status.FAILED, "throttled"
    return Status.FAILED, f"error: {code}"


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What one target gave.

    Attributes:
        target: the target.
        status: ``ok``, ``skipped`` or ``failed``.
        value: ``fn``'s return value when ok.
        error: the exception when skipped or failed.
        reason: why it was skipped or failed (``"access denied"``, ``"timeout"``...).
        duration: seconds from start to end of this target's work.
        calls: API calls made.
        retries: every retry: ``throttle_retries + transient_retries + page_retries``.
        throttles: throttled HTTP responses seen.
        throttle_retries: HTTP attempts sent again after a throttle.
        transient_retries: HTTP attempts sent again after a transient error (5xx, timeout,
            connection error), by aiokit's scope limiter or botocore's retry handler.
        page_retries: pages a paginator asked for again, in a new call, after a call
            failed (``page_retries`` of ``paginate``).
        listing: the :class:`~aiokit.Listing` this outcome is for, in a crawl of many
            listings (one outcome per target and listing); ``None`` otherwise.

    The pool's ``statistics().scopes`` count the same HTTP attempts per throttling scope:
    summed over the targets of a fan-out, ``throttles``, ``throttle_retries`` and
    ``transient_retries`` agree with the scopes' (page retries are new requests there).
    """

    target: Target
    status: Status
    value: T | None = None
    error: BaseException | None = field(default=None, repr=False)
    reason: str | None = None
    duration: float = 0.0
    calls: int = 0
    retries: int = 0
    throttles: int = 0
    throttle_retries: int = 0
    transient_retries: int = 0
    page_retries: int = 0
    listing: Listing | None = None

    @property
    def ok(self) -> bool:
        """Whether the target succeeded."""
        return self.status is Status.OK

    def __repr__(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"aiokit.Outcome({self.target!r} {self.status.value}{why} {self.duration:.2f}s)"

    def _repr_html_(self) -> str:
        """Jupyter's view: one row with the target, status, timings and value or error."""
        result = self.value if self.ok else self.error
        return html_table(
            ("target", "status", "reason", "seconds", "calls", "retries", "throttles", "result"),
            [
                (
                    repr(self.target),
                    self.status.value,
                    self.reason,
                    f"{self.duration:.2f}",
                    self.calls,
                    self.retries,
                    self.throttles,
                    result,
                )
            ],
            caption="aiokit.Outcome",
        )


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a fan-out stands, as given to a progress hook."""

    done: int
    in_flight: int
    ok: int
    skipped: int
    failed: int
    items: int


@dataclass(frozen=True, slots=True)
class FanOutStatistics:
    """A snapshot of a fan-out's counters."""

    started: int
    done: int
    in_flight: int
    ok: int
    skipped: int
    failed: int
    items: int
    calls: int
    retries: int
    throttles: int
    deadline_reached: bool
    #: Targets started but stopped before an outcome (the deadline passed, the consumer
    #: left, or a bug stopped the fan-out): ``started == done + in_flight + interrupted``.
    interrupted: int = 0


@dataclass(frozen=True, slots=True)
class WorkerSummary:
    """A worker's last words: whether its deadline stopped it, what it left unfinished.

    Attributes:
        deadline_reached: the run's deadline stopped this worker's work.
        interrupted: targets it started and stopped before their outcome (the deadline).
        statistics: its pool's ``PoolStatistics`` when it closed (``None``: not sent).
    """

    deadline_reached: bool = False
    interrupted: int = 0
    statistics: Any = None
