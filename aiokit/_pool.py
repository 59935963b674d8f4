"""``SessionPool``: owns every session, credential and client aiokit makes.

Design (see ``docs/design.md`` for the measurements behind it): client creation dominates a
multi-account crawl, so the pool makes one botocore client per (region, service, config,
endpoint) and hands each identity a cheap bound copy of it (``_clients``). Service models are
parsed once per process and the SSL context is built once (``_botocore``); both, and every
other file read, happen in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import inspect
import random
import re
import warnings
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, cast

import aioboto3
import anyio
import boto3.utils
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioCredentials, AioDeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, DataNotFoundError, PartialCredentialsError
from botocore.httpsession import get_cert_path

from . import _validate, _waiters
from ._botocore import (
    EndpointSession,
    UnboundCredentials,
    cache_user_agent,
    config_key,
    inject_request_credentials,
    merge_config,
    shared_loader,
    shared_ssl_context,
)
from ._botocore.http11 import LeanHTTPSession
from ._botocore.parsers import ParserFactory
from ._botocore.signers import use_lean_signer
from ._clients import RawClient, Scope, bind, call_stats, log_attempt, sts_failure
from ._exceptions import (
    AiokitError,
    AWSError,
    ConfigurationError,
    CredentialsError,
    InvalidParameterError,
    InvalidRegionError,
    InvalidRoleError,
    PoolClosedError,
    UnknownServiceError,
    translate,
)
from ._fleet.crawl import Crawl
from ._fleet.discovery import Accounts, discover_targets
from ._fleet.fanout import Context, FanOut
from ._fleet.limits import FanOutLimits
from ._fleet.outcomes import Progress
from ._fleet.targets import Target
from ._gc import DEFAULT_GC_THRESHOLD
from ._identity import (
    AssumeRole,
    DefaultCredentials,
    Identity,
    Profile,
    StaticKeys,
    identity_account,
)
from ._paginate import Paginator
from ._retry import (
    RateLimiterRegistry,
    RetryMode,
    RetrySettings,
    ScopeKey,
    ScopeStatistics,
)
from ._waiters import Backoff, WaitResult

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


# In "shared" mode aiokit makes every retry decision itself; botocore makes one attempt.
_ONE_ATTEMPT = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})


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


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def _session_options(role: AssumeRole) -> dict[str, Any]:
    """AssumeRole's optional parameters for ``role``: policies, tags, MFA..."""
    params: dict[str, Any] = {}
    if role.policy is not None:
        params["Policy"] = role.policy
    if role.policy_arns:
        params["PolicyArns"] = [{"arn": arn} for arn in role.policy_arns]
    if role.tags:
        # Stored as sorted (key, value) pairs, so the identity stays hashable.
        pairs = cast(tuple[tuple[str, str], ...], role.tags)
        params["Tags"] = [{"Key": k, "Value": v} for k, v in pairs]
    if role.transitive_tag_keys:
        params["TransitiveTagKeys"] = list(role.transitive_tag_keys)
    if role.source_identity is not None:
        params["SourceIdentity"] = role.source_identity
    if role.mfa_serial is not None:
        params["SerialNumber"] = role.mfa_serial
        token: Any = role.mfa_token
        if callable(token):
            if inspect.iscoroutinefunction(token):
                token = await token()
            else:
                # A plain function may prompt (input()): never on the event loop.
                token = await anyio.to_thread.run_sync(token)
                if inspect.isawaitable(token):
                    token = await token
        if not isinstance(token, str):
            raise ConfigurationError(
                f"the mfa_token function of {role!r} returned {type(token).__name__}, not "
                "the code as a string"
            )
        params["TokenCode"] = token
    return params


class _ProcessKilledOnExit:
    """A ``credential_process`` child that does not outlive the wait for it.

    aiobotocore waits for the process with ``communicate()``; cancelled (a timeout, Ctrl-C,
    a closing pool), it leaves the child running, past the end of the program.
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    def __getattr__(self, name: str) -> Any:
        return getattr(self._process, name)

    async def communicate(self, data: bytes | None = None) -> tuple[bytes, bytes]:
        try:
            return await self._process.communicate(data)
        finally:
            if self._process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                with anyio.CancelScope(shield=True):
                    await self._process.wait()


async def _credential_process_popen(*args: Any, **kwargs: Any) -> _ProcessKilledOnExit:
    return _ProcessKilledOnExit(await asyncio.create_subprocess_exec(*args, **kwargs))


def _kill_cancelled_credential_process(session: Any) -> None:
    """Make the session's ``credential_process`` provider kill its child when cancelled."""
    resolver = session.get_component("credential_provider")
    for provider in getattr(resolver, "providers", ()):
        if getattr(provider, "METHOD", None) == "custom-process" and hasattr(provider, "_popen"):
            provider._popen = _credential_process_popen


