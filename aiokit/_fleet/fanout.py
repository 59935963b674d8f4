"""The fan-out executor: one async function over many targets, bounded, streamed, isolated.

::

    async with pool.fan_out(list_instances, targets, concurrency=64) as outcomes:
        async for outcome in outcomes:
            ...

Shape (anyio only, structured): ``concurrency`` worker tasks (fewer for a shorter list) pull
targets from one shared iterator, so no more than ``concurrency`` targets are in progress at
once however many are given (an async iterator of 100,000 is fine), and a task per worker
rather than per target keeps the per-target cost low. For each target a worker holds its
account's and region's limiter, if bounded, runs ``fn(ctx)`` and sends an :class:`Outcome`
into a memory object stream whose buffer is ``concurrency``: a slow consumer stops the
workers, so memory is bounded by the concurrency, not the target count.

A target's failure is an outcome (``skipped`` or ``failed``, see :func:`classify`); an
exception that is not an AWS/aiokit error (a ``TypeError`` in ``fn``, say) is a bug: it stops
the fan-out and is raised as itself, not hidden in thousands of outcomes.

The fan-out asks its :class:`~aiokit._protocols.Requester` (the pool) for clients,
paginators and waiters, and knows nothing else of it. The bounds and times are one
:class:`~aiokit._fleet.limits.FanOutLimits`; the task group and its stream are owned by
:func:`~aiokit._fleet.streams.running`.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sized,
)
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .. import _observe, _validate
from .._botocore import use_lean_client_context
from .._exceptions import ConfigurationError, UsageError
from .._gc import raised_gc_threshold
from .._observe import CallStats, call_stats
from .._protocols import Requester
from .discovery.cache import caller_account
from .limits import DEFAULT_LIMITS, FanOutLimits
from .outcomes import FanOutStatistics, Outcome, Progress, Status, WorkerSummary, classify
from .streams import Drain, running, send_soon
from .targets import Target

if TYPE_CHECKING:
    from .._identity import Identity
    from .._paginate import Paginator
    from .listings import Listing

__all__ = ["Context", "FanOut", "Unit", "check_targets", "checked_target"]

#: The lifecycle records (INFO): a run started and finished, a target skipped or failed.
#: A worker process's own are not forwarded (the driver logs every outcome once).
logger = logging.getLogger("aiokit.fleet")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of a crawl of many listings: a listing in a target.

    Attributes:
        target: what the unit's items and outcome are tagged with (region ``None`` for a
            global listing, which runs once per account).
        listing: what to list.
        via: where the requests go: ``target`` itself, or for a global listing the
            account's first target (a region of the right partition to sign for).
    """

    target: Target
    listing: Listing
    via: Target = field(compare=False)


class Context:
    """What ``fn`` gets: the pool's calls, bound to one target's identity and region.

    A target with an ``account`` but no ``identity`` is visited as the pool itself when
    the pool is in that account, and otherwise through the pool's ``role`` there (as
    ``pool.client(account=...)``): never as the pool in another account than its label.
    Which one is asked of STS (once per pool) at the target's first call.
    """

    def __init__(self, pool: Requester, target: Target, unit: Unit | None = None) -> None:
        self.pool = pool
        self.target = target
        #: The unit run, in a crawl of many listings (``target`` is then its ``via``).
        self.unit = unit
        self._identity = target.identity
        self._unresolved = target.identity is None and target.account is not None

    async def _acting(self) -> Identity | None:
        """The identity to act as (see the class docstring)."""
        if self._unresolved:
            own, _ = await caller_account(self.pool, None)
            if self.target.account != own:
                self._identity = self.pool.identity_for(account=self.target.account)
            self._unresolved = False
        return self._identity

    def __repr__(self) -> str:
        return f"aiokit.Context({self.target!r})"

    async def client(self, service: str) -> Any:
        """The pool's client for ``service`` as this target's identity, in its region."""
        return await self.pool.client(service, self.target.region, identity=await self._acting())

    def paginate(
        self, service: str, operation: str, *, plain: bool = False, **params: Any
    ) -> Paginator:
        """``SessionPool.paginate`` for this target."""
        pager = self.pool.paginate(
            service,
            operation,
            self.target.region,
            identity=self._identity,
            plain=plain,
            **params,
        )
        if self._unresolved:  # the identity is known at the first request, not now

            async def get_client() -> Any:
                return await self.client(service)

            pager._get_client = get_client
        return pager

    async def wait(self, service: str, waiter: str, **kwargs: Any) -> Any:
        """``SessionPool.wait`` for this target."""
        return await self.pool.wait(
            service,
            waiter,
            self.target.region,
            identity=await self._acting(),
            **kwargs,
        )


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, list | tuple | dict | set) else 0


