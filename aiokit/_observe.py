"""Observability: per-context call statistics and the structured debug log of every call.

Two things watch each API call aiokit makes: a :class:`CallStats` (when the current task
set one, as a fan-out does per target) counts calls, HTTP attempts, throttles and retries;
and the ``aiokit`` logger gets one debug record per call and per attempt, with the
request's :class:`~aiokit._where.Scope` as structured fields (``account``, ``region``,
``service``, ``operation``, ``attempt``, ``duration``). Nothing here changes a request.
Later, OpenTelemetry spans would hang off the same two points.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ._exceptions import is_throttling
from ._where import Scope

__all__ = ["CallStats", "call_stats", "log_attempt", "log_call", "logger"]

logger = logging.getLogger("aiokit")


@dataclass(slots=True)
class CallStats:
    """Counters for the API calls made in one context (one fan-out target, say).

    Set one with ``call_stats.set(CallStats())``; every call and HTTP attempt made in that
    context (task) is counted into it. ``throttle_retries`` and ``transient_retries`` are
    HTTP attempts sent again within one call (by aiokit's scope limiter or botocore's retry
    handler), after a throttle or after anything else; ``page_retries`` are pages aiokit's
    paginator asked for again in a new call once a call had failed.
    """

    calls: int = 0
    attempts: int = 0
    throttles: int = 0
    page_retries: int = 0
    throttle_retries: int = 0
    transient_retries: int = 0

    @property
    def retries(self) -> int:
        """Every retry: HTTP attempts sent again within a call, plus page retries."""
        return self.throttle_retries + self.transient_retries + self.page_retries


call_stats: ContextVar[CallStats | None] = ContextVar("aiokit_call_stats", default=None)


def log_call(
    scope: Scope,
    operation: str,
    start: float,
    *,
    response: dict[str, Any] | None = None,
    error: BaseException | None = None,
) -> None:
    """One debug record for a finished call (``start``: its ``time.perf_counter()``)."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    duration = time.perf_counter() - start
    if error is not None:
        # botocore's HTTPClientError subclasses carry ``response=None``.
        meta = (getattr(error, "response", None) or {}).get("ResponseMetadata", {})
        outcome = type(error).__name__
    else:
        meta = (response or {}).get("ResponseMetadata", {})
        outcome = "ok"
    attempts = int(meta.get("RetryAttempts", 0)) + 1
    code = (getattr(error, "response", None) or {}).get("Error", {}).get("Code")
    logger.debug(
        "%s %s in %s (account %s): %s after %d attempt(s) in %.3f s",
        scope.service,
        operation,
        scope.region,
        scope.account,
        outcome,
        attempts,
        duration,
        extra={
            **scope.fields(),
            "operation": operation,
            "attempt": attempts,
            "duration": duration,
            "error_code": code,
            "request_id": meta.get("RequestId"),
        },
    )


def _is_throttle(response: Any) -> bool:
    status = response[0].status_code
    if status < 400:
        return False
    code = response[1].get("Error", {}).get("Code", "")
    return is_throttling(code, status)


def log_attempt(
    attempts: int,
    response: Any,
    caught_exception: BaseException | None,
    request_dict: dict[str, Any],
    operation: Any,
    **_: Any,
) -> None:
    """``needs-retry`` handler: counts each HTTP attempt; one debug record per attempt."""
    stats = call_stats.get()
    if stats is not None:
        stats.attempts += 1
        throttled = response is not None and _is_throttle(response)
        if throttled:
            stats.throttles += 1
        # This handler sees every attempt of a call with the same context: an attempt
        # after the first means the one before it was sent again, for its own cause.
        context = request_dict.get("context", {})
        if attempts > 1:
            if context.get("aiokit_last_throttled"):
                stats.throttle_retries += 1
            else:
                stats.transient_retries += 1
        context["aiokit_last_throttled"] = throttled
    if not logger.isEnabledFor(logging.DEBUG):
        return
    scope = request_dict.get("context", {}).get("aiokit_scope")
    if caught_exception is not None:
        outcome = type(caught_exception).__name__
    elif response is not None:
        status = response[0].status_code
        code = response[1].get("Error", {}).get("Code") if status >= 300 else None
        outcome = f"HTTP {status}" + (f" {code}" if code else "")
    else:
        outcome = "no response"
    fields = scope.fields() if scope is not None else {}
    logger.debug(
        "attempt %d of %s: %s",
        attempts,
        operation.name,
        outcome,
        extra={**fields, "operation": operation.name, "attempt": attempts},
    )
