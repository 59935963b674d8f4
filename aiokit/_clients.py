"""Shared botocore clients and the cheap per-identity clients bound to them.

A *raw* client is made once per (region, service, config, endpoint) and owns the expensive
parts: the parsed model, the endpoint resolver, the HTTP connection pool. A *bound* client is
what callers get: a shallow copy of a raw client carrying one identity's credentials, so that
each request is signed as that identity (see ``_botocore.inject_request_credentials``). It
costs a few kilobytes, behaves exactly like an aiobotocore client (operations, paginators,
waiters, presigned URLs, S3 transfers, resources) and adds three things to every call:

- botocore errors become aiokit errors, carrying account, region, service and operation;
- the call is logged at debug level with structured fields;
- the call counts as in flight on its raw client, which the pool never closes while any
  call is in flight. When the pool has evicted the raw client, the next call rebinds to a
  fresh one, so a caller may hold a bound client for as long as the pool is open.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio

from ._exceptions import THROTTLING_CODES, translate
from ._retry import held_slots

__all__ = [
    "Binding",
    "CallStats",
    "RawClient",
    "Scope",
    "bind",
    "call_stats",
    "log_attempt",
    "logger",
]

logger = logging.getLogger("aiokit")


@dataclass(slots=True)
class CallStats:
    """Counters for the API calls made in one context (one fan-out target, say).

    Set one with ``call_stats.set(CallStats())``; every call and HTTP attempt made in that
    context (task) is counted into it.
    """

    calls: int = 0
    attempts: int = 0
    throttles: int = 0
    page_retries: int = 0

    @property
    def retries(self) -> int:
        """HTTP attempts beyond the first of each call, plus aiokit's page retries."""
        return max(0, self.attempts - self.calls) + self.page_retries


call_stats: ContextVar[CallStats | None] = ContextVar("aiokit_call_stats", default=None)


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a request goes: the key of per-scope behaviour (logging, later rate limits)."""

    account: str | None
    region: str | None
    service: str
    partition: str = "aws"

    def fields(self) -> dict[str, Any]:
        """Structured logging fields."""
        return {"account": self.account, "region": self.region, "service": self.service}


@dataclass(eq=False, slots=True)
class RawClient:
    """One aiobotocore client shared by every identity, and its lifecycle bookkeeping."""

    key: tuple[Any, ...]
    client: Any
    in_flight: int = 0
    evicted: bool = False
    closed: bool = False

    async def close(self) -> None:
        """Close the client's connections, once; shielded so cancellation cannot leak them."""
        if self.closed:
            return
        self.closed = True
        with anyio.CancelScope(shield=True):
            await self.client.close()


@dataclass(eq=False, slots=True)
class Binding:
    """What a bound client knows beyond its raw client: identity, scope, and its pool."""

    raw: RawClient
    credentials: Any
    scope: Scope
    # Returns the raw client to use now: checks the pool is open, rebinds after eviction.
    refresh: Callable[[Any], Awaitable[RawClient]]


class BoundClientMixin:
    """Mixed into a subclass of each aiobotocore client class; see the module docstring."""

    _aiokit: Binding

    async def _make_api_call(self, operation_name: str, api_params: dict[str, Any]) -> Any:
        binding = self._aiokit
        raw = await binding.refresh(self)
        scope = binding.scope
        raw.in_flight += 1
        stats = call_stats.get()
        if stats is not None:
            stats.calls += 1
        start = time.perf_counter()
        # Scope slots taken by this call's attempts; whatever is still held when the call
        # ends (cancelled mid-request, say) is given back here.
        slots = held_slots.set([])
        try:
            response = await super()._make_api_call(operation_name, api_params)  # type: ignore[misc]
        except Exception as exc:
            _log_call(scope, operation_name, start, error=exc)
            new = translate(
                exc,
                service=scope.service,
                operation=operation_name,
                region=scope.region,
                account=scope.account,
            )
            if new is exc:
                raise
            raise new from exc
        finally:
            for limiter in held_slots.get() or ():
                limiter.release()
            held_slots.reset(slots)
            raw.in_flight -= 1
            if raw.evicted and raw.in_flight == 0:
                await raw.close()
        _log_call(scope, operation_name, start, response=response)
        return response

    async def close(self) -> None:
        """Do nothing: the pool owns the connections and closes them when it closes."""

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def __repr__(self) -> str:
        s = self._aiokit.scope
        return f"<aiokit client {s.service} region={s.region} account={s.account}>"


_bound_classes: dict[type, type] = {}


def _bound_class(raw_cls: type) -> type:
    cls = _bound_classes.get(raw_cls)
    if cls is None:
        cls = type(raw_cls.__name__, (BoundClientMixin, raw_cls), {"__module__": "aiokit"})
        _bound_classes[raw_cls] = cls
    return cls


def bind(
    obj: Any | None,
    raw: RawClient,
    credentials: Any,
    scope: Scope,
    refresh: Callable[[Any], Awaitable[RawClient]],
) -> Any:
    """Make (or, given ``obj``, remake in place) a client bound to ``credentials``."""
    if obj is None:
        # Not copy.copy: botocore clients define __getattr__, which a half-built copy trips.
        obj = object.__new__(_bound_class(type(raw.client)))
    state = obj.__dict__
    state.clear()
    state.update(raw.client.__dict__)
    # A shallow copy, as copy.copy makes, without its generic __reduce_ex__ round trip
    # (a tenth of the cost of binding, once per target in a crawl).
    raw_signer = raw.client._request_signer
    signer = object.__new__(type(raw_signer))
    signer.__dict__.update(raw_signer.__dict__)
    # Read by inject_request_credentials for every request; _credentials serves presigning,
    # which signs without a request context.
    signer.aiokit_credentials = credentials
    signer.aiokit_scope = scope
    signer._credentials = credentials
    state["_request_signer"] = signer
    state["_aiokit"] = Binding(raw, credentials, scope, refresh)
    return obj


def _log_call(
    scope: Scope,
    operation: str,
    start: float,
    *,
    response: dict[str, Any] | None = None,
    error: BaseException | None = None,
) -> None:
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
    logger.debug(
        "%s %s in %s (account %s): %s after %d attempt(s) in %.3f s",
        scope.service,
        operation,
        scope.region,
        scope.account,
        outcome,
        attempts,
        duration,
        extra={**scope.fields(), "operation": operation, "attempt": attempts, "duration": duration},
    )


def _is_throttle(response: Any) -> bool:
    status = response[0].status_code
    if status < 400:
        return False
    code = response[1].get("Error", {}).get("Code", "")
    return status == 429 or code in THROTTLING_CODES


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
        if response is not None and _is_throttle(response):
            stats.throttles += 1
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