class FanOut(Generic[T]):
    """A running fan-out; see ``SessionPool.fan_out``. Use as ``async with ... as outcomes``.

    Args:
        requester: what the targets' requests go through (the pool).
        fn: ``async def fn(ctx)``, run once per target with a :class:`Context`.
        targets: targets, or an async iterator of them.
        limits: the bounds and times (:class:`~aiokit._fleet.limits.FanOutLimits`).
        progress: called after each target with a :class:`Progress`.
        gc_threshold: the garbage collector's generation-0 threshold while the fan-out
            runs (``None``: left alone); the pool passes its own.
        count_items: how many items a target's value holds (for the statistics).
    """

    def __init__(
        self,
        requester: Requester,
        fn: Callable[[Context], Awaitable[T]],
        targets: Iterable[Target] | AsyncIterable[Target],
        limits: FanOutLimits = DEFAULT_LIMITS,
        *,
        progress: Callable[[Progress], None] | None = None,
        gc_threshold: int | None = None,
        count_items: Callable[[T], int] = _sized,
    ) -> None:
        if not callable(fn):
            raise ConfigurationError(
                f"fn must be an async function, not {type(fn).__name__} {fn!r}"
            )
        check_targets("targets", targets)
        _validate.callable_or_none("progress", progress)
        self._requester = requester
        self._fn = fn
        self._targets = targets
        self._limits = limits
        self._progress = progress
        self._count_items = count_items
        self._account_limiters: dict[str | None, anyio.CapacityLimiter] = {}
        self._region_limiters: dict[str | None, anyio.CapacityLimiter] = {}
        self._service_limiters: dict[str | None, anyio.CapacityLimiter] = {}
        self._running: AbstractAsyncContextManager[MemoryObjectReceiveStream[Outcome[T]]]
        self._receive: MemoryObjectReceiveStream[Outcome[T]] | None = None
        self._started = self._done = self._ok = self._skipped = self._failed = 0
        self._items = self._calls = self._retries = self._throttles = 0
        self._interrupted = 0
        self._deadline_at = math.inf  # set when the run starts, if there is a deadline
        self._deadline_reached = False
        #: The pool statistics of the workers that ran this fan-out's targets (``runner=``;
        #: one ``PoolStatistics`` per worker run, in the order they finished); empty here.
        self.worker_statistics: list[Any] = []
        # What its log records call it: "fan-out list_instances", "crawl sqs list_queues".
        self.label = f"fan-out {getattr(fn, '__qualname__', None) or type(fn).__name__}"
        self._entered = False
        self._collector = raised_gc_threshold(gc_threshold)
        # aiokit.otel: the tracing on when the run started, its span, a target's items.
        self._tracing: _observe.Tracing | None = None
        self._span: Any = None
        self.span_items: Callable[[T], int] = count_items
        #: The run span's parent, carried from another process (W3C trace context headers:
        #: a worker process's run of a driver's job); ``None``: the current context.
        self.trace_parent: dict[str, str] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> FanOut[T]:
        if self._entered:
            raise UsageError("a FanOut runs once; make a new one")
        self._entered = True
        known = len(self._targets) if isinstance(self._targets, Sized) else None
        self._trace_start(known)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s started: %s targets",
                self.label,
                "streamed" if known is None else known,
                extra={"event": "started", "targets": known},
            )
        self._running = running(self._produce, self._limits.concurrency)
        self._receive = await self._running.__aenter__()
        self._collector.__enter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        try:
            return await self._running.__aexit__(*exc_info)
        finally:
            self._collector.__exit__(None, None, None)
            self._trace_end(exc_info[1])
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "%s finished: %d ok, %d skipped, %d failed, %d items%s",
                    self.label,
                    self._ok,
                    self._skipped,
                    self._failed,
                    self._items,
                    " (stopped early)" if exc_info[0] is not None else "",
                    extra={
                        "event": "finished",
                        "ok": self._ok,
                        "skipped": self._skipped,
                        "failed": self._failed,
                        "items": self._items,
                    },
                )

    def _trace_start(self, targets: int | None) -> None:
        """The run's span, when aiokit.otel is on (ended by ``_trace_end``)."""
        self._tracing = _observe.tracing
        if self._tracing is not None:
            self._span = self._tracing.run(self.label, targets, self.trace_parent)

    def _trace_end(self, error: BaseException | None) -> None:
        if self._tracing is not None:
            self._tracing.run_finished(self._span, self.statistics(), error)

    def trace_context(self) -> dict[str, str] | None:
        """The run span's context as W3C headers, for a job sent to a worker process."""
        if self._tracing is None:
            return None
        return self._tracing.carrier(self._span)

    def __aiter__(self) -> AsyncIterator[Outcome[T]]:
        if self._receive is None:
            raise UsageError(
                "use `async with pool.fan_out(...) as outcomes: async for o in outcomes`"
            )
        return Drain(self._receive)

    async def collect(self) -> list[Outcome[T]]:
        """Run to the end and return every outcome (all in memory: for modest runs)."""
        async with self:
            return [outcome async for outcome in self]

    # --- work --------------------------------------------------------------------------

    async def _produce(self, send: MemoryObjectSendStream[Outcome[T]]) -> None:
        # ``concurrency`` workers (fewer for a shorter list) pull targets from one iterator:
        # at most ``concurrency`` targets are taken and not yet handed to the consumer.
        workers = self._limits.concurrency
        if isinstance(self._targets, Sized):
            workers = max(1, min(workers, len(self._targets)))
        source = _Targets(self._targets)
        if self._limits.deadline is not None:
            self._deadline_at = anyio.current_time() + self._limits.deadline
        # The run's span is current in this task, so in the workers it starts (their
        # context is a copy of this one's), and so in each target's.
        entered = self._tracing.enter(self._span) if self._tracing is not None else None
        try:
            async with send, anyio.create_task_group() as group:
                # A worker per target taken, up to the bound: targets of unknown number (a
                # generator) with a huge ``concurrency`` cost as many tasks as there are
                # targets, not ``concurrency`` idle ones.
                for _ in range(workers):
                    first = await self._take(source)
                    if first is None:
                        break
                    group.start_soon(self._work, source, send, first)
        finally:
            with anyio.CancelScope(shield=True):
                await source.aclose()
            if self._tracing is not None:
                self._tracing.leave(entered)

    async def _work(
        self, source: _Targets, send: MemoryObjectSendStream[Outcome[T]], first: Target | Unit
    ) -> None:
        use_lean_client_context()  # this worker task's own botocore context
        target: Target | Unit | None = first
        while True:
            if target is None:
                target = await self._take(source)
                if target is None:
                    return
            self._started += 1
            # The deadline stops the work, not the delivery of its outcome: an outcome
            # made is recorded and sent (a slow consumer still gets it), never dropped.
            with anyio.CancelScope(deadline=self._deadline_at) as scope:
                try:
                    outcome = await self._bounded(target)
                except BaseException:
                    self._interrupted += 1  # cancelled (deadline, consumer left) or a bug
                    raise
            if scope.cancelled_caught:
                self._deadline_reached = True
                return
            self._record(outcome)
            # The worker waits until the consumer has room for the outcome: a slow consumer
            # stops the workers, which is what keeps memory bounded.
            await send_soon(send, outcome)
            target = None

    async def _take(self, source: _Targets) -> Target | Unit | None:
        """The next target, or ``None``: none left, or the deadline has passed."""
        if anyio.current_time() >= self._deadline_at:
            self._deadline_reached = True
            return None
        with anyio.CancelScope(deadline=self._deadline_at):
            return await source.take()
        self._deadline_reached = True  # an async source was still producing at the deadline
        return None

    async def _bounded(self, work: Target | Unit) -> Outcome[T]:
        if isinstance(work, Unit):
            # A unit waits for its service's slot too: two listings of one service in one
            # cell share its throttling bucket, so per_service bounds what hits it at once.
            service = _limiter(
                self._service_limiters, work.listing.service, self._limits.per_service
            )
            if service is not None:
                async with service:
                    return await self._scoped(work, work.target)
        return await self._scoped(work, work if isinstance(work, Target) else work.target)

    async def _scoped(self, work: Target | Unit, target: Target) -> Outcome[T]:
        limits = self._limits
        account = _limiter(self._account_limiters, target.account, limits.per_account)
        region = _limiter(self._region_limiters, target.region, limits.per_region)
        if account is not None:
            await account.acquire()
        try:
            if region is not None:
                await region.acquire()
            try:
                return await self._call(work)
            finally:
                if region is not None:
                    region.release()
        finally:
            if account is not None:
                account.release()

    async def _call(self, work: Target | Unit) -> Outcome[T]:
        tracing = self._tracing
        if tracing is None:
            return await self._visit(work)
        target = work.target if isinstance(work, Unit) else work
        listing = work.listing.name if isinstance(work, Unit) else None
        handle = tracing.target(target.account, target.region, listing)
        outcome: Outcome[T] | None = None
        try:
            outcome = await self._visit(work)
            return outcome
        finally:
            items = 0
            if outcome is not None and outcome.value is not None:
                items = self.span_items(outcome.value)
            tracing.target_finished(handle, outcome, items)

    async def _visit(self, work: Target | Unit) -> Outcome[T]:
        stats = CallStats()
        token = call_stats.set(stats)
        start = time.perf_counter()
        if isinstance(work, Unit):
            target, listing = work.target, work.listing
            ctx = Context(self._requester, work.via, work)
        else:
            target, listing = work, None
            ctx = Context(self._requester, work)
        try:
            try:
                if self._limits.timeout is None:
                    value = await _awaited(self._fn, ctx)
                else:
                    with anyio.fail_after(self._limits.timeout):
                        value = await _awaited(self._fn, ctx)
            except Exception as exc:
                # Misuse (UsageError) is a bug in the caller's code, whatever classify says.
                verdict = None if isinstance(exc, UsageError) else classify(exc, target.region)
                if verdict is None:
                    raise  # a bug in fn: surface it, stop the fan-out
                status, reason = verdict
                return Outcome(
                    target,
                    status,
                    error=exc,
                    reason=reason,
                    duration=time.perf_counter() - start,
                    calls=stats.calls,
                    retries=stats.retries,
                    throttles=stats.throttles,
                    throttle_retries=stats.throttle_retries,
                    transient_retries=stats.transient_retries,
                    page_retries=stats.page_retries,
                    listing=listing,
                )
            # Built in place, not by a helper: this line runs once per target.
            return Outcome(
                target,
                Status.OK,
                value=value,
                duration=time.perf_counter() - start,
                calls=stats.calls,
                retries=stats.retries,
                throttles=stats.throttles,
                throttle_retries=stats.throttle_retries,
                transient_retries=stats.transient_retries,
                page_retries=stats.page_retries,
                listing=listing,
            )
        finally:
            call_stats.reset(token)

    def _record(self, outcome: Outcome[T]) -> None:
        self._done += 1
        if outcome.status is Status.OK:
            self._ok += 1
            if outcome.value is not None:
                self._items += self._count_items(outcome.value)
        elif outcome.status is Status.SKIPPED:
            self._skipped += 1
            _log_outcome(self.label, outcome)
        else:
            self._failed += 1
            _log_outcome(self.label, outcome)
        self._calls += outcome.calls
        self._retries += outcome.retries
        self._throttles += outcome.throttles
        if self._progress is not None:
            hooked = self._progress(
                Progress(
                    self._done,
                    self._started - self._done - self._interrupted,
                    self._ok,
                    self._skipped,
                    self._failed,
                    self._items,
                )
            )
            _validate.hook_result("progress", hooked)

    def _record_elsewhere(self, outcome: Outcome[T]) -> None:
        """Count an outcome a worker process made (``runner=``): started and done here."""
        self._started += 1
        self._record(outcome)

    def _record_summaries(self, summaries: Iterable[WorkerSummary]) -> None:
        """Merge the workers' last words (``runner=``): deadline, interrupted, statistics."""
        for summary in summaries:
            self._deadline_reached |= summary.deadline_reached
            self._started += summary.interrupted
            self._interrupted += summary.interrupted
            if summary.statistics is not None:
                self.worker_statistics.append(summary.statistics)

    def _count_item(self) -> None:
        """Count one more item (for work that streams its items: a crawl's)."""
        self._items += 1

    def statistics(self) -> FanOutStatistics:
        """A frozen snapshot of the counters."""
        return FanOutStatistics(
            started=self._started,
            done=self._done,
            in_flight=self._started - self._done - self._interrupted,
            ok=self._ok,
            skipped=self._skipped,
            failed=self._failed,
            items=self._items,
            calls=self._calls,
            retries=self._retries,
            throttles=self._throttles,
            deadline_reached=self._deadline_reached,
            interrupted=self._interrupted,
        )


