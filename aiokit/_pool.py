"""``SessionPool``: owns every session, credential and client aiokit makes.

Design (see ``docs/design.md`` for the measurements behind it): client creation dominates a
multi-account crawl, so the pool makes one botocore client per (region, service, config,
endpoint) and hands each identity a cheap bound copy of it (``_clients``). Service models are
parsed once per process and the SSL context is built once (``_botocore``); both, and every
other file read, happen in worker threads, never on the event loop.

The pool is the composition root of its parts and their facade; it keeps the lifecycle
(unopened, open, closed; the one event loop it serves) and the checks of what callers pass:

- ``_clientcache.ClientCache``: raw and bound clients, eviction, rebinding, resources;
- ``_credentials.CredentialStore``: identities to credentials, STS with its limiter;
- ``_ratelimit.RateLimiterRegistry``: the ``"shared"`` retry mode's limiter per scope;
- ``_endpoints``: which partition a region is in.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import re
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import anyio
from aiobotocore.config import AioConfig

from . import _observe, _validate
from ._botocore.config import merge_config
from ._botocore.http11 import LeanHTTPSession
from ._botocore.httpsession import load_default_ssl_context
from ._botocore.resources import load_resource_model
from ._botocore.session import botocore_session, pool_session
from ._clientcache import ClientCache, ClientKey
from ._clients import RawClient
from ._credentials import CredentialStore
from ._endpoints import load_endpoints, partition_of
from ._exceptions import (
    ConfigurationError,
    InvalidParameterError,
    InvalidRegionError,
    PoolClosedError,
    UnknownServiceError,
    translated,
)
from ._features import PoolFeatures
from ._identity import AssumeRole, DefaultCredentials, Identity, Profile
from ._ratelimit import (
    RateLimiterRegistry,
    RetryMode,
    RetrySettings,
    ScopeKey,
    ScopeStatistics,
)
from ._where import Scope

__all__ = ["PoolStatistics", "SessionPool"]

T = TypeVar("T")

_REGION_FORMAT = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-\d+$|^[a-z][a-z0-9-]{1,62}$")


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PoolStatistics:
    """A snapshot of a pool's state.

    Attributes:
        identities: identities whose credentials the pool holds.
        clients_open: shared botocore clients open now.
        clients_created: shared botocore clients made so far.
        clients_evicted: shared clients closed to keep within ``max_clients``.
        bound_clients: per-identity clients cached now.
        credential_refreshes: role credentials fetched or refreshed from STS.
        in_flight: API calls under way now.
        scopes: per throttling scope (``"shared"`` retry mode): rate, tokens, in flight,
            requests, throttles, retries, time spent waiting, retry budget.
    """

    identities: int
    clients_open: int
    clients_created: int
    clients_evicted: int
    bound_clients: int
    credential_refreshes: int
    in_flight: int
    scopes: Mapping[ScopeKey, ScopeStatistics] = field(default_factory=dict)


def default_config(concurrency: int, retry_mode: RetryMode = "shared") -> AioConfig:
    """The client config a pool starts from: retries, timeouts, a sized connection pool."""
    mode = "adaptive" if retry_mode == "adaptive" else "standard"
    return AioConfig(
        retries={"mode": mode, "total_max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=max(10, concurrency),
        tcp_keepalive=True,
        http_session_cls=LeanHTTPSession,
    )


def _shared_limits(
    retry_mode: RetryMode,
    retry: RetrySettings | None,
    config: AioConfig | None,
    concurrency: int,
    quotas: Mapping[tuple[str, str | None], tuple[float, float]] | None,
) -> RateLimiterRegistry | None:
    """The ``"shared"`` retry mode's limiters (``None`` in botocore's own modes)."""
    if retry_mode != "shared":
        return None
    if retry is None:
        attempts = (config.retries or {}).get("total_max_attempts") if config else None
        retry = RetrySettings(max_attempts=attempts or 5, max_in_flight=max(64, concurrency))
    return RateLimiterRegistry(retry, quotas)


@functools.lru_cache(maxsize=1024)
def _partition(region: str | None, service: str) -> str:
    """The partition of ``region``, checked: well formed, no typo, of a known partition.

    Reads the endpoint data, which the pool loads off the event loop when it opens.
    """
    if region is None:
        return "aws"
    if not _REGION_FORMAT.match(region):
        raise InvalidRegionError(
            f"invalid region name {region!r} for {service}", service=service, region=region
        )
    partitions = load_endpoints().partitions.values()
    _validate.not_a_typo(region, service, ({"regions": p.regions} for p in partitions))
    partition = partition_of(region)
    if partition is None:
        raise InvalidRegionError(
            f"{region!r} is not a region of any AWS partition known to botocore",
            service=service,
            region=region,
        )
    return partition


class SessionPool(PoolFeatures):
    """An async pool of AWS sessions and clients, closed as one.

    ::

        async with aiokit.SessionPool(profile="mgmt", region="eu-west-1") as pool:
            ddb = await pool.client("dynamodb")
            await ddb.list_tables()

    Args:
        profile: the profile whose credentials the pool uses (shorthand for
            ``credentials=aiokit.Profile(profile)``); it also supplies the default region.
        credentials: the pool's own identity; by default botocore's default chain.
        region: the default region for clients.
        role: the default role name for ``client(..., account=...)``.
        endpoint_url: send every request to this URL (moto, LocalStack). The standard
            ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` variables also work.
        endpoint_urls: per-service endpoint URLs, e.g. ``{"s3": "http://127.0.0.1:4566"}``.
        config: an ``AioConfig`` merged over the pool's default client config.
        concurrency: how many requests the pool expects at once; sizes connection pools.
        max_clients: how many shared botocore clients stay open; least recently used ones
            beyond that are closed once no call is using them.
        refresh_before: refresh role credentials this many seconds before they expire
            (plus up to 10 % jitter, so many identities do not refresh at once).
        sts_concurrency: how many STS AssumeRole calls may run at once.
        retry_mode: ``"shared"`` (default): aiokit's rate limiter and retry budget per
            throttling scope (account, region, service), shared by every client of the
            pool; ``"adaptive"`` or ``"standard"``: botocore's own, per client.
        retry: settings of the shared mode; its ``max_attempts`` defaults to the pool
            config's ``retries["total_max_attempts"]`` when one is given.
        quotas: ``{(service, action group): (rate per second, burst)}`` overriding the
            table of documented default quotas the shared mode starts from.
        gc_threshold: while a fan-out or crawl of the pool runs, Python's garbage
            collector collects its youngest generation every this many allocations
            instead of every 700 (``gc.set_threshold``; a higher threshold is kept, the
            old one is restored when the last fan-out ends). A crawl spends 15-20 %
            less CPU with ``aiokit._gc.DEFAULT_GC_THRESHOLD`` (what the ``aiokit``
            command passes). ``None`` (the default) leaves the collector alone: it is
            the whole process's, not the pool's.
    """

    def __init__(
        self,
        *,
        profile: str | None = None,
        credentials: Identity | None = None,
        region: str | None = None,
        role: str | None = None,
        endpoint_url: str | None = None,
        endpoint_urls: Mapping[str, str] | None = None,
        config: AioConfig | None = None,
        concurrency: int = 64,
        max_clients: int = 256,
        refresh_before: float = 900.0,
        sts_concurrency: int = 16,
        retry_mode: RetryMode = "shared",
        retry: RetrySettings | None = None,
        quotas: Mapping[tuple[str, str | None], tuple[float, float]] | None = None,
        gc_threshold: int | None = None,
    ) -> None:
        self._options = {k: v for k, v in locals().items() if k != "self"}  # pool_spec()
        config = _validate.pool_options(
            profile=profile,
            credentials=credentials,
            region_=region,
            role=role,
            endpoint_url_=endpoint_url,
            endpoint_urls=endpoint_urls,
            config_=config,
            concurrency=concurrency,
            max_clients=max_clients,
            refresh_before=refresh_before,
            sts_concurrency=sts_concurrency,
            retry_mode=retry_mode,
            retry=retry,
            quotas=quotas,
            gc_threshold=gc_threshold,
        )
        self._gc_threshold = gc_threshold
        self._profile = profile
        self._identity: Identity = (
            Profile(profile) if profile is not None else credentials or DefaultCredentials()
        )
        self._region = region
        self._role = role
        self._endpoint_url = endpoint_url
        self._endpoint_urls = dict(endpoint_urls or {})
        self._limits = _shared_limits(retry_mode, retry, config, concurrency, quotas)
        self._state = _State.UNOPENED
        # The event loop the pool was first used in: its locks and connections are that
        # loop's, so another loop gets a clear error instead of a request that never ends.
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._start_lock = anyio.Lock()
        self._session: Any = None
        self._clients = ClientCache(
            merge_config(default_config(concurrency, retry_mode), config),
            endpoint_for=self._endpoint_for,
            limits=self._limits,
            max_clients=max_clients,
            bound_limit=max(1024, 4 * concurrency),
            check_open=self._check_open,
        )
        self._credentials = CredentialStore(
            self._identity,
            refresh_before=refresh_before,
            sts_concurrency=sts_concurrency,
            endpoint_for=self._endpoint_for,
            region=lambda: self._region,
            sts_client=lambda region, source: self.client("sts", region, identity=source),
            partition=_partition,
        )

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> SessionPool:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Prepare the pool (read config files, load endpoint data) in a worker thread.

        Called by ``async with`` and by the first request; calling it again does nothing.

        Raises:
            PoolClosedError: the pool was closed.
            ProfileNotFoundError: the pool's profile does not exist.
        """
        self._check_open()
        if self._state is _State.OPEN:
            return
        async with self._start_lock:
            if self._state is _State.UNOPENED:
                session = await anyio.to_thread.run_sync(self._prepare)
                self._check_open()  # closed while the files were read
                self._session = self._clients.session = session
                self._credentials.session = botocore_session(session)
                self._state = _State.OPEN
                if self._limits is not None:  # what aiokit.otel's metrics observe
                    _observe.scopes.add(self._limits)

    def _prepare(self) -> Any:
        with translated():
            session = pool_session(self._profile, self._endpoint_for)
        load_endpoints()  # partitions and regions, for every client's region check
        if self._region is None:
            self._region = botocore_session(session).get_config_variable("region")
        load_default_ssl_context()
        return session

    async def aclose(self) -> None:
        """Close every client the pool made. Idempotent; runs shielded from cancellation."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._limits is not None:
            _observe.scopes.discard(self._limits)
        if self._in_another_loop():
            # The connections are the other loop's: closing them here would fail or hang.
            self._clients.forget()
            raise PoolClosedError(
                "this aiokit.SessionPool is now closed, but its connections belong to the "
                "event loop it was used in and cannot be closed from this one; close a pool "
                "in the loop that used it"
            )
        await self._clients.close()

    def __del__(
        self, _warn: Callable[..., None] = warnings.warn, _open: _State = _State.OPEN
    ) -> None:
        # As aiohttp's ClientSession: a pool collected while open never closed its clients.
        # (Defaults bound now: at interpreter exit the module's globals may be gone.)
        if getattr(self, "_state", None) is _open:
            _warn(
                f"unclosed {self!r}: use `async with aiokit.SessionPool(...)` or "
                "`await pool.aclose()`",
                ResourceWarning,
                source=self,
            )

    def _check_open(self) -> None:
        if self._state is _State.CLOSED:
            raise PoolClosedError("this aiokit.SessionPool is closed; make a new one")
        if self._in_another_loop():
            raise PoolClosedError(
                "this aiokit.SessionPool belongs to the event loop it was first used in, "
                "which is not this one (has that loop ended?): its connections and locks "
                "cannot serve another loop; make a new pool in this one"
            )

    def _in_another_loop(self) -> bool:
        """Whether the running loop is not the pool's (the first one that used it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside any loop (making a paginator, say)
            return False
        if self._loop is None:
            self._loop = weakref.ref(loop)
            return False
        return self._loop() is not loop

    @property
    def closed(self) -> bool:
        """Whether the pool has been closed."""
        return self._state is _State.CLOSED

    @property
    def region(self) -> str | None:
        """The default region (known once the pool is open)."""
        return self._region

    @property
    def identity(self) -> Identity:
        """The pool's own identity."""
        return self._identity

    def __repr__(self) -> str:
        return (
            f"aiokit.SessionPool(state={self._state.value}, identity={self._identity!r}, "
            f"region={self._region!r}, clients={len(self._clients)})"
        )

    def statistics(self) -> PoolStatistics:
        """A frozen snapshot of the pool's counters."""
        clients_open, bound_clients, in_flight = self._clients.counts()
        return PoolStatistics(
            identities=len(self._credentials),
            clients_open=clients_open,
            clients_created=self._clients.created,
            clients_evicted=self._clients.evicted,
            bound_clients=bound_clients,
            credential_refreshes=self._credentials.refreshes,
            in_flight=in_flight,
            scopes=MappingProxyType(self._limits.statistics() if self._limits else {}),
        )

    # --- clients -----------------------------------------------------------------------

    def identity_for(
        self,
        identity: Identity | None = None,
        account: str | None = None,
        role: str | None = None,
    ) -> Identity:
        """The identity a request for ``account`` (or with ``identity``) is made as.

        Raises:
            ConfigurationError: ``account`` is given but no role name is known.
            InvalidRoleError: the account id or role name is malformed.
        """
        if identity is not None:
            if account is not None:
                raise ConfigurationError("give identity or account, not both")
            return identity
        if account is None:
            return self._identity
        role_name = role or self._role
        if role_name is None:
            raise ConfigurationError(
                f"no role to assume in account {account}: pass role=... to the call or "
                "to SessionPool",
                account=account,
            )
        return AssumeRole(account=account, role_name=role_name)

    async def client(
        self,
        service: str,
        region: str | None = None,
        *,
        account: str | None = None,
        role: str | None = None,
        identity: Identity | None = None,
        config: AioConfig | None = None,
        endpoint_url: str | None = None,
        verify: bool | str | None = None,
    ) -> Any:
        """A ready aiobotocore client owned by the pool: no ``async with`` needed.

        Clients are cached per (identity, region, service, config); concurrent first
        requests for one key share one client.

        Args:
            service: the service name as botocore knows it (``"s3"``, ``"dynamodb"``...).
            region: the region; the pool's default region if omitted.
            account: act in this account by assuming ``role`` (or the pool's ``role``).
            role: the role name to assume in ``account``.
            identity: act as this identity instead (exclusive with ``account``).
            config: an ``AioConfig`` merged over the pool's config for this client. Its
                ``retries``, when given, are honoured as botocore's: that client is retried
                by botocore in the mode and attempts given, outside the shared limiter.
            endpoint_url: send this client's requests to this URL.
            verify: as boto3's: ``False`` skips TLS certificate checks, a path names a CA
                bundle; the pool's default (botocore's CA bundle) if omitted.

        Raises:
            PoolClosedError: the pool is closed.
            UnknownServiceError: botocore knows no such service.
            InvalidRegionError: the region is malformed, unknown, or missing.
            ProfileNotFoundError / CredentialsError: the identity's credentials are not
                to be had.
        """
        config = _validate.client_args(
            service_=service,
            region_=region,
            account=account,
            role=role,
            identity_=identity,
            config_=config,
            endpoint_url_=endpoint_url,
        )
        if verify is not None and not isinstance(verify, bool | str):
            raise InvalidParameterError(
                f"verify must be True, False or a CA bundle path, not {type(verify).__name__}",
                service=service,
            )
        await self.open()
        ident = self.identity_for(identity, account, role)
        key, cfg = self._clients.key(service, region or self._region, config, endpoint_url, verify)
        bound = self._clients.bound(ident, key)
        if bound is not None:
            return bound
        # Only on a miss: a cached client's service and region were checked when it was made.
        # The pool may be closed during any await: check after each, so no client outlives it.
        await self._clients.preload(service)
        self._check_open()
        scope = self._scope(ident, key.region, service)
        credentials = await self._credentials.get(ident)
        self._check_open()
        return await self._clients.bind(ident, key, cfg, credentials, scope)

    def _endpoint_for(self, service: str) -> str | None:
        """The endpoint URL the pool sends ``service``'s requests to, if it has one."""
        return self._endpoint_urls.get(service) or self._endpoint_url

    def _scope(self, identity: Identity, region: str | None, service: str) -> Scope:
        """Where ``identity``'s requests to ``service`` in ``region`` go; the region checked
        (``InvalidRegionError``). Needs the pool open (the endpoint data is read then)."""
        account = identity.account if isinstance(identity, AssumeRole) else None
        return Scope(account, region, service, _partition(region, service))

    async def resource(
        self,
        service: str,
        region: str | None = None,
        *,
        account: str | None = None,
        role: str | None = None,
        identity: Identity | None = None,
        config: AioConfig | None = None,
        endpoint_url: str | None = None,
    ) -> Any:
        """An aioboto3 service resource (DynamoDB ``Table``, S3 ``Bucket``...) owned by the pool.

        Takes the same arguments as :meth:`client`. Each resource is made on a botocore client
        of its own, never on the client :meth:`client` shares: boto3 resources register
        (de)serialisation handlers on their client, which would otherwise change what every
        other caller of that client sends and receives. Resources are cached per (identity,
        region, service, config) and closed with the pool.

        Raises:
            UnknownServiceError: the service has no resource interface.
            PoolClosedError: the pool is closed (or was closed meanwhile).
        """
        config = _validate.client_args(
            service_=service,
            region_=region,
            account=account,
            role=role,
            identity_=identity,
            config_=config,
            endpoint_url_=endpoint_url,
        )
        await self.open()
        ident = self.identity_for(identity, account, role)
        key, cfg = self._clients.key(
            service, region or self._region, config, endpoint_url, own_retries=False
        )
        return await self._clients.resource(ident, key, lambda: self._new_resource(ident, key, cfg))

    async def _new_resource(
        self, ident: Identity, key: ClientKey, config: AioConfig
    ) -> tuple[RawClient, Any]:
        service = key.service
        await self._clients.preload(service)
        self._check_open()
        scope = self._scope(ident, key.region, service)
        try:
            model = await load_resource_model(service)
        except Exception as exc:
            raise UnknownServiceError(
                f"{service} has no resource interface; use pool.client({service!r})",
                service=service,
            ) from exc
        self._check_open()
        credentials = await self._credentials.get(ident)
        self._check_open()
        return await self._clients.new_resource(key, config, credentials, scope, model)
