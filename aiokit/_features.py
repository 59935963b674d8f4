"""``PoolFeatures``: what a pool offers on top of its clients, as one thin facade.

``paginate``, ``wait``, ``wait_many``, ``targets``, ``fan_out`` and ``crawl`` each check what
the caller passed and build the object that does the work (a ``Paginator``, a waiter, a
discovery, a ``FanOut`` or ``Crawl`` of the fleet); none keeps state of its own. They need
only what ``_Pool`` names of the pool (its clients and its lifecycle check), so
``SessionPool`` itself stays the composition root of its parts (``_pool.py``) and this
module never imports it.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from . import _validate, _waiters
from ._exceptions import ConfigurationError, UsageError
from ._fleet.crawl import Crawl
from ._fleet.discovery import Accounts, discover_targets
from ._fleet.fanout import Context, FanOut
from ._fleet.limits import FanOutLimits
from ._fleet.listings import Listing
from ._fleet.many import ManyCrawl, is_listings
from ._fleet.outcomes import Progress
from ._fleet.runners import Processes, Runner, ShardedFanOut, check_runner
from ._fleet.targets import Target
from ._identity import Identity
from ._paginate import Paginator
from ._protocols import Requester
from ._waiters import Backoff, WaitResult
from ._where import scope_of_client
from ._workers import sharded_for

if TYPE_CHECKING:
    from .inventory._catalogue import ResourceType

__all__ = ["PoolFeatures"]

T = TypeVar("T")


class _Pool(Requester, Protocol):
    """What the facade uses of the pool it is part of."""

    _gc_threshold: int | None
    _options: dict[str, Any]

    def _check_open(self) -> None: ...

    async def client(
        self,
        service: str,
        region: str | None = None,
        *,
        account: str | None = None,
        role: str | None = None,
        identity: Identity | None = None,
        config: Any = None,
        endpoint_url: str | None = None,
        verify: bool | str | None = None,
    ) -> Any: ...


class PoolFeatures:
    """The pool's paginators, waiters, targets, fan-outs and crawls (``SessionPool``'s base)."""

    def paginate(
        self: _Pool,
        service: str,
        operation: str,
        region: str | None = None,
        *,
        account: str | None = None,
        role: str | None = None,
        identity: Identity | None = None,
        page_retries: int = 5,
        retry_budget: float = 60.0,
        plain: bool = False,
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
            plain: for DynamoDB ``query`` and ``scan``: items (and ``LastEvaluatedKey``) as
                plain Python values, and plain values accepted in
                ``ExpressionAttributeValues`` / ``ExclusiveStartKey``, as boto3's
                ``Table.query()`` takes and gives them (``Decimal``, ``set``, ``Binary``);
                see the guide "Paginators".
            **params: the operation's parameters, and boto3's ``PaginationConfig``
                (``PageSize``, ``MaxItems``, ``StartingToken``).

        Raises:
            UnknownOperationError: no such operation, or it is not paginated (on iteration,
                before any request).
            InvalidParameterError: a parameter is unknown or of the wrong type (likewise);
                ``plain=True`` for another operation (at once).
            ConfigurationError: ``plain`` is not a bool (at once).
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
            scope_of=scope_of_client,
            page_retries=page_retries,
            retry_budget=retry_budget,
            plain=plain,
        )

    async def wait(
        self: _Pool,
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
        return await _waiters.wait_in(
            scope_of_client(client),
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
        self: _Pool,
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
            client,
            waiter,
            param_sets,
            concurrency=concurrency,
            timeout=timeout,
            scope=scope_of_client(client),
            **kwargs,
        )

    def fan_out(
        self: _Pool,
        fn: Callable[[Context], Awaitable[T]],
        targets: Iterable[Target] | AsyncIterable[Target],
        *,
        concurrency: int = 64,
        per_account: int | None = None,
        per_region: int | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        progress: Callable[[Progress], None] | None = None,
        runner: Runner | None = None,
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
            runner: where the targets run: ``None``, this process; ``aiokit.Processes(n)``,
                ``n`` local worker processes; ``aiokit.dask.DaskRunner(...)``, a Dask
                cluster's workers; sharded by account. ``fn`` must then be an importable
                function (not a lambda or a closure), and its values picklable.
        """
        self._check_open()
        sharded = sharded_for(self, check_runner(runner))
        limits = FanOutLimits(concurrency, per_account, per_region, timeout, deadline)
        if sharded is not None:
            return ShardedFanOut(
                self,
                fn,
                targets,
                limits,
                sharded=sharded,
                progress=progress,
                gc_threshold=self._gc_threshold,
            )
        return FanOut(self, fn, targets, limits, progress=progress, gc_threshold=self._gc_threshold)

    async def targets(
        self: _Pool,
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
        self: _Pool,
        service: str | Sequence[Listing | ResourceType],
        operation: str | Iterable[Target] | AsyncIterable[Target] | None = None,
        targets: Iterable[Target] | AsyncIterable[Target] | None = None,
        *,
        key: str | None = None,
        concurrency: int = 64,
        per_account: int | None = None,
        per_region: int | None = None,
        per_service: int | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        progress: Callable[[Progress], None] | None = None,
        runner: Runner | None = None,
        done: Collection[tuple[str | None, str | None, str]] | None = None,
        plain: bool = False,
        **params: Any,
    ) -> Crawl:
        """Paginate ``operation`` in every target; items tagged with account and region.

        ::

            async with pool.crawl("sqs", "list_queues", targets) as crawl:
                async for item in crawl:
                    print(item.account, item.region, item.data)
            print(crawl.report)
            crawl = pool.crawl([Listing("ec2", "describe_vpcs"), CATALOGUE[...]], targets)

        The first argument is a service name, or a list of :class:`~aiokit.Listing` /
        :class:`~aiokit.inventory.ResourceType` (an overload, not a ``listings=``
        keyword: a crawl of many listings is the same call with more in it, and
        ``pool.crawl(listings, targets)`` reads as the one-listing call does; the targets
        then come second). Each listing runs in each target as its own unit, with its own
        outcome (``outcome.listing``); a global listing (``listing.is_global``) runs once
        per account, tagged ``region=None``. See the guide "Inventory".

        Args:
            service, operation: what to paginate; or a list of listings as ``service``,
                and the targets as ``operation`` or ``targets``.
            targets: where; by default the pool's own identity in its default region.
            key: which result key to flatten (see :meth:`Paginator.items`).
            concurrency, per_account, per_region, timeout, deadline: the bounds and times:
                see [`FanOutLimits`][aiokit._fleet.limits.FanOutLimits].
            progress: called after each target with a :class:`Progress`.
            runner: where the targets run, as for :meth:`fan_out` ("Crawling past one process").
            per_service: in a crawl of many listings, units of one service at once.
            done: in a crawl of many listings, ``(account, region, listing name)`` units
                already done, to skip (a resume; region ``None`` for a global listing).
            plain: DynamoDB ``query`` / ``scan`` items as plain values (see :meth:`paginate`).
            **params: the operation's parameters.

        Raises:
            ConfigurationError: a malformed listing, bound, ``done``, or ``key``/params
                given with a list of listings (each listing has its own).
            UsageError: a Dask runner with a list of listings (not yet supported).
        """
        self._check_open()
        limits = FanOutLimits(concurrency, per_account, per_region, timeout, deadline, per_service)
        if is_listings(service):
            many = (operation, targets, key, params, runner, done, plain)
            return _crawl_many(self, service, *many, limits=limits, progress=progress)
        if done is not None:
            raise ConfigurationError("done= is for a crawl of many listings")
        sharded = sharded_for(self, check_runner(runner))
        if targets is None:
            targets = [Target(None, self.region)]
        return Crawl(
            self,
            cast("str", service),
            cast("str", operation),
            targets,
            params,
            key=key,
            limits=limits,
            progress=progress,
            gc_threshold=self._gc_threshold,
            sharded=sharded,
            plain=plain,
        )


