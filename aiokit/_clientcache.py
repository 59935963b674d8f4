"""The client cache: shared ("raw") botocore clients and the bound clients made from them.

Raw clients are keyed by :class:`ClientKey` (region, service, config, endpoint, verify,
whose retries) and kept in least-recently-used order; beyond ``max_clients`` the oldest is
*retired*: taken out of the cache, closed at once when no call is using it, or by the last
call using it when that ends (``_clients``). A bound client of a retired raw client rebinds
to a fresh one before its next call, so callers may hold bound clients for as long as the
pool is open. Bound clients (per identity and raw key) hold no connections; the cache keeps
the most recent ``bound_limit`` of them, so a crawl's memory stays flat in its targets.

Service models are parsed once per service, in a worker thread (``preload``). Creating a
client is shielded from cancellation (it does no network I/O; half made, it would leak),
and a client made while the pool closed is closed again (``PoolClosedError``). Each
concurrent first request for a key waits for the one creation; its lock goes when done.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, cast

import anyio
from aiobotocore.config import AioConfig
from botocore.exceptions import DataNotFoundError

from ._botocore.client import open_client, wire_client
from ._botocore.config import config_key, merge_config
from ._botocore.loaders import shared_loader
from ._botocore.resources import make_resource
from ._clients import RawClient, bind
from ._exceptions import translated
from ._identity import Identity
from ._observe import call_stats, log_attempt
from ._ratelimit import RateLimiterRegistry
from ._retry import backoff
from ._where import Scope

__all__ = ["ClientCache", "ClientKey", "UnprocessedBackoff"]

# In "shared" mode aiokit makes every retry decision itself; botocore makes one attempt.
_ONE_ATTEMPT = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})


class ClientKey(NamedTuple):
    """What makes two raw clients different."""

    region: str | None
    service: str
    config: str  # config_key() of the merged config
    url: str | None
    verify: bool | str | None = None  # None: the pool's default (botocore's CA bundle)
    # The client's own ``retries`` were given: botocore retries it, outside the limiter.
    botocore_retries: bool = False


class ClientCache:
    """Raw and bound clients of one pool (see the module docstring).

    Args:
        config: the pool's client config (defaults merged with the user's).
        endpoint_for: the pool's endpoint URL for a service, if it has one.
        limits: the shared-mode limiter registry, or ``None`` (botocore retries).
        max_clients: raw clients kept open.
        bound_limit: bound clients kept.
        check_open: raises ``PoolClosedError`` unless the pool is open (in this loop).
    """

    def __init__(
        self,
        config: AioConfig,
        *,
        endpoint_for: Callable[[str], str | None],
        limits: RateLimiterRegistry | None,
        max_clients: int,
        bound_limit: int,
        check_open: Callable[[], None],
    ) -> None:
        self._config = config
        self._config_key = config_key(config)
        self._endpoint_for = endpoint_for
        self._limits = limits
        self._max_clients = max_clients
        self._bound_limit = bound_limit
        self._check_open = check_open
        self.session: Any = None  # the pool's aioboto3 session, once the pool is open
        self._closed = False
        self._raw: OrderedDict[ClientKey, RawClient] = OrderedDict()
        self._retiring: set[RawClient] = set()  # evicted, waiting for calls to finish
        self._bound: OrderedDict[tuple[Identity, ClientKey], Any] = OrderedDict()
        # Resources, each on a client of its own: (client, resource) per key.
        self._resources: dict[tuple[Identity, ClientKey], tuple[RawClient, Any]] = {}
        self._locks: dict[Any, anyio.Lock] = {}
        self._preloaded: set[str] = set()
        self.created = 0
        self.evicted = 0

    # --- keys and bound clients ---------------------------------------------------------

    def key(
        self,
        service: str,
        region: str | None,
        config: AioConfig | None,
        endpoint_url: str | None,
        verify: bool | str | None = None,
        *,
        own_retries: bool = True,
    ) -> tuple[ClientKey, AioConfig]:
        """The key of the raw client for these arguments, and its config.

        A client ``config`` with ``retries`` is honoured as given (``own_retries``): botocore
        retries that client (its mode, its attempts), outside the shared limiter.
        """
        if config is None:
            cfg, cfg_key = self._config, self._config_key
        else:
            cfg = merge_config(self._config, config)
            cfg_key = config_key(cfg)
        url = endpoint_url or self._endpoint_for(service)
        retried = (
            own_retries
            and config is not None
            and config.retries is not None
            and self._limits is not None
        )
        return ClientKey(region, service, cfg_key, url, verify, retried), cfg

    def bound(self, identity: Identity, key: ClientKey) -> Any | None:
        """The cached client bound to ``identity`` for ``key``, if there is one."""
        bound = self._bound.get((identity, key))
        if bound is not None:
            self._bound.move_to_end((identity, key))
        return bound

    async def bind(
        self, identity: Identity, key: ClientKey, config: AioConfig, credentials: Any, scope: Scope
    ) -> Any:
        """A client bound to ``credentials`` on the raw client of ``key``, cached."""
        raw = await self.raw(key, config)
        bound_key = (identity, key)
        bound = self._bound.get(bound_key)  # another task may have bound it meanwhile
        if bound is None:
            bound = bind(None, raw, credentials, scope, self.refresh_binding)
            self._bound[bound_key] = bound
            # Bound clients are cheap to remake and hold no connections: dropping one closes
            # nothing. Keeping few keeps a crawl's memory (and GC work) flat in the number
            # of targets.
            while len(self._bound) > self._bound_limit:
                self._bound.popitem(last=False)
        return bound

    async def refresh_binding(self, bound: Any) -> RawClient:
        """Called by a bound client before each request: the raw client to use now."""
        self._check_open()
        binding = bound._aiokit
        raw: RawClient = binding.raw
        key = cast(ClientKey, raw.key)
        if raw.evicted:
            if raw.closed:
                self._retiring.discard(raw)
            fresh = await self.raw(key, raw.client.meta.config)
            bind(bound, fresh, binding.credentials, binding.scope, self.refresh_binding)
            return fresh
        if key in self._raw:
            self._raw.move_to_end(key)
        return raw

    async def check_binding(self, bound: Any) -> RawClient:
        """A resource's client before each request: its own raw client, if the pool is open."""
        self._check_open()
        raw: RawClient = bound._aiokit.raw
        return raw

    # --- raw clients --------------------------------------------------------------------

    async def raw(self, key: ClientKey, config: AioConfig) -> RawClient:
        """The shared client of ``key``, made on first use; may retire the oldest."""
        self._check_open()
        entry = self._raw.get(key)
        if entry is not None:
            self._raw.move_to_end(key)
            return entry
        async with self._locks.setdefault(key, anyio.Lock()):
            self._check_open()  # taking the lock may have waited
            entry = self._raw.get(key)
            if entry is not None:
                return entry
            entry = await self.new_raw(key, config)
            self._raw[key] = entry
            self.created += 1
            self._locks.pop(key, None)
        await self._evict()
        self._check_open()  # aclose() closed it (it was in the cache) while evicting
        return entry

    async def new_raw(self, key: ClientKey, config: AioConfig) -> RawClient:
        """Make a shared botocore client, with aiokit's handlers; closed again if the pool
        closed meanwhile (then ``PoolClosedError``). Not cached."""
        limits = None if key.botocore_retries else self._limits
        # Shielded: creation does no network I/O, and a client half made when a cancel
        # arrives would otherwise never be closed.
        with anyio.CancelScope(shield=True):
            if limits is not None:
                config = merge_config(config, _ONE_ATTEMPT)
            with translated(Scope(None, key.region, key.service)):
                client = await open_client(
                    self.session, key.service, key.region, key.url, config, key.verify
                )
            if self._closed:
                await client.close()
                self._check_open()
        limiter = None if limits is None else (limits.before_attempt, limits.after_attempt)
        wire_client(client, on_attempt=log_attempt, limiter=limiter)
        return RawClient(key, client)

    async def _evict(self) -> None:
        """Close least recently used shared clients beyond ``max_clients``, never busy ones."""
        while len(self._raw) > self._max_clients:
            key, entry = next(iter(self._raw.items()))
            del self._raw[key]
            entry.evicted = True
            self.evicted += 1
            stale = [k for k, b in self._bound.items() if b._aiokit.raw is entry]
            for k in stale:
                del self._bound[k]
            if entry.in_flight == 0:
                await entry.close()
            else:
                self._retiring.add(entry)

    # --- resources ----------------------------------------------------------------------

    async def resource(
        self,
        identity: Identity,
        key: ClientKey,
        make: Callable[[], Awaitable[tuple[RawClient, Any]]],
    ) -> Any:
        """The cached resource of ``identity`` on ``key``; ``make()`` gives a new one."""
        resource_key = (identity, key)
        cached = self._resources.get(resource_key)
        if cached is not None:
            return cached[1]
        async with self._locks.setdefault(("resource", *resource_key), anyio.Lock()):
            self._check_open()
            cached = self._resources.get(resource_key)
            if cached is not None:
                return cached[1]
            raw, resource = await make()
            self._resources[resource_key] = (raw, resource)
            self.created += 1
            self._locks.pop(("resource", *resource_key), None)
        return resource

    async def new_resource(
        self, key: ClientKey, config: AioConfig, credentials: Any, scope: Scope, model: Any
    ) -> tuple[RawClient, Any]:
        """A service resource (of its ``resources-1`` ``model``) on a raw client of its own:
        boto3 resources register (de)serialisation handlers on their client."""
        raw = await self.new_raw(key, config)
        if key.service == "dynamodb":
            # Its own client: the batch writer's pacing stays with the resource.
            raw.client.meta.events.register(
                "after-call.dynamodb.BatchWriteItem", UnprocessedBackoff(self._limits)
            )
        try:
            client = bind(None, raw, credentials, scope, self.check_binding)
            resource = await make_resource(self.session, key.service, client, model)
            self._check_open()
        except BaseException:
            await raw.close()
            raise
        return raw, resource

    # --- models -------------------------------------------------------------------------

    async def preload(self, service: str) -> None:
        """Parse the service's models in a worker thread, so the event loop never does."""
        if service in self._preloaded:
            return
        # One load per service, however many tasks ask for it at once.
        async with self._locks.setdefault(("preload", service), anyio.Lock()):
            if service not in self._preloaded:
                with translated(Scope(None, None, service)):
                    await anyio.to_thread.run_sync(_load_models, service)
                self._preloaded.add(service)
                self._locks.pop(("preload", service), None)

    # --- state --------------------------------------------------------------------------

    def _entries(self) -> list[RawClient]:
        return [
            *self._raw.values(),
            *self._retiring,
            *(raw for raw, _ in self._resources.values()),
        ]

    def counts(self) -> tuple[int, int, int]:
        """(raw clients open, bound clients cached, calls in flight)."""
        raws = self._entries()
        return (
            sum(1 for r in raws if not r.closed),
            len(self._bound),
            sum(r.in_flight for r in raws),
        )

    def __len__(self) -> int:
        return len(self._raw)

    def forget(self) -> None:
        """Drop every client without closing it (their loop is not this one)."""
        self._closed = True
        self._raw.clear()
        self._retiring.clear()
        self._bound.clear()
        self._resources.clear()

    async def close(self) -> None:
        """Close every client; shielded from cancellation."""
        with anyio.CancelScope(shield=True):
            entries = self._entries()
            self.forget()
            for entry in entries:
                await entry.close()


