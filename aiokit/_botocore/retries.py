"""botocore.retries: the classification tables of botocore's standard retry mode, and CUBIC.

aiokit's shared limiter (``aiokit._ratelimit``) takes botocore's retries over but keeps
botocore's judgement of what a throttle and a transient failure are, so the two modes agree;
the tables live on private attributes of botocore's checkers, read here once. The send rate
after a throttle is botocore's own ``CubicCalculator`` (beta 0.7, C 0.4).
"""

from __future__ import annotations

from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker
from botocore.retries.throttling import CubicCalculator

__all__ = [
    "THROTTLED_ERROR_CODES",
    "TRANSIENT_ERROR_CODES",
    "TRANSIENT_EXCEPTIONS",
    "TRANSIENT_STATUS_CODES",
    "CubicCalculator",
]

# The error codes botocore's standard and adaptive modes retry as throttles.
THROTTLED_ERROR_CODES: frozenset[str] = frozenset(ThrottledRetryableChecker._THROTTLED_ERROR_CODES)
# What botocore retries as transient: connection trouble, 5xx statuses and a few codes.
_transient = TransientRetryableChecker
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = tuple(_transient._TRANSIENT_EXCEPTION_CLS)
TRANSIENT_STATUS_CODES: frozenset[int] = frozenset(_transient._TRANSIENT_STATUS_CODES)
TRANSIENT_ERROR_CODES: frozenset[str] = frozenset(_transient._TRANSIENT_ERROR_CODES)