def _role_credentials(response: Any, arn: str, region: str, account: str | None) -> dict[str, Any]:
    """botocore's refresh metadata from an AssumeRole answer, checked: complete, unexpired."""
    c = response.get("Credentials") if isinstance(response, dict) else None
    keys = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    missing = [k for k in keys if not c.get(k)] if isinstance(c, dict) else list(keys)
    where: dict[str, Any] = {
        "service": "sts",
        "operation": "AssumeRole",
        "region": region,
        "account": account,
    }
    if not isinstance(c, dict) or missing:
        raise CredentialsError(
            f"could not assume {arn}: STS answered without credentials "
            f"(missing {', '.join(missing)})",
            **where,
        )
    expiry = c["Expiration"]
    if not isinstance(expiry, datetime.datetime) or expiry.tzinfo is None:
        raise CredentialsError(f"could not assume {arn}: STS gave no usable expiry time", **where)
    if expiry <= _utc_now():
        # botocore would say only "the refreshed credentials are still expired" (a
        # RuntimeError), from the middle of signing some other call.
        raise CredentialsError(
            f"could not assume {arn}: STS handed out credentials that expired at "
            f"{expiry.isoformat()} (is this machine's clock right?)",
            **where,
        )
    return {
        "access_key": c["AccessKeyId"],
        "secret_key": c["SecretAccessKey"],
        "token": c["SessionToken"],
        "expiry_time": expiry.isoformat(),
    }


class _UnprocessedBackoff:
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
        delay = min(self.CAP, self.BASE * 2**streak)
        await anyio.sleep(delay / 2 + random.uniform(0, delay / 2))


