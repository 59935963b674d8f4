"""The fan-out executor: one async function over many targets, bounded, streamed, isolated.

::

    async with pool.fan_out(list_instances, targets, concurrency=64) as outcomes:
        async for outcome in outcomes:
            ...

Shape (anyio only, structured): a producer walks the targets and takes a slot of the global
``CapacityLimiter`` *before* starting each target's task, so no more than ``concurrency``
targets exist at once however many are given (an async iterator of 100,000 is fine). Each
task also holds its account's and region's limiter, if bounded, runs ``fn(ctx)`` and sends
an :class:`Outcome` into a memory object stream whose buffer is ``concurrency``: a slow
consumer stops the producer, so memory is bounded by the concurrency, not the target count.

A target's failure is an outcome (``skipped`` or ``failed``); an exception that is not an
AWS/aiokit error (a ``TypeError`` in ``fn``, say) is a bug: it stops the fan-out and is
raised as itself, not hidden in thousands of outcomes.

The executor is an async context manager, not a bare async generator, because its task group
must be exited by the task that entered it, whatever the consumer does (``break``, raise,
cancel). Leaving the ``async with`` cancels what is still running and closes everything.
"""

from __future__ import annotations

import enum
import inspect
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
    Sized,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

from .. import _validate
from .._botocore import use_lean_client_context
from .._clients import CallStats, call_stats
from .._exceptions import (
    ACCESS_DENIED_CODES,
    CREDENTIAL_CODES,
    OPT_IN_CODES,
    REGION_DISABLED_CODES,
    THROTTLING_CODES,
    AiokitError,
    AssumeRoleError,
    AWSError,
    ConfigurationError,
    CredentialsError,
    InvalidCredentialsError,
    ThrottlingError,
    UsageError,
    is_opt_in_region,
)
from .._gc import raised_gc_threshold
from .discovery import _whoami as whoami
from .targets import Target

if TYPE_CHECKING:
    from .._paginate import Paginator
    from .._pool import SessionPool

__all__ = [
    "Context",
    "FanOut",
    "exit_task_group",
    "FanOutStatistics",
    "Outcome",
    "Progress",
    "Status",
    "classify",
]

T = TypeVar("T")
V = TypeVar("V")


class Status(enum.Enum):
    """How one target ended."""

    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


