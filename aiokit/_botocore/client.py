"""botocore.client / aiobotocore.client: making a shared client and wiring aiokit into it.

A shared ("raw") client is made once per (region, service, config, endpoint, verify) with
placeholder keys that spare botocore a credential lookup, and then:

- its signer's own credentials become ``UnboundCredentials`` (``credentials``), so a
  request that reaches the signer without an identity fails instead of being signed;
- it signs plain SigV4 with ``LeanSigV4Auth`` (``signers``) and caches its User-Agent
  (``useragent``);
- ``before-call`` puts the request's identity on the request (``inject_request_credentials``),
  ``needs-retry`` counts and logs each attempt;
- in the pool's ``"shared"`` retry mode, botocore's own retry handler (registered under the
  unique id ``retry-config-<service id>``) goes, and the scope limiter takes a slot before
  each attempt (``request-created``, first) and judges its outcome (``needs-retry``).

Every client class botocore makes for a service has one ``_api_call`` function per
operation with its lazy docstring: ~1.1 KB per operation, 0.76 MB for EC2's 705. A pool
makes a client class for each (region, service); ``SharedMethods`` gives the classes of
one service in one session the methods of the first (``creating-client-class``,
botocore's hook for class attributes), so the rest are freed as made.

A bound client (``_clients``) is a shallow copy of a shared one (``copy_client``) with its
own ``meta`` (config, events) and its own request signer carrying its identity
(``set_signing_identity``); given an emitter of its own, the parts that emit are rewired
to it (``use_emitter``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from aiobotocore.config import AioConfig

from .credentials import guard_client_credentials
from .hooks import replace_handler
from .signers import inject_request_credentials, use_lean_signer
from .useragent import cache_user_agent

__all__ = [
    "ApiCallInterceptor",
    "SharedMethods",
    "copy_client",
    "open_client",
    "set_signing_identity",
    "use_emitter",
    "wire_client",
]


class ApiCallInterceptor:
    """Routes botocore's ``BaseClient._make_api_call`` (the one method every API call of a
    client goes through) to ``self._aiokit_call(operation, params, send)``, where ``send`` is
    the client class's own ``_make_api_call``. Mixed in before the aiobotocore client class.
    """

    async def _make_api_call(self, operation_name: str, api_params: dict[str, Any]) -> Any:
        send = super()._make_api_call  # type: ignore[misc]
        return await self._aiokit_call(operation_name, api_params, send)  # type: ignore[attr-defined]


class SharedMethods:
    """A ``creating-client-class`` handler: each client class of a service gets the methods
    of the first one this session made (see the module docstring).

    botocore builds a class per client: ``_api_call`` functions that only call
    ``self._make_api_call(operation_name, kwargs)``, and other handlers' additions (presigning,
    boto3's S3 transfer methods: the same module functions every time). So classes whose
    attribute names match can share the values. Registered last, after every handler that
    adds attributes. Measured (``python -m benchmarks.bench_region_clients``): an EC2
    client for one more region keeps 0.38 MB against aiobotocore's 1.14, and takes 13.5-13.9
    ms of CPU to make against 17-21.
    """

    def __init__(self) -> None:
        self._first: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}

    def __call__(self, class_attributes: dict[str, Any], event_name: str, **_: Any) -> None:
        key = (event_name, tuple(class_attributes))
        first = self._first.get(key)
        if first is None:
            self._first[key] = dict(class_attributes)
        else:
            class_attributes.update(first)


# Placeholders that spare botocore a credential lookup; the guard replaces them.
_PLACEHOLDER = "aiokit-unbound"


async def open_client(
    session: Any,
    service: str,
    region: str | None,
    url: str | None,
    config: AioConfig,
    verify: bool | str | None,
) -> Any:
    """A new, entered aiobotocore client from an aioboto3 session, with placeholder keys."""
    return await session.client(
        service,
        region_name=region,
        endpoint_url=url,
        config=config,
        verify=verify,
        aws_access_key_id=_PLACEHOLDER,
        aws_secret_access_key=_PLACEHOLDER,
    ).__aenter__()


Handler = Callable[..., Any]


def wire_client(
    client: Any, *, on_attempt: Handler, limiter: tuple[Handler, Handler] | None
) -> None:
    """Make ``client`` one of aiokit's shared clients (see the module docstring).

    ``limiter``: the scope limiter's ``(before_attempt, after_attempt)`` handlers, in the
    ``"shared"`` retry mode; ``None`` leaves botocore's retries alone.
    """
    guard_client_credentials(client)
    use_lean_signer(client)
    cache_user_agent(client)
    events = client.meta.events
    service_id = client.meta.service_model.service_id.hyphenize()
    events.register(f"before-call.{service_id}", inject_request_credentials)
    events.register(f"needs-retry.{service_id}", on_attempt)
    if limiter is not None:
        before_attempt, after_attempt = limiter
        # botocore makes one attempt here, so its retry handler never retries; all
        # it would still do per request is mark retryable errors MaxAttemptsReached,
        # which is not so: aiokit's limiter decides the retries.
        events.unregister(f"needs-retry.{service_id}", unique_id=f"retry-config-{service_id}")
        # First, so the slot and token are taken before the request is signed.
        events.register_first(f"request-created.{service_id}", before_attempt)
        events.register(f"needs-retry.{service_id}", after_attempt)


def copy_client(obj: Any, raw: Any, config: Any, events: Any) -> None:
    """Make ``obj`` a shallow copy of the client ``raw``, with its own ``meta`` (``config``
    and ``events``; the rest shared) and its own copy of the request signer."""
    state = obj.__dict__
    state.clear()
    state.update(raw.__dict__)
    raw_meta = raw.meta
    meta = object.__new__(type(raw_meta))
    meta.__dict__ = {**raw_meta.__dict__, "_client_config": config, "events": events}
    state["meta"] = meta
    state["_client_config"] = config
    # A shallow copy, as copy.copy makes, without its generic __reduce_ex__ round trip
    # (a tenth of the cost of binding, once per target in a crawl).
    raw_signer = raw._request_signer
    signer = object.__new__(type(raw_signer))
    signer.__dict__.update(raw_signer.__dict__)
    state["_request_signer"] = signer


def set_signing_identity(client: Any, credentials: Any, scope: Any) -> None:
    """Sign ``client``'s requests with ``credentials`` (its own signer, see ``copy_client``).

    ``aiokit_credentials`` and ``aiokit_scope`` are read by ``inject_request_credentials``
    for every request; ``_credentials`` serves presigning, which signs without a request
    context.
    """
    signer = client.__dict__["_request_signer"]
    signer.aiokit_credentials = credentials
    signer.aiokit_scope = scope
    signer._credentials = credentials


def use_emitter(client: Any, raw: Any, own: Any) -> None:
    """Point the parts of ``client`` (a copy of ``raw``) that emit events at ``own``."""
    state = client.__dict__
    signer = state["_request_signer"]
    # botocore signs in a request-created handler bound to the raw client's signer,
    # which emits choose-signer / before-sign on the raw emitter: use this client's.
    replace_handler(own, raw._request_signer.handler, signer.handler)
    signer._event_emitter = weakref.proxy(own)
    for name in ("_endpoint", "_ruleset_resolver"):
        part = state.get(name)
        if part is not None and hasattr(part, "_event_emitter"):
            mine = object.__new__(type(part))
            mine.__dict__.update(part.__dict__)
            mine._event_emitter = own
            state[name] = mine