def _awaited(fn: Callable[[Context], Awaitable[T]], ctx: Context) -> Awaitable[T]:
    """``fn(ctx)``, which must be awaitable: a plain function is a usage error, said so."""
    result = fn(ctx)
    if not inspect.isawaitable(result):
        raise ConfigurationError(
            f"fan_out's fn must be an async function (async def fn(ctx)); "
            f"{getattr(fn, '__qualname__', fn)!r} returned {type(result).__name__}"
        )
    return result


def _log_outcome(label: str, outcome: Outcome[Any]) -> None:
    """One INFO record for a target that was skipped or failed, with its reason."""
    if not logger.isEnabledFor(logging.INFO):
        return
    target = outcome.target
    where = f"{target.account or 'this account'} {target.region or 'global'}"
    listing = f" {outcome.listing.name}" if outcome.listing is not None else ""
    logger.info(
        "%s: %s%s %s: %s",
        label,
        where,
        listing,
        outcome.status.value,
        outcome.reason,
        extra={
            "event": "target",
            "account": target.account,
            "region": target.region,
            "status": outcome.status.value,
            "reason": outcome.reason,
            "error_code": _error_code(outcome.error),
        },
    )


def _error_code(error: BaseException | None) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return code if isinstance(code, str) else None
    return None


def check_targets(name: str, value: object) -> None:
    """An iterable or async iterable of targets (a lone ``Target`` or a string is not)."""
    if isinstance(value, Target):
        raise ConfigurationError(f"{name} must be a list of aiokit.Target, not one Target: [t]")
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable | AsyncIterable):
        raise ConfigurationError(
            f"{name} must be an iterable or async iterable of aiokit.Target, "
            f"not {type(value).__name__}"
        )