def classify(exc: BaseException, region: str | None = None) -> tuple[Status, str] | None:
    """The (status, reason) of a target that raised ``exc``; ``None`` if it must stop all.

    ``None`` means a bug in ``fn`` or a ``ConfigurationError`` (an unknown operation or
    parameter is wrong for every target alike): the fan-out stops and raises it.

    Skipped means "cannot be visited by design": STS refused the role (access denied), the
    call was denied, the region is an opt-in one the account has not enabled (only an
    opt-in region can be disabled: ``region`` is the target's, else the error's), the
    service needs opt-in or a subscription. Failed is everything else, and a resume runs it
    again: credentials AWS rejects ("invalid credentials"), throttled past the retry
    budget, timed out, STS outages, any other AWS or connection error.
    """
    if isinstance(exc, ConfigurationError):
        return None  # the same for every target: stop and say so once, not N times
    if isinstance(exc, AssumeRoleError):
        code = exc.code or ""
        if code in CREDENTIAL_CODES:
            return Status.FAILED, "invalid credentials"  # the source keys, not the role
        if not code or code in ACCESS_DENIED_CODES or code == "RegionDisabledException":
            return Status.SKIPPED, "role not assumable"
        if code in THROTTLING_CODES:
            return Status.FAILED, "throttled"
        return Status.FAILED, f"error: {code}"
    if isinstance(exc, ThrottlingError):
        return Status.FAILED, "throttled"
    if isinstance(exc, AWSError):
        code = exc.code
        if code in REGION_DISABLED_CODES and is_opt_in_region(region or exc.region):
            return Status.SKIPPED, "region disabled"
        if code in CREDENTIAL_CODES:
            return Status.FAILED, "invalid credentials"
        if code in ACCESS_DENIED_CODES:
            return Status.SKIPPED, "access denied"
        if code in OPT_IN_CODES:
            return Status.SKIPPED, OPT_IN_CODES[code]
        return Status.FAILED, f"error: {code}"
    if isinstance(exc, InvalidCredentialsError):
        return Status.FAILED, "invalid credentials"
    if isinstance(exc, TimeoutError) or isinstance(
        exc.__cause__, ConnectTimeoutError | ReadTimeoutError
    ):
        return Status.FAILED, "timeout"
    if isinstance(exc, CredentialsError):
        return Status.FAILED, "no credentials"
    if isinstance(exc, AiokitError | ClientError | BotoCoreError):
        return Status.FAILED, f"error: {type(exc).__name__}"
    return None


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What one target gave.

    Attributes:
        target: the target.
        status: ``ok``, ``skipped`` or ``failed``.
        value: ``fn``'s return value when ok.
        error: the exception when skipped or failed.
        reason: why it was skipped or failed (``"access denied"``, ``"timeout"``...).
        duration: seconds from start to end of this target's work.
        calls: API calls made.
        retries: every retry: ``throttle_retries + transient_retries + page_retries``.
        throttles: throttled HTTP responses seen.
        throttle_retries: HTTP attempts sent again after a throttle.
        transient_retries: HTTP attempts sent again after a transient error (5xx, timeout,
            connection error), by aiokit's scope limiter or botocore's retry handler.
        page_retries: pages a paginator asked for again, in a new call, after a call
            failed (``page_retries`` of ``paginate``).

    The pool's ``statistics().scopes`` count the same HTTP attempts per throttling scope:
    summed over the targets of a fan-out, ``throttles``, ``throttle_retries`` and
    ``transient_retries`` agree with the scopes' (page retries are new requests there).
    """

    target: Target
    status: Status
    value: T | None = None
    error: BaseException | None = field(default=None, repr=False)
    reason: str | None = None
    duration: float = 0.0
    calls: int = 0
    retries: int = 0
    throttles: int = 0
    throttle_retries: int = 0
    transient_retries: int = 0
    page_retries: int = 0

    @property
    def ok(self) -> bool:
        """Whether the target succeeded."""
        return self.status is Status.OK

    def __repr__(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"aiokit.Outcome({self.target!r} {self.status.value}{why} {self.duration:.2f}s)"

    def _repr_html_(self) -> str:
        """Jupyter's view: one row with the target, status, timings and value or error."""
        from .progress import html_table

        result = self.value if self.ok else self.error
        return html_table(
            ("target", "status", "reason", "seconds", "calls", "retries", "throttles", "result"),
            [
                (
                    repr(self.target),
                    self.status.value,
                    self.reason,
                    f"{self.duration:.2f}",
                    self.calls,
                    self.retries,
                    self.throttles,
                    result,
                )
            ],
            caption="aiokit.Outcome",
        )


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a fan-out stands, as given to a progress hook."""

    done: int
    in_flight: int
    ok: int
    skipped: int
    failed: int
    items: int


@dataclass(frozen=True, slots=True)
class FanOutStatistics:
    """A snapshot of a fan-out's counters."""

    started: int
    done: int
    in_flight: int
    ok: int
    skipped: int
    failed: int
    items: int
    calls: int
    retries: int
    throttles: int
    deadline_reached: bool
    #: Targets started but stopped before an outcome (the deadline passed, the consumer
    #: left, or a bug stopped the fan-out): ``started == done + in_flight + interrupted``.
    interrupted: int = 0