class UnprocessedBackoff:
    """``after-call`` of BatchWriteItem on a resource's client: back off before a resend.

    aioboto3's batch writer puts ``UnprocessedItems`` (DynamoDB's answer when a table or
    partition is over its throughput) straight into its next request. This handler makes
    the answer wait first: exponential backoff with equal jitter, longer after each answer
    in a row with unprocessed items of that table. In ``"shared"`` retry mode the answer
    also counts as a throttle of its scope, which slows every request of that scope.
    """

    BASE = 0.05
    CAP = 5.0

    def __init__(self, limits: RateLimiterRegistry | None) -> None:
        self._limits = limits
        self._streak: dict[str, int] = {}

    async def __call__(self, parsed: Any, context: Any, **_: Any) -> None:
        unprocessed = (parsed or {}).get("UnprocessedItems") or {}
        tables = set(unprocessed)
        for table in set(self._streak) - tables:
            del self._streak[table]
        if not tables:
            return
        streak = max(self._streak.get(t, 0) for t in tables)
        for table in tables:
            self._streak[table] = streak + 1
        scope = (context or {}).get("aiokit_scope")
        if self._limits is not None and scope is not None:
            self._limits.limiter(self._limits.key(scope, "BatchWriteItem")).on_throttle()
        stats = call_stats.get()
        if stats is not None:
            stats.throttles += 1
        # Equal jitter: uniform between half the ceiling and the ceiling.
        ceiling = min(self.CAP, self.BASE * 2**streak)
        await anyio.sleep(backoff(streak + 1, base=self.BASE, cap=self.CAP, floor=ceiling / 2))


def _load_models(service: str) -> None:
    loader = shared_loader()
    loader.load_service_model(service, "service-2")
    loader.load_service_model(service, "endpoint-rule-set-1")
    for optional in ("paginators-1", "waiters-2"):
        with contextlib.suppress(DataNotFoundError):
            loader.load_service_model(service, optional)