def _limiter(
    table: dict[str | None, anyio.CapacityLimiter], key: str | None, bound: int | None
) -> anyio.CapacityLimiter | None:
    if bound is None:
        return None
    limiter = table.get(key)
    if limiter is None:
        limiter = table[key] = anyio.CapacityLimiter(bound)
    return limiter


class _Targets:
    """The fan-out's targets, handed to its workers one at a time, each distinct one once.

    Targets are cells (``Target`` compares by account, region and partition): a repeat
    would visit the same cell again and yield its items twice, so it is dropped.
    """

    def __init__(self, targets: Iterable[Target | Unit] | AsyncIterable[Target]) -> None:
        self._seen: set[Target | Unit] = set()
        self._iterator: Iterator[Target | Unit] | None = None
        self._source: AsyncGenerator[Target, None] | None = None
        if isinstance(targets, AsyncIterable):
            self._source = _aiter(targets)
            self._lock = anyio.Lock(fast_acquire=True)
        else:
            self._iterator = iter(targets)

    async def take(self) -> Target | Unit | None:
        """The next target, or ``None`` when there are no more (for every later call too)."""
        target = await self._next()
        while target is not None and target in self._seen:
            target = await self._next()
        if target is not None:
            self._seen.add(target)  # no await since the check: no other worker got it
        return target

    async def _next(self) -> Target | Unit | None:
        if self._iterator is not None:
            # A plain iterator's next() runs to its end without giving the event loop a
            # turn, so workers cannot interleave inside it: no lock needed.
            target = next(self._iterator, _END)
            if target is _END:
                return None
            # Units are made by the crawl of many listings, never given by a user.
            return target if isinstance(target, Unit) else checked_target(target)
        assert self._source is not None
        async with self._lock:  # an async generator serves one caller at a time
            try:
                # Once exhausted, it keeps raising StopAsyncIteration for every worker.
                return checked_target(await self._source.__anext__())
            except StopAsyncIteration:
                return None

    async def aclose(self) -> None:
        """Close the caller's async iterator (a plain one is left as it is)."""
        if self._source is not None:
            await self._source.aclose()


_END = object()


def checked_target(target: object) -> Target:
    """``target``, which must be a ``Target`` (a dict or tuple in the list is named)."""
    if isinstance(target, Target):
        return target
    raise ConfigurationError(
        f"targets must hold aiokit.Target objects (aiokit.Target(account, region)), not "
        f"{type(target).__name__} {target!r}"
    )


async def _aiter(targets: AsyncIterable[Target]) -> AsyncGenerator[Target, None]:
    iterator = aiter(targets)
    try:
        async for target in iterator:
            yield target
    finally:
        # The fan-out stopped early (done, cancelled, deadline): let the caller's async
        # generator run its own cleanup now rather than whenever it is collected.
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