class Context:
    """What ``fn`` gets: the pool's calls, bound to one target's identity and region.

    A target with an ``account`` but no ``identity`` is visited as the pool itself when
    the pool is in that account, and otherwise through the pool's ``role`` there (as
    ``pool.client(account=...)``): never as the pool in another account than its label.
    Which one is asked of STS (once per pool) at the target's first call.
    """

    def __init__(self, pool: SessionPool, target: Target) -> None:
        self.pool = pool
        self.target = target
        self._identity = target.identity
        self._unresolved = target.identity is None and target.account is not None

    async def _acting(self) -> Any:
        """The identity to act as (see the class docstring)."""
        if self._unresolved:
            own, _ = await whoami(self.pool, None)
            if self.target.account != own:
                self._identity = self.pool.identity_for(account=self.target.account)
            self._unresolved = False
        return self._identity

    def __repr__(self) -> str:
        return f"aiokit.Context({self.target!r})"

    async def client(self, service: str) -> Any:
        """The pool's client for ``service`` as this target's identity, in its region."""
        return await self.pool.client(service, self.target.region, identity=await self._acting())

    def paginate(self, service: str, operation: str, **params: Any) -> Paginator:
        """``SessionPool.paginate`` for this target."""
        pager = self.pool.paginate(
            service,
            operation,
            self.target.region,
            identity=self._identity,
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
    """A running fan-out; see ``SessionPool.fan_out``. Use as ``async with ... as outcomes``."""

    def __init__(
        self,
        pool: SessionPool,
        fn: Callable[[Context], Awaitable[T]],
        targets: Iterable[Target] | AsyncIterable[Target],
        *,
        concurrency: int = 64,
        per_account: int | None = None,
        per_region: int | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        progress: Callable[[Progress], None] | None = None,
        count_items: Callable[[T], int] = _sized,
    ) -> None:
        _validate.fan_out_args(
            fn=fn,
            targets_=targets,
            concurrency=concurrency,
            per_account=per_account,
            per_region=per_region,
            timeout=timeout,
            deadline=deadline,
            progress=progress,
        )
        self._pool = pool
        self._fn = fn
        self._targets = targets
        self._concurrency = concurrency
        self._per_account = per_account
        self._per_region = per_region
        self._timeout = timeout
        self._deadline = deadline
        self._progress = progress
        self._count_items = count_items
        self._account_limiters: dict[str | None, anyio.CapacityLimiter] = {}
        self._region_limiters: dict[str | None, anyio.CapacityLimiter] = {}
        self._tg: TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[Outcome[T]] | None = None
        self._started = self._done = self._ok = self._skipped = self._failed = 0
        self._items = self._calls = self._retries = self._throttles = 0
        self._interrupted = 0
        self._deadline_at = math.inf  # set when the run starts, if there is a deadline
        self._deadline_reached = False
        self._entered = False
        self._collector = raised_gc_threshold(pool._gc_threshold)

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> FanOut[T]:
        if self._entered:
            raise UsageError("a FanOut runs once; make a new one")
        self._entered = True
        send, receive = anyio.create_memory_object_stream[Outcome[T]](self._concurrency)
        self._receive = receive
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._produce, send)
        self._collector.__enter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        assert self._tg is not None and self._receive is not None
        try:
            return await exit_task_group(self._tg, exc_info)
        finally:
            self._receive.close()
            self._collector.__exit__(None, None, None)

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
        # a task per worker rather than per target keeps the per-target cost low, and at
        # most ``concurrency`` targets are taken and not yet handed to the consumer.
        workers = self._concurrency
        if isinstance(self._targets, Sized):
            workers = max(1, min(workers, len(self._targets)))
        source = _Targets(self._targets)
        if self._deadline is not None:
            self._deadline_at = anyio.current_time() + self._deadline
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

    async def _work(
        self, source: _Targets, send: MemoryObjectSendStream[Outcome[T]], first: Target
    ) -> None:
        use_lean_client_context()  # this worker task's own botocore context
        target: Target | None = first
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

    async def _take(self, source: _Targets) -> Target | None:
        """The next target, or ``None``: none left, or the deadline has passed."""
        if anyio.current_time() >= self._deadline_at:
            self._deadline_reached = True
            return None
        with anyio.CancelScope(deadline=self._deadline_at):
            return await source.take()
        self._deadline_reached = True  # an async source was still producing at the deadline
        return None

    async def _bounded(self, target: Target) -> Outcome[T]:
        account = _limiter(self._account_limiters, target.account, self._per_account)
        region = _limiter(self._region_limiters, target.region, self._per_region)
        if account is not None:
            await account.acquire()
        try:
            if region is not None:
                await region.acquire()
            try:
                return await self._call(target)
            finally:
                if region is not None:
                    region.release()
        finally:
            if account is not None:
                account.release()

    async def _call(self, target: Target) -> Outcome[T]:
        stats = CallStats()
        token = call_stats.set(stats)
        start = time.perf_counter()
        try:
            try:
                if self._timeout is None:
                    value = await _awaited(self._fn, Context(self._pool, target))
                else:
                    with anyio.fail_after(self._timeout):
                        value = await _awaited(self._fn, Context(self._pool, target))
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
                )
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
        else:
            self._failed += 1
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

    def add_items(self, n: int) -> None:
        """Count ``n`` more items (for work that streams items rather than returning them)."""
        self._items += n

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