class SessionPool:
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
            less CPU. ``None`` leaves the collector alone.
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
        gc_threshold: int | None = DEFAULT_GC_THRESHOLD,
    ) -> None:
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
        self._concurrency = concurrency
        if retry_mode not in ("shared", "adaptive", "standard"):
            raise ConfigurationError(f"unknown retry_mode {retry_mode!r}")
        self._retry_mode = retry_mode
        self._config = merge_config(default_config(concurrency, retry_mode), config)
        self._config_key = config_key(self._config)
        self._limits: RateLimiterRegistry | None = None
        if retry_mode == "shared":
            if retry is None:
                attempts = (config.retries or {}).get("total_max_attempts") if config else None
                retry = RetrySettings(
                    max_attempts=attempts or 5, max_in_flight=max(64, concurrency)
                )
            self._limits = RateLimiterRegistry(retry, quotas)
        self._max_clients = max_clients
        self._bound_limit = max(1024, 4 * concurrency)
        self._refresh_before = refresh_before
        self._state = _State.UNOPENED
        # The event loop the pool was first used in: its locks and connections are that
        # loop's, so another loop gets a clear error instead of a request that never ends.
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._start_lock = anyio.Lock()
        self._session: Any = None
        self._raw: OrderedDict[tuple[Any, ...], RawClient] = OrderedDict()
        self._retiring: set[RawClient] = set()  # evicted, waiting for calls to finish
        self._bound: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        # Resources, each on a client of its own: (client, resource) per key.
        self._resources: dict[tuple[Any, ...], tuple[RawClient, Any]] = {}
        self._client_locks: dict[tuple[Any, ...], anyio.Lock] = {}
        self._botocore_retries: set[tuple[Any, ...]] = set()  # raw keys retried by botocore
        self._verify: dict[tuple[Any, ...], bool | str] = {}  # raw keys with their own verify=
        self._credentials: dict[Identity, Any] = {}
        self._credential_locks: dict[Identity, anyio.Lock] = {}
        self._sts_limiter = anyio.Semaphore(sts_concurrency)
        self._preloaded: set[str] = set()
        self._partitions: dict[str, str] = {}  # region -> partition, for known regions
        self._clients_created = 0
        self._clients_evicted = 0
        self._refreshes = 0

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
                self._session = session
                self._state = _State.OPEN

    def _prepare(self) -> Any:
        loader = shared_loader()
        core = EndpointSession(profile=self._profile)
        # The clients botocore's credential providers make (a profile's role_arn hop to
        # STS, SSO) go where the pool's own would.
        core.aiokit_endpoint = self._endpoint_for
        core.register_component("data_loader", loader)
        # Same results as botocore's parsers, with less CPU (see _parsers).
        core.register_component("response_parser_factory", ParserFactory())
        try:
            core.get_scoped_config()
        except Exception as exc:
            raise translate(exc) from exc
        session = aioboto3.Session(botocore_session=core)
        # boto3 adds its own data path on every session; keep the shared loader's list short.
        paths = loader.search_paths
        paths[:] = list(dict.fromkeys(paths))
        core._get_internal_component("endpoint_resolver")
        # Data every client creation reads: load it here, in this worker thread.
        for name in ("sdk-default-configuration", "partitions", "_retry"):
            loader.load_data(name)
        if self._region is None:
            self._region = core.get_config_variable("region")
        shared_ssl_context(get_cert_path(True))
        return session

    async def aclose(self) -> None:
        """Close every client the pool made. Idempotent; runs shielded from cancellation."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._in_another_loop():
            # The connections are the other loop's: closing them here would fail or hang.
            self._raw.clear()
            self._retiring.clear()
            self._bound.clear()
            self._resources.clear()
            raise PoolClosedError(
                "this aiokit.SessionPool is now closed, but its connections belong to the "
                "event loop it was used in and cannot be closed from this one; close a pool "
                "in the loop that used it"
            )
        with anyio.CancelScope(shield=True):
            entries = [
                *self._raw.values(),
                *self._retiring,
                *(raw for raw, _ in self._resources.values()),
            ]
            self._raw.clear()
            self._retiring.clear()
            self._bound.clear()
            self._resources.clear()
            for entry in entries:
                await entry.close()

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
            f"region={self._region!r}, clients={len(self._raw)})"
        )

    def statistics(self) -> PoolStatistics:
        """A frozen snapshot of the pool's counters."""
        raws = [
            *self._raw.values(),
            *self._retiring,
            *(raw for raw, _ in self._resources.values()),
        ]
        return PoolStatistics(
            identities=len(self._credentials),
            clients_open=sum(1 for r in raws if not r.closed),
            clients_created=self._clients_created,
            clients_evicted=self._clients_evicted,
            bound_clients=len(self._bound),
            credential_refreshes=self._refreshes,
            in_flight=sum(r.in_flight for r in raws),
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
        raw_key, cfg = self._client_key(service, region, config, endpoint_url, verify)
        region = raw_key[0]
        bound_key = (ident, raw_key)
        bound = self._bound.get(bound_key)
        if bound is not None:
            self._bound.move_to_end(bound_key)
            return bound
        # Only on a miss: a cached client's service and region were checked when it was made.
        # The pool may be closed during any await: check after each, so no client outlives it.
        await self._preload(service)
        self._check_open()
        partition = self._partition(region, service)
        credentials = await self._credentials_for(ident)
        self._check_open()
        raw = await self._raw_client(raw_key, cfg)
        bound = self._bound.get(bound_key)  # another task may have bound it meanwhile
        if bound is None:
            scope = Scope(identity_account(ident), region, service, partition)
            bound = bind(None, raw, credentials, scope, self._refresh_binding)
            self._bound[bound_key] = bound
            # Bound clients are cheap to remake and hold no connections: dropping one closes
            # nothing. Keeping few keeps a crawl's memory (and GC work) flat in the number
            # of targets.
            while len(self._bound) > self._bound_limit:
                self._bound.popitem(last=False)
        return bound

    def _endpoint_for(self, service: str) -> str | None:
        """The endpoint URL the pool sends ``service``'s requests to, if it has one."""
        return self._endpoint_urls.get(service) or self._endpoint_url

    def _client_key(
        self,
        service: str,
        region: str | None,
        config: AioConfig | None,
        endpoint_url: str | None,
        verify: bool | str | None = None,
    ) -> tuple[tuple[Any, ...], AioConfig]:
        """The key of the raw client for these arguments, and its config."""
        region = region or self._region
        if config is None:
            cfg, cfg_key = self._config, self._config_key
        else:
            cfg = merge_config(self._config, config)
            cfg_key = config_key(cfg)
        url = endpoint_url or self._endpoint_for(service)
        key = (region, service, cfg_key if verify is None else (cfg_key, verify), url)
        if verify is not None:
            self._verify[key] = verify
        if config is not None and config.retries is not None and self._limits is not None:
            # A client's own ``retries`` are honoured as given: botocore retries that client
            # (its mode, its attempts), outside the shared limiter.
            self._botocore_retries.add(key)
        return key, cfg

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
        raw_key, cfg = self._client_key(service, region, config, endpoint_url)
        region, _, _, url = raw_key
        key = ("resource", ident, *raw_key)
        cached = self._resources.get(key)
        if cached is not None:
            return cached[1]
        async with self._client_locks.setdefault(key, anyio.Lock()):
            self._check_open()
            cached = self._resources.get(key)
            if cached is not None:
                return cached[1]
            await self._preload(service)
            self._check_open()
            partition = self._partition(region, service)
            loader = shared_loader()
            try:
                model = await anyio.to_thread.run_sync(
                    loader.load_service_model, service, "resources-1"
                )
            except Exception as exc:
                raise UnknownServiceError(
                    f"{service} has no resource interface; use pool.client({service!r})",
                    service=service,
                ) from exc
            self._check_open()
            credentials = await self._credentials_for(ident)
            self._check_open()
            raw = await self._new_raw_client(key, region, service, url, cfg)
            if service == "dynamodb":
                # Its own client: the batch writer's pacing stays with the resource.
                raw.client.meta.events.register(
                    "after-call.dynamodb.BatchWriteItem", _UnprocessedBackoff(self._limits)
                )
            try:
                scope = Scope(identity_account(ident), region, service, partition)
                client = bind(None, raw, credentials, scope, self._check_binding)
                api_version = client.meta.service_model.api_version
                context = boto3.utils.ServiceContext(
                    service_name=service,
                    service_model=client.meta.service_model,
                    resource_json_definitions=model["resources"],
                    service_waiter_model=boto3.utils.LazyLoadedWaiterModel(
                        self._session._session, service, api_version
                    ),
                )
                cls = await self._session.resource_factory.load_from_definition(
                    resource_name=service,
                    single_resource_json_definition=model["service"],
                    service_context=context,
                )
                resource = cls(client=client)
                self._check_open()
            except BaseException:
                await raw.close()
                raise
            self._resources[key] = (raw, resource)
            self._clients_created += 1
            self._client_locks.pop(key, None)
        return resource

    async def _check_binding(self, bound: Any) -> RawClient:
        """A resource's client before each request: its own raw client, if the pool is open."""
        self._check_open()
        raw: RawClient = bound._aiokit.raw
        return raw

    def paginate(
        self,
        service: str,
        operation: str,
        region: str | None = None,
        *,
        account: str | None = None,
        role: str | None = None,
        identity: Identity | None = None,
        page_retries: int = 5,
        retry_budget: float = 60.0,
        **params: Any,
    ) -> Paginator:
        """Paginate ``operation``: an async iterable of pages, with ``items()`` and ``search()``.

        ::

            pager = pool.paginate("s3", "list_objects_v2", Bucket="logs")
            async for obj in pager.items():
                ...

        Args:
            service: the service name.
            operation: the operation, ``list_objects_v2`` or ``ListObjectsV2``.
            region, account, role, identity: as for :meth:`client`.
            page_retries: how often one page's request is retried by aiokit once botocore's
                own attempts are spent on a transient failure (throttling, 5xx, resets).
            retry_budget: seconds of backoff aiokit may spend on one page.
            **params: the operation's parameters, and boto3's ``PaginationConfig``
                (``PageSize``, ``MaxItems``, ``StartingToken``).

        Raises:
            UnknownOperationError: no such operation, or it is not paginated (on iteration,
                before any request).
            InvalidParameterError: a parameter is unknown or of the wrong type (likewise).
        """
        self._check_open()
        _validate.client_args(
            service_=service, region_=region, account=account, role=role, identity_=identity
        )

        async def get_client() -> Any:
            return await self.client(service, region, account=account, role=role, identity=identity)

        return Paginator(
            get_client,
            service,
            operation,
            params,
            page_retries=page_retries,
            retry_budget=retry_budget,
        )

    async def wait(
        self,
        service: str,
        waiter: str,
        region: str | None = None,
        *,
        account: str | None = None,
        role: str | None = None,
        identity: Identity | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  (the waiter's own deadline)
        delay: float | None = None,
        max_attempts: int | None = None,
        backoff: Backoff = "exponential",
        model: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Wait for a botocore waiter (``"table_exists"``, ``"InstanceRunning"``...).

        Args:
            service: the service name.
            waiter: the waiter's name, snake_case or as in the model; or a name in ``model``.
            region, account, role, identity: as for :meth:`client`.
            timeout: overall deadline in seconds.
            delay: seconds between polls (the model's delay by default).
            max_attempts: polls at most (the model's by default; unlimited with a timeout).
            backoff: ``"exponential"`` (with jitter) or ``"fixed"`` (botocore's behaviour).
            model: a custom waiter model in botocore's ``waiters-2`` schema.
            **params: the polled operation's parameters.

        Returns:
            The response that matched the success state.

        Raises:
            WaiterTimeout: the deadline or the attempt limit was reached (also a TimeoutError).
            WaiterFailed: the resource reached a failure state.
            UnknownOperationError: no such waiter.
        """
        client = await self.client(service, region, account=account, role=role, identity=identity)
        return await _waiters.wait(
            client,
            waiter,
            timeout=timeout,
            delay=delay,
            max_attempts=max_attempts,
            backoff=backoff,
            model=model,
            **params,
        )

    async def wait_many(
        self,
        service: str,
        waiter: str,
        param_sets: Iterable[Mapping[str, Any]],
        region: str | None = None,
        *,
        account: str | None = None,
        role: str | None = None,
        identity: Identity | None = None,
        concurrency: int = 32,
        timeout: float | None = None,  # noqa: ASYNC109
        **kwargs: Any,
    ) -> list[WaitResult]:
        """Run one waiter for many resources at once; one :class:`WaitResult` each, in order.

        A waiter error for one resource is that resource's result; the others go on.
        """
        client = await self.client(service, region, account=account, role=role, identity=identity)
        return await _waiters.wait_many(
            client, waiter, param_sets, concurrency=concurrency, timeout=timeout, **kwargs
        )

    def fan_out(
        self,
        fn: Callable[[Context], Awaitable[T]],
        targets: Iterable[Target] | AsyncIterable[Target],
        *,
        concurrency: int = 64,
        per_account: int | None = None,
        per_region: int | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> FanOut[T]:
        """Run ``async def fn(ctx)`` for every target, at most ``concurrency`` at once.

        ::

            async with pool.fan_out(fn, targets, concurrency=64) as outcomes:
                async for outcome in outcomes:
                    ...

        Outcomes stream as targets finish; memory stays bounded by ``concurrency``.

        Args:
            fn: the work for one target; gets a :class:`Context` (``ctx.client(...)``,
                ``ctx.paginate(...)``, ``ctx.wait(...)``, ``ctx.target``).
            targets: targets, or an async iterator of them; a target given twice (same
                account, region and partition) is visited once.
            concurrency, per_account, per_region, timeout, deadline: the bounds and times,
                checked here: see [`FanOutLimits`][aiokit._fleet.limits.FanOutLimits].
            progress: called after each target with a :class:`Progress`.
        """
        self._check_open()
        limits = FanOutLimits(concurrency, per_account, per_region, timeout, deadline)
        return FanOut(self, fn, targets, limits, progress=progress, gc_threshold=self._gc_threshold)

    async def targets(
        self,
        accounts: Accounts = "self",
        regions: str | Sequence[str] | None = None,
        services: Sequence[str] | None = None,
        *,
        role: str | None = None,
        session_name: str | None = None,
        refresh: bool = False,
    ) -> list[Target]:
        """The targets a fan-out or crawl should visit, interleaved across accounts.

        Args:
            accounts: ``"self"``, a list of account ids (reached through ``role``),
                :class:`Profiles`, or an :class:`Organization`.
            regions: a list of regions, ``"all"`` (the partition's), or ``"enabled"`` (each
                account's enabled regions); the pool's region by default.
            services: keep only regions where these services exist; global services get
                one target per account.
            role: the role to assume for a list of account ids (default: the pool's).
            session_name: the role session name for a list of account ids (default
                ``"aiokit"``; an :class:`Organization` takes its own ``session_name``).
            refresh: re-read the cached organization and enabled regions.

        Raises:
            ConfigurationError: an unknown region, OU, role, or a malformed account id or
                session name.
        """
        return await discover_targets(
            self, accounts, regions, services, role, session_name=session_name, refresh=refresh
        )

    def crawl(
        self,
        service: str,
        operation: str,
        targets: Iterable[Target] | AsyncIterable[Target] | None = None,
        *,
        key: str | None = None,
        concurrency: int = 64,
        per_account: int | None = None,
        per_region: int | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        progress: Callable[[Progress], None] | None = None,
        **params: Any,
    ) -> Crawl:
        """Paginate ``operation`` in every target; items tagged with account and region.

        ::

            async with pool.crawl("sqs", "list_queues", targets) as crawl:
                async for item in crawl:
                    print(item.account, item.region, item.data)
            print(crawl.report)

        Args:
            service, operation: what to paginate.
            targets: where; by default the pool's own identity in its default region.
            key: which result key to flatten (see :meth:`Paginator.items`).
            concurrency, per_account, per_region, timeout, deadline: the bounds and times:
                see [`FanOutLimits`][aiokit._fleet.limits.FanOutLimits].
            progress: called after each target with a :class:`Progress`.
            **params: the operation's parameters.
        """
        self._check_open()
        limits = FanOutLimits(concurrency, per_account, per_region, timeout, deadline)
        if targets is None:
            targets = [Target(None, self.region)]
        return Crawl(
            self,
            service,
            operation,
            targets,
            params,
            key=key,
            limits=limits,
            progress=progress,
            gc_threshold=self._gc_threshold,
        )

    async def _preload(self, service: str) -> None:
        """Parse the service's models in a worker thread, so the event loop never does."""
        if service in self._preloaded:
            return
        # One load per service, however many tasks ask for it at once.
        async with self._client_locks.setdefault(("preload", service), anyio.Lock()):
            if service not in self._preloaded:
                await self._load_models(service)

    async def _load_models(self, service: str) -> None:
        loader = shared_loader()

        def load() -> None:
            loader.load_service_model(service, "service-2")
            loader.load_service_model(service, "endpoint-rule-set-1")
            for optional in ("paginators-1", "waiters-2"):
                with contextlib.suppress(DataNotFoundError):
                    loader.load_service_model(service, optional)

        try:
            await anyio.to_thread.run_sync(load)
        except Exception as exc:
            raise translate(exc, service=service) from exc
        self._preloaded.add(service)

    def _partition(self, region: str | None, service: str) -> str:
        if region is None:
            return "aws"
        known = self._partitions.get(region)
        if known is not None:
            return known
        if not _REGION_FORMAT.match(region):
            raise InvalidRegionError(
                f"invalid region name {region!r} for {service}", service=service, region=region
            )
        partitions = shared_loader().load_data("endpoints")["partitions"]
        _validate.not_a_typo(region, service, partitions)
        for partition in partitions:
            if region in partition["regions"] or re.match(partition["regionRegex"], region):
                self._partitions[region] = str(partition["partition"])
                return self._partitions[region]
        raise InvalidRegionError(
            f"{region!r} is not a region of any AWS partition known to botocore",
            service=service,
            region=region,
        )

    async def _raw_client(self, key: tuple[Any, ...], config: AioConfig) -> RawClient:
        self._check_open()
        entry = self._raw.get(key)
        if entry is not None:
            self._raw.move_to_end(key)
            return entry
        lock = self._client_locks.setdefault(key, anyio.Lock())
        async with lock:
            self._check_open()  # taking the lock may have waited
            entry = self._raw.get(key)
            if entry is not None:
                return entry
            region, service, _, url = key
            entry = await self._new_raw_client(key, region, service, url, config)
            self._raw[key] = entry
            self._clients_created += 1
            self._client_locks.pop(key, None)
        await self._evict()
        self._check_open()  # aclose() closed it (it was in the cache) while evicting
        return entry

    async def _new_raw_client(
        self,
        key: tuple[Any, ...],
        region: str | None,
        service: str,
        url: str | None,
        config: AioConfig,
    ) -> RawClient:
        """Make a shared botocore client, with aiokit's handlers; closed again if the pool
        closed meanwhile (then ``PoolClosedError``)."""
        # Shielded: creation does no network I/O, and a client half made when a cancel
        # arrives would otherwise never be closed.
        limits = None if key in self._botocore_retries else self._limits
        with anyio.CancelScope(shield=True):
            if limits is not None:
                config = merge_config(config, _ONE_ATTEMPT)
            try:
                client = await self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=url,
                    config=config,
                    verify=self._verify.get(key),
                    # Placeholders that spare botocore a credential lookup; replaced below.
                    aws_access_key_id="aiokit-unbound",
                    aws_secret_access_key="aiokit-unbound",
                ).__aenter__()
            except Exception as exc:
                raise translate(exc, service=service, region=region) from exc
            if self._state is _State.CLOSED:
                await client.close()
                self._check_open()
        client._request_signer._credentials = UnboundCredentials()
        use_lean_signer(client)
        cache_user_agent(client)
        service_id = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-call.{service_id}", inject_request_credentials)
        client.meta.events.register(f"needs-retry.{service_id}", log_attempt)
        if limits is not None:
            # botocore makes one attempt here, so its retry handler never retries; all
            # it would still do per request is mark retryable errors MaxAttemptsReached,
            # which is not so: aiokit's limiter decides the retries.
            client.meta.events.unregister(
                f"needs-retry.{service_id}", unique_id=f"retry-config-{service_id}"
            )
            # First, so the slot and token are taken before the request is signed.
            client.meta.events.register_first(
                f"request-created.{service_id}", limits.before_attempt
            )
            client.meta.events.register(f"needs-retry.{service_id}", limits.after_attempt)
        return RawClient(key, client)

    async def _evict(self) -> None:
        """Close least recently used shared clients beyond ``max_clients``, never busy ones."""
        while len(self._raw) > self._max_clients:
            key, entry = next(iter(self._raw.items()))
            del self._raw[key]
            entry.evicted = True
            self._clients_evicted += 1
            stale = [k for k, b in self._bound.items() if b._aiokit.raw is entry]
            for k in stale:
                del self._bound[k]
            if entry.in_flight == 0:
                await entry.close()
            else:
                self._retiring.add(entry)

    async def _refresh_binding(self, bound: Any) -> RawClient:
        """Called by a bound client before each request: the raw client to use now."""
        self._check_open()
        binding = bound._aiokit
        raw: RawClient = binding.raw
        if raw.evicted:
            if raw.closed:
                self._retiring.discard(raw)
            fresh = await self._raw_client(raw.key, raw.client.meta.config)
            bind(bound, fresh, binding.credentials, binding.scope, self._refresh_binding)
            return fresh
        if raw.key in self._raw:
            self._raw.move_to_end(raw.key)
        return raw

    # --- credentials -------------------------------------------------------------------

    async def _credentials_for(self, identity: Identity) -> Any:
        credentials = self._credentials.get(identity)
        if credentials is not None:
            return credentials
        lock = self._credential_locks.setdefault(identity, anyio.Lock())
        async with lock:
            credentials = self._credentials.get(identity)
            if credentials is None:
                credentials = await self._make_credentials(identity)
                self._credentials[identity] = credentials
        return credentials

    async def _make_credentials(self, identity: Identity) -> Any:
        if isinstance(identity, StaticKeys):
            return AioCredentials(
                identity.access_key_id, identity.secret_access_key, identity.session_token
            )
        if isinstance(identity, AssumeRole):
            credentials = AioDeferredRefreshableCredentials(
                refresh_using=lambda: self._assume_role(identity),
                method="assume-role",
                # botocore's default asks for the local zone (tzlocal) on every request's
                # expiry check; UTC compares the same against the aware expiry time.
                time_fetcher=_utc_now,
            )
            # botocore refreshes 15 min (advisory) / 10 min (mandatory) before expiry; the
            # jitter spreads refreshes of identities made at the same moment. Neither window
            # may be most of the credentials' lifetime: 15 minutes before the expiry of
            # 15-minute credentials is at once, and every call would fetch new ones.
            advisory = self._refresh_before * (1 + random.uniform(0.0, 0.1))
            credentials._advisory_refresh_timeout = min(advisory, identity.duration / 2)
            credentials._mandatory_refresh_timeout = min(
                self._refresh_before * 2 / 3, identity.duration / 3
            )
            return credentials
        if isinstance(identity, Profile):
            session = EndpointSession(profile=identity.name)
            session.aiokit_endpoint = self._endpoint_for
            session.register_component("data_loader", shared_loader())
        else:
            session = self._session._session
        try:
            # Reading config and credentials files is blocking I/O: do it in a thread.
            await anyio.to_thread.run_sync(session.get_scoped_config)
            if (
                isinstance(identity, Profile)
                and self._region is not None
                and session.get_config_variable("region") is None
            ):
                # The STS client botocore makes for the profile's role_arn hop needs a
                # region: a profile without one takes the pool's, as boto3's would.
                session.set_config_variable("region", self._region)
            _kill_cancelled_credential_process(session)
            credentials = await session.get_credentials()
        except Exception as exc:
            new = translate(exc)
            if (new is exc and isinstance(exc, BotoCoreError)) or isinstance(
                exc, PartialCredentialsError
            ):
                # A credential_process that failed, a source_profile that is not there, a
                # loop of profiles, an SSO token to renew, AWS_ACCESS_KEY_ID set without
                # AWS_SECRET_ACCESS_KEY...: botocore says which (it names, never shows).
                raise CredentialsError(
                    f"no credentials for {identity!r}: {type(exc).__name__}: {exc}"
                ) from exc
            if new is exc and not isinstance(exc, AiokitError):
                # botocore lets some through raw: a credential_process that is not there
                # (OSError) or prints no JSON, or an expiry time that is no date (ValueError).
                # Not echoed: what a credential_process printed may be half a secret.
                raise CredentialsError(
                    f"no credentials for {identity!r}: {type(exc).__name__} while reading "
                    "them (a credential_process that is missing or prints no valid JSON?)"
                ) from None
            raise new from exc
        if credentials is None:
            raise CredentialsError(f"no AWS credentials found for {identity!r}")
        return credentials

    async def _assume_role(self, identity: AssumeRole) -> dict[str, Any]:
        """Fetch credentials for a role (botocore's refresh callback)."""
        source = identity.source if identity.source is not None else self._identity
        if source == identity:
            # The pool's own identity is this role, with no source: it is assumed from
            # botocore's default chain, not from itself (which would wait on its own lock).
            source = DefaultCredentials()
        region = self._region or "us-east-1"
        partition = self._partition(region, "sts")
        arn = identity.arn(partition)
        if arn.split(":", 2)[1] != partition:
            # STS of one partition knows no role of another: say so instead of asking it.
            raise InvalidRoleError(
                f"role {arn} is in partition {arn.split(':', 2)[1]}, but the pool assumes "
                f"roles through STS in {region} ({partition}): give the pool a region of "
                "the role's partition",
                account=identity.account,
                region=region,
            )
        sts = await self.client("sts", region, identity=source)
        params: dict[str, Any] = {
            "RoleArn": arn,
            "RoleSessionName": identity.session_name,
            "DurationSeconds": identity.duration,
        }
        if identity.external_id is not None:
            params["ExternalId"] = identity.external_id
        params.update(await _session_options(identity))
        # Resolve the source's own credentials (an earlier hop of a chain) before taking an
        # STS slot, so a chain never waits for a slot while holding one.
        await sts._aiokit.credentials.get_frozen_credentials()
        async with self._sts_limiter:
            try:
                # Transient failures (5xx, throttling, resets) are retried by the client
                # itself, as every call is; what is still an error here is final.
                response = await sts.assume_role(**params)
            except AWSError as exc:
                where = {
                    "service": "sts",
                    "operation": "AssumeRole",
                    "region": region,
                    "account": identity.account,
                }
                failure = sts_failure(exc, arn, repr(source), where)
                if failure is exc:
                    raise
                raise failure from exc
            except AiokitError:
                raise
            except Exception as exc:
                # An answer that is not STS's (a proxy's page, cut-off XML, a bad date):
                # botocore's parser error, KeyError or ValueError, never a target's bug.
                raise CredentialsError(
                    f"could not assume {arn}: STS's answer could not be read: {type(exc).__name__}",
                    service="sts",
                    operation="AssumeRole",
                    region=region,
                    account=identity.account,
                ) from None
        self._refreshes += 1
        return _role_credentials(response, arn, region, identity.account)
