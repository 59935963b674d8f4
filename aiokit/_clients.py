"""Shared botocore clients and the cheap per-identity clients bound to them.

A *raw* client is made once per (region, service, config, endpoint) and owns the expensive
parts: the parsed model, the endpoint resolver, the HTTP connection pool. A *bound* client is
what callers get: a shallow copy of a raw client carrying one identity's credentials, so that
each request is signed as that identity (see ``_botocore.inject_request_credentials``). It
costs a few kilobytes, behaves exactly like an aiobotocore client (operations, paginators,
waiters, presigned URLs, S3 transfers) and adds three things to every call:

- botocore errors become aiokit errors, carrying account, region, service and operation;
- the call is logged at debug level with structured fields;
- the call counts as in flight on its raw client, which the pool never closes while any
  call is in flight. When the pool has evicted the raw client, the next call rebinds to a
  fresh one, so a caller may hold a bound client for as long as the pool is open.

Isolation: nothing done through one bound client changes what another sends or receives.
Each bound client has its own ``meta`` (its own copy of the config) and its own
``meta.events`` (:class:`BoundEvents`): it emits on the raw client's emitter, with no extra
cost per request, until someone registers or unregisters a handler on it; then it gets a
private copy of that emitter, and the parts of the client that emit (endpoint, signer,
endpoint resolver) are rewired to it, for that client object only.
"""

from __future__ import annotations

import copy
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from botocore.exceptions import ClientError

from . import _observe
from ._botocore.client import ApiCallInterceptor, copy_client, set_signing_identity, use_emitter
from ._botocore.config import own_config
from ._botocore.credentials import role_arn_of
from ._exceptions import (
    CREDENTIAL_CODES,
    AssumeRoleError,
    AWSError,
    InvalidCredentialsError,
    PoolClosedError,
    translate,
    translated,
)
from ._observe import call_stats, log_call
from ._ratelimit import held_slots
from ._where import Scope

__all__ = [
    "Binding",
    "BoundEvents",
    "RawClient",
    "Scope",
    "bind",
]


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


class BoundClientMixin(ApiCallInterceptor):
    """Mixed into a subclass of each aiobotocore client class; see the module docstring."""

    _aiokit: Binding

    async def _aiokit_call(
        self,
        operation_name: str,
        api_params: dict[str, Any],
        send: Callable[[str, dict[str, Any]], Awaitable[Any]],
    ) -> Any:
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
            with translated(scope, operation_name):
                try:
                    if _observe.tracing is None:
                        response = await send(operation_name, api_params)
                    else:  # aiokit.otel is on: the call's span (and its metrics)
                        response = await _observe.tracing.call(
                            self, scope, operation_name, api_params, send
                        )
                except Exception as exc:
                    log_call(scope, operation_name, start, error=exc)
                    if isinstance(exc, ClientError) and exc.operation_name != operation_name:
                        # Not this call's answer: STS's, to the client botocore's credential
                        # provider made for itself (a profile's role_arn hop) while signing it.
                        raise _provider_sts_error(exc, binding.credentials, scope) from exc
                    raise
        finally:
            for limiter in held_slots.get() or ():
                limiter.release()
            held_slots.reset(slots)
            raw.in_flight -= 1
            if raw.evicted and raw.in_flight == 0:
                await raw.close()
        log_call(scope, operation_name, start, response=response)
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


