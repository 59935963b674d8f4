"""Retry for user code, and the pieces every retry in aiokit shares.

- :func:`backoff`: the one jittered exponential backoff. The pool's scope limiters
  (``aiokit._ratelimit``: transient errors, full jitter up to ``RetrySettings.max_backoff``),
  the paginators' page retry (full jitter, 0.25 s doubling up to 10 s), the waiters'
  exponential strategy (Smithy: from the model's delay up) and :func:`retry` all draw from it.
- :func:`is_transient`: the one judgement of an aiokit error worth retrying as is:
  throttling, a 5xx, connection trouble. The page retry and :func:`retry` use it (the scope
  limiters judge raw botocore answers before they become errors: see ``_ratelimit``).
- :func:`retry`: the same classification and backoff for user code.
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import anyio

from ._checks import count, seconds
from ._exceptions import (
    AWSError,
    ConfigurationError,
    EndpointError,
    RetryableError,
    ThrottlingError,
)

__all__ = ["backoff", "is_transient", "retry"]


def backoff(attempt: int, *, base: float, cap: float, floor: float = 0.0) -> float:
    """The one jittered exponential backoff of aiokit, in seconds.

    Drawn uniformly from ``[floor, max(floor, min(cap, base * 2 ** (attempt - 1)))]`` for the
    ``attempt``-th retry (1-based): ``floor=0`` is AWS's "full jitter"; the waiters' Smithy
    strategy is ``floor=delay, base=delay``; "equal jitter" is ``floor=half the ceiling``.
    """
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return random.uniform(floor, max(floor, ceiling))


def is_transient(exc: BaseException) -> bool:
    """Whether an error is worth retrying as is: throttling, a 5xx, or connection trouble."""
    if isinstance(exc, ThrottlingError | EndpointError):
        return True
    return isinstance(exc, AWSError) and (exc.http_status or 0) >= 500


P = ParamSpec("P")
R = TypeVar("R")


def retry(
    fn: Callable[P, Awaitable[R]] | None = None,
    *,
    attempts: int = 8,
    deadline: float | None = 120.0,
    base: float = 0.1,
    cap: float = 20.0,
) -> Any:
    """Retry an async function on throttling, transient AWS errors and ``RetryableError``.

    The same classification as the pool's retries, with full-jitter exponential backoff::

        @aiokit.retry(attempts=10)
        async def write(batch):
            answer = await ddb.batch_write_item(RequestItems=batch)
            if answer["UnprocessedItems"]:
                batch = answer["UnprocessedItems"]
                raise aiokit.RetryableError("unprocessed items")

    Args:
        fn: the function (``@retry`` without parentheses works too).
        attempts: attempts in all.
        deadline: seconds from the first attempt after which no retry starts.
        base: the first backoff cap, seconds; doubled per attempt.
        cap: the largest backoff, seconds.

    Raises:
        ConfigurationError: an option is out of range (at decoration), or the function is
            not async (at the call).
        Exception: the last retryable error once attempts or the deadline are spent; any
            other error at once, unchanged.
    """

    count("retry attempts", attempts)
    seconds("retry deadline", deadline, optional=True)
    seconds("retry base", base, zero=True)
    seconds("retry cap", cap, zero=True)
    if fn is not None and not callable(fn):
        raise ConfigurationError(
            f"aiokit.retry takes the function to wrap, or keyword options "
            f"(@aiokit.retry(attempts=5)), not {type(fn).__name__} {fn!r}"
        )

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        if not callable(func):
            raise ConfigurationError(
                f"aiokit.retry wraps an async function, not {type(func).__name__} {func!r}"
            )

        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.monotonic()
            for attempt in range(1, attempts + 1):
                try:
                    result = func(*args, **kwargs)
                    if not inspect.isawaitable(result):
                        raise ConfigurationError(
                            f"aiokit.retry wraps async functions; {func.__qualname__} "
                            f"returned {type(result).__name__}, not an awaitable"
                        )
                    return await result
                except Exception as exc:
                    retryable = isinstance(exc, RetryableError) or is_transient(exc)
                    if not retryable or attempt >= attempts:
                        raise
                    delay = backoff(attempt, base=base, cap=cap)
                    if deadline is not None and time.monotonic() - start + delay > deadline:
                        raise
                    await anyio.sleep(delay)
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper

    return decorate(fn) if fn is not None else decorate