def _crawl_many(
    pool: Any,
    listings: Any,
    operation: Any,
    targets: Iterable[Target] | AsyncIterable[Target] | None,
    key: str | None,
    params: dict[str, Any],
    runner: Runner | None,
    done: Collection[tuple[str | None, str | None, str]] | None,
    plain: object,
    *,
    limits: FanOutLimits,
    progress: Callable[[Progress], None] | None,
) -> Crawl:
    """``pool.crawl(listings, targets, ...)``: a :class:`ManyCrawl` of (target, listing)
    units (the targets may come second, in ``operation``'s place)."""
    if targets is None and not isinstance(operation, str):
        targets, operation = operation, None
    if operation is not None or key is not None or params:
        raise ConfigurationError(
            "a crawl of many listings takes its operations, keys and parameters "
            "from its listings: pool.crawl(listings, targets)"
        )
    runner = check_runner(runner)
    if runner is not None and not isinstance(runner, Processes):
        raise UsageError(
            f"runner={runner!r}: a crawl of many listings runs in this process or over "
            "aiokit.Processes(n), not yet on Dask"
        )
    if plain is not False:
        raise ConfigurationError("plain= is for a crawl of one DynamoDB query or scan")
    return ManyCrawl(
        pool,
        cast("Sequence[Any]", listings),
        targets if targets is not None else [Target(None, pool.region)],
        done=done,
        limits=limits,
        progress=progress,
        gc_threshold=pool._gc_threshold,
        sharded=sharded_for(pool, runner),
    )