async def send_soon(send: MemoryObjectSendStream[Any], item: Any) -> None:
    """``send.send(item)``, without its scheduling round trip when the buffer has room.

    anyio's ``send`` and ``receive`` each yield to the event loop even when they need not
    wait: two loop passes per outcome, a large share of a fan-out's own cost. A full buffer
    still makes the sender wait, so memory stays bounded and the consumer gets its turn.
    """
    try:
        send.send_nowait(item)
    except anyio.WouldBlock:
        await send.send(item)


class Drain(AsyncIterator[V]):
    """Iterate ``receive``, taking buffered items without a loop pass (see ``send_soon``)."""

    def __init__(self, receive: MemoryObjectReceiveStream[V]) -> None:
        self._receive = receive

    async def __anext__(self) -> V:
        try:
            try:
                return self._receive.receive_nowait()
            except anyio.WouldBlock:
                return await self._receive.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
        except anyio.ClosedResourceError:
            raise UsageError(
                "a fan-out or crawl was iterated after its `async with` ended; iterate "
                "inside it: `async with pool.crawl(...) as crawl: async for item in crawl`"
            ) from None


async def exit_task_group(tg: TaskGroup, exc_info: Any) -> bool | None:
    """Leave a task group entered by hand: cancel what still runs, raise a bug as itself.

    Leaving means the consumer wants no more (it finished, broke out, or failed), so the work
    is cancelled. A bug in user code reaches the caller as its own exception, not wrapped in
    an exception group: when several targets raise at once, errors of one class raised at
    one place in the code are one bug (a ``KeyError`` whose key differs per target is still
    one mistake), so the first is raised with a note counting the others. Only errors of
    different classes, or raised at different places, stay together in the group, since
    each may need its own fix.
    """
    tg.cancel_scope.cancel()
    try:
        return await tg.__aexit__(*exc_info)
    except BaseExceptionGroup as group:
        raise_one_bug(group)
        raise


def raise_one_bug(group: BaseExceptionGroup[BaseException]) -> None:
    """Raise the group's bug as itself when all its errors are one bug (see
    :func:`exit_task_group`); return (for the caller to re-raise the group) otherwise."""
    cancelled = anyio.get_cancelled_exc_class()
    bugs = [e for e in _leaves(group) if not isinstance(e, cancelled)]
    if bugs and len({_bug_key(e) for e in bugs}) == 1:
        first = bugs[0]
        if len(bugs) > 1:
            first.add_note(
                f"aiokit: {len(bugs) - 1} more target(s) raised the same "
                f"{type(first).__name__} at the same time; the first is shown"
            )
        # Its own cause, not the group: the traceback reads as if it were raised alone.
        raise first from first.__cause__


def _bug_key(exc: BaseException) -> tuple[type[BaseException], Any, int | None]:
    """What makes two errors the same bug: their class and the line that raised them."""
    tb = exc.__traceback__
    if tb is None:
        return type(exc), None, None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return type(exc), tb.tb_frame.f_code, tb.tb_lineno


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found += _leaves(exc)
        else:
            found.append(exc)
    return found


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

    def __init__(self, targets: Iterable[Target] | AsyncIterable[Target]) -> None:
        self._seen: set[Target] = set()
        self._iterator: Iterator[Target] | None = None
        self._source: AsyncGenerator[Target, None] | None = None
        if isinstance(targets, AsyncIterable):
            self._source = _aiter(targets)
            self._lock = anyio.Lock(fast_acquire=True)
        else:
            self._iterator = iter(targets)

    async def take(self) -> Target | None:
        """The next target, or ``None`` when there are no more (for every later call too)."""
        target = await self._next()
        while target is not None and target in self._seen:
            target = await self._next()
        if target is not None:
            self._seen.add(target)  # no await since the check: no other worker got it
        return target

    async def _next(self) -> Target | None:
        if self._iterator is not None:
            # A plain iterator's next() runs to its end without giving the event loop a
            # turn, so workers cannot interleave inside it: no lock needed.
            target = next(self._iterator, _END)
            return None if target is _END else _checked(target)
        assert self._source is not None
        async with self._lock:  # an async generator serves one caller at a time
            try:
                # Once exhausted, it keeps raising StopAsyncIteration for every worker.
                return _checked(await self._source.__anext__())
            except StopAsyncIteration:
                return None

    async def aclose(self) -> None:
        """Close the caller's async iterator (a plain one is left as it is)."""
        if self._source is not None:
            await self._source.aclose()


_END = object()


def _checked(target: object) -> Target:
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
