"""Observability: per-context call statistics and the structured debug log of every call.

Two things watch each API call aiokit makes: a :class:`CallStats` (when the current task
set one, as a fan-out does per target) counts calls, HTTP attempts, throttles and retries;
and the ``aiokit`` logger gets one debug record per call and per attempt, with the
request's :class:`~aiokit._where.Scope` as structured fields (``account``, ``region``,
``service``, ``operation``, ``attempt``, ``duration``). Nothing here changes a request.

OpenTelemetry hangs off the same points: :data:`tracing` is ``None`` until
``aiokit.otel.instrument()`` sets it (one module-global read per call while it is off);
then each call runs through ``tracing.call`` and each attempt is also counted into the
call's :class:`CallTrace` (a context variable set only while tracing). :data:`scopes` holds
the open pools' scope limiters, whose statistics the OpenTelemetry metrics observe.
"""

from __future__ import annotations

import logging
import time
import weakref
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._exceptions import is_throttling
from ._where import Scope

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = [
    "CallStats",
    "CallTrace",
    "Tracing",
    "call_stats",
    "call_trace",
    "log_attempt",
    "log_call",
    "logger",
    "scopes",
    "tracing",
]

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


@dataclass(slots=True)
class CallTrace:
    """What the attempts of one traced call did (set only while OpenTelemetry is on).

    ``waited``: seconds the call's attempts waited for their scope's slot or token;
    ``scope``: the throttling scope (``ScopeKey``) its attempts were limited by.
    """

    attempts: int = 0
    throttles: int = 0
    throttle_retries: int = 0
    transient_retries: int = 0
    waited: float = 0.0
    scope: Any = None


call_trace: ContextVar[CallTrace | None] = ContextVar("aiokit_call_trace", default=None)


class Tracing(Protocol):
    """What ``aiokit.otel`` plugs in (see :data:`tracing`)."""

    async def call(
        self,
        client: Any,
        scope: Scope,
        operation: str,
        api_params: dict[str, Any],
        send: Callable[[str, dict[str, Any]], Awaitable[Any]],
    ) -> Any:
        """Make the call ``send(operation, api_params)`` inside a span."""

    def run(self, label: str, targets: int | None, parent: dict[str, str] | None) -> Any:
        """A fan-out or crawl started: its span (ended by ``run_finished``); its parent is
        the current context, or ``parent`` (W3C trace context headers) when given."""

    def carrier(self, span: Any) -> dict[str, str]:
        """``span``'s context as W3C trace context headers (to send to another process)."""

    def run_finished(self, span: Any, statistics: Any, error: BaseException | None) -> None:
        """A fan-out or crawl ended, with its ``FanOutStatistics``."""

    def enter(self, span: Any) -> Any:
        """Make ``span`` current in this task; returns what ``leave`` takes."""

    def leave(self, token: Any) -> None:
        """Undo ``enter``."""

    def target(self, account: str | None, region: str | None, listing: str | None) -> Any:
        """A target started (in the current run's context): its span, made current."""

    def target_finished(self, handle: Any, outcome: Any, items: int) -> None:
        """A target ended with ``outcome`` (an ``Outcome``)."""


#: Set by ``aiokit.otel.instrument()``; ``None`` while OpenTelemetry is off.
tracing: Tracing | None = None

#: The scope limiters (``RateLimiterRegistry``) of the open pools: what the OpenTelemetry
#: metrics observe, from whatever thread the SDK's metric reader collects in.
scopes: weakref.WeakSet[Any] = weakref.WeakSet()


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
    trace = call_trace.get()
    if trace is not None:
        _trace_attempt(trace, attempts, response, request_dict)
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


def _trace_attempt(
    trace: CallTrace, attempts: int, response: Any, request_dict: dict[str, Any]
) -> None:
    """Count one attempt into the traced call's record (as ``CallStats`` counts it)."""
    trace.attempts += 1
    throttled = response is not None and _is_throttle(response)
    if throttled:
        trace.throttles += 1
    context = request_dict.get("context", {})
    if attempts > 1:
        if context.get("aiokit_trace_throttled"):
            trace.throttle_retries += 1
        else:
            trace.transient_retries += 1
    context["aiokit_trace_throttled"] = throttled