class BoundEvents:
    """A bound client's ``meta.events``: the raw client's emitter, copied on first change.

    ``emit`` and ``emit_until_response`` are the current emitter's own bound methods, held
    as attributes, so a request costs what it costs on the raw client. ``register``,
    ``register_first``, ``register_last`` and ``unregister`` first give this client a
    private copy of the emitter (see the module docstring); the changes are remembered
    and made again when the pool rebinds the client to a fresh raw client.
    """

    __slots__ = ("__weakref__", "_changes", "_client", "_target", "emit", "emit_until_response")

    def __init__(self, shared: Any, client: Any) -> None:
        self._target = shared
        self._client = weakref.ref(client)  # no cycle client -> meta -> events -> client
        self._changes: list[tuple[str, tuple[Any, ...], dict[str, Any]]] | None = None
        self.emit = shared.emit
        self.emit_until_response = shared.emit_until_response

    @property
    def private(self) -> bool:
        """Whether this client has an emitter of its own."""
        return self._changes is not None

    def register(self, *args: Any, **kwargs: Any) -> None:
        """Register a handler for this client only (botocore's ``register``)."""
        self._change("register", args, kwargs)

    def register_first(self, *args: Any, **kwargs: Any) -> None:
        """Register a handler to run first, for this client only."""
        self._change("register_first", args, kwargs)

    def register_last(self, *args: Any, **kwargs: Any) -> None:
        """Register a handler to run last, for this client only."""
        self._change("register_last", args, kwargs)

    def unregister(self, *args: Any, **kwargs: Any) -> Any:
        """Unregister a handler from this client only."""
        return self._change("unregister", args, kwargs)

    def _change(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._changes is None:
            self._own()
        assert self._changes is not None
        self._changes.append((method, args, kwargs))
        return getattr(self._target, method)(*args, **kwargs)

    def _own(self) -> None:
        """Copy the shared emitter and point this client's emitting parts at the copy."""
        client = self._client()
        if client is None:  # pragma: no cover - the client owns this object
            raise PoolClosedError("the aiokit client of these events is gone")
        own = copy.copy(self._target)
        use_emitter(client, client._aiokit.raw.client, own)
        self._target = own
        self.emit = own.emit
        self.emit_until_response = own.emit_until_response
        self._changes = []

    def replay(self, other: BoundEvents) -> None:
        """Make ``other``'s changes here (after a rebind)."""
        for method, args, kwargs in other._changes or ():
            self._change(method, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "_target"), name)

    def __copy__(self) -> Any:
        return copy.copy(self._target)

    def __repr__(self) -> str:
        kind = "private" if self.private else "shared"
        return f"<aiokit client events ({kind})>"


# STS refusing a role by design: the role's trust policy, or STS off in that region.
ROLE_REFUSED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "RegionDisabledException"})


def sts_failure(
    error: AWSError, role_arn: str, source: str, where: dict[str, Any]
) -> BaseException:
    """What an STS AssumeRole error means: a refused role, rejected credentials, or itself."""
    if error.code in ROLE_REFUSED_CODES:
        return AssumeRoleError(
            f"could not assume {role_arn}: {error.code}: {error.error_message}",
            code=error.code,
            role_arn=role_arn,
            **where,
        )
    if error.code in CREDENTIAL_CODES:  # the role was never considered
        return InvalidCredentialsError(
            f"could not assume {role_arn}: AWS rejected the credentials of {source}: "
            f"{error.code}: {error.error_message}",
            **where,
        )
    return error


def _provider_sts_error(exc: ClientError, credentials: Any, scope: Scope) -> BaseException:
    role_arn = role_arn_of(credentials) or "the profile's role"
    error = translate(exc, service="sts", region=scope.region, account=scope.account)
    if not isinstance(error, AWSError):
        return error
    where = {
        "service": "sts",
        "operation": exc.operation_name,
        "region": scope.region,
        "account": scope.account,
    }
    return sts_failure(error, role_arn, "the profile's source", where)


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
    previous = None
    if obj is None:
        # Not copy.copy: botocore clients define __getattr__, which a half-built copy trips.
        obj = object.__new__(_bound_class(type(raw.client)))
        config = own_config(raw.client.meta.config)
    else:  # a rebind: the client keeps its config and its event handlers
        previous = obj.__dict__["meta"]
        config = previous.config
    copy_client(obj, raw.client, config, BoundEvents(raw.client.meta.events, obj))
    set_signing_identity(obj, credentials, scope)
    state = obj.__dict__
    state["_aiokit"] = Binding(raw, credentials, scope, refresh)
    if previous is not None and previous.events.private:
        state["meta"].events.replay(previous.events)
    return obj
