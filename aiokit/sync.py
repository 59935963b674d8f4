"""``aiokit.sync``: the aiokit API without ``await``, for scripts and notebooks.

::

    import aiokit
    import aiokit.sync

    with aiokit.sync.SessionPool(profile="mgmt", region="eu-west-1") as pool:
        sqs = pool.client("sqs")
        print(sqs.list_queues())
        for obj in pool.paginate("s3", "list_objects_v2", Bucket="logs").items():
            print(obj["Key"])
        targets = pool.targets(aiokit.Organization(), regions="enabled")
        df = pool.crawl("ec2", "describe_instances", targets).to_pandas()

There is one implementation, the async one. The facade starts an event loop in a background
thread (an anyio blocking portal), makes an :class:`aiokit.SessionPool` on it, and sends each
call to that loop, blocking until it is answered. Clients, credentials, results and errors
(the same exception classes) are the async pool's own.

Because its loop is its own, the facade works where a loop is already running, in a Jupyter
cell or in code called from ``asyncio.run``: the calling thread just waits for each call. In
a notebook, top-level ``await`` on the async API works too.

The functions given to :meth:`SessionPool.fan_out` are ``async def fn(ctx)``, as for the
async pool: they run on the pool's loop, where the concurrency is. For the same reason,
progress hooks are called on the pool's thread, and facade methods must not be called from
inside ``fn`` or a hook (use ``ctx`` there).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import functools
import inspect
import threading
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal

from . import _pool
from ._botocore.resources import CollectionManager, ResourceCollection, ServiceResource
from ._exceptions import ConfigurationError, PoolClosedError, UsageError
from ._fleet.crawl import Crawl as _AsyncCrawl
from ._fleet.crawl import Item, Report
from ._fleet.fanout import Context
from ._fleet.outcomes import FanOutStatistics, Outcome
from ._fleet.progress import ProgressBar, progress_bar
from ._fleet.targets import Target
from ._identity import Identity
from ._paginate import Paginator as _AsyncPaginator
from ._pool import PoolStatistics
from ._waiters import WaitResult

__all__ = [
    "Client",
    "Crawl",
    "Paginator",
    "ProgressBar",
    "Resource",
    "SessionPool",
    "StreamingBody",
    "progress_bar",
]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")
T = TypeVar("T")

_CLOSED_MESSAGE = "this aiokit.sync.SessionPool is closed; make a new one"


if TYPE_CHECKING:
    # For type checkers an instance, whose methods are bound (no ``self``); at run time the
    # class, whose functions carry the signatures that ``help()`` should show.
    _async_pool: _pool.SessionPool
else:
    _async_pool = _pool.SessionPool


def _mirrors(
    method: Callable[P, object],
) -> Callable[[Callable[Concatenate[S, ...], R]], Callable[Concatenate[S, P], R]]:
    """Give a facade method the parameters of the async method it forwards to.

    The facade forwards ``*args, **kwargs`` unchanged, so it can never drift from the async
    signature; this tells type checkers and ``help()`` what those parameters are.
    """

    def decorate(fn: Callable[Concatenate[S, ...], R]) -> Callable[Concatenate[S, P], R]:
        returns = inspect.signature(fn).return_annotation
        fn.__signature__ = inspect.signature(method).replace(  # type: ignore[attr-defined]
            return_annotation=returns
        )
        return fn

    return decorate


class _Loop:
    """The background event loop: a blocking portal in a daemon thread of its own."""

    def __init__(self) -> None:
        self._cm = start_blocking_portal(name="aiokit-sync")
        self.portal: BlockingPortal = self._cm.__enter__()
        self.thread_id: int = self.portal.call(threading.get_ident)
        self.stopped = False

    def check_thread(self) -> None:
        """Refuse a call from the loop's own thread: it would wait for itself forever."""
        if threading.get_ident() == self.thread_id:
            raise UsageError(
                "aiokit.sync called from the pool's own event loop (in a fan-out function "
                "or a progress hook?); use the async API there: ctx.client(...), await ..."
            )

    @overload
    def call(self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R: ...

    @overload
    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` on the loop (awaiting it if it is async); its result."""
        if self.stopped:
            raise PoolClosedError(_CLOSED_MESSAGE)
        self.check_thread()
        try:
            future = self.portal.start_task_soon(functools.partial(fn, *args, **kwargs))
        except RuntimeError as exc:  # the portal stopped between the check and the call
            raise PoolClosedError(_CLOSED_MESSAGE) from exc
        try:
            return future.result()
        except concurrent.futures.CancelledError as exc:
            if self.stopped:  # cancelled by close() in another thread
                raise PoolClosedError(_CLOSED_MESSAGE) from exc
            raise
        except BaseException:
            # This thread stopped waiting (Ctrl-C, say): stop the work on the loop as well,
            # rather than let it run on unobserved. A no-op when the call already ended.
            future.cancel()
            raise

    def stop(self) -> None:
        """Cancel what still runs on the loop, end it and join its thread."""
        self.stopped = True
        with contextlib.suppress(RuntimeError):  # already stopped
            self.portal.call(self.portal.stop, True)
        self._cm.__exit__(None, None, None)


class _Runtime:
    """What a facade owns: the loop, the async pool on it, and the crawls still running.

    Kept apart from :class:`SessionPool` so that the finalizer that closes a forgotten pool
    holds no reference to the pool object itself.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.loop = _Loop()
        self.pool: _pool.SessionPool | None = None
        self.running: set[Crawl] = set()
        self._lock = threading.Lock()
        self.closing = False
        try:
            # Made on the loop's thread: its locks and limiters belong to that loop.
            self.pool = self.loop.call(functools.partial(_pool.SessionPool, **options))
            self.loop.call(self.pool.open)
        except BaseException:
            self._close()
            raise

    def close(self) -> None:
        with self._lock:
            if self.closing:
                return
            self.closing = True
        if threading.get_ident() == self.loop.thread_id:
            # Garbage collection ran the finalizer on the loop's own thread, which cannot
            # wait for the loop: close from another thread.
            threading.Thread(target=self._close, name="aiokit-sync-close").start()
            return
        self._close()

    def _close(self) -> None:
        try:
            # Crawls first, so nothing is using a client when the pool closes them.
            for crawl in list(self.running):
                with contextlib.suppress(Exception):
                    crawl._stop()
            if self.pool is not None:
                self.loop.call(self.pool.aclose)
        finally:
            self.loop.stop()

    def collected(self) -> None:
        """The finalizer: a pool nobody closed was garbage collected (or the program ends)."""
        forgotten = not self.closing and not _exiting
        # Close first: with warnings as errors, the warning raises.
        self.close()
        if forgotten:
            warnings.warn(
                "an aiokit.sync.SessionPool was never closed; use `with` or call close()",
                ResourceWarning,
                stacklevel=1,
            )


_exiting = False


def _mark_exit() -> None:
    global _exiting
    _exiting = True


class SessionPool:
    """An :class:`aiokit.SessionPool` used without ``await``; its loop runs in a thread.

    ::

        with aiokit.sync.SessionPool(region="eu-west-1") as pool:
            print(pool.client("sqs").list_queues())

    The pool is open once made (the profile and config files are read then, so a wrong
    profile fails here). Close it with ``with`` or :meth:`close`; a pool that is garbage
    collected unclosed, or still open when the program ends, is closed then.

    Args:
        **options: the keyword arguments of :class:`aiokit.SessionPool` (``profile``,
            ``credentials``, ``region``, ``role``, ``endpoint_url``, ``config``,
            ``concurrency``...).

    Raises:
        ConfigurationError: the options are inconsistent.
        ProfileNotFoundError: the profile does not exist.
    """

    def __init__(self, **options: Any) -> None:
        self._rt = _Runtime(options)
        assert self._rt.pool is not None
        self._aio: _pool.SessionPool = self._rt.pool
        self._finalizer = weakref.finalize(self, self._rt.collected)
        global _exit_hook_registered
        if not _exit_hook_registered:
            # After weakref.finalize's own exit hook, so (exit hooks run last-in first-out)
            # before it: pools still open at exit are closed then without a warning.
            atexit.register(_mark_exit)
            _exit_hook_registered = True

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop running crawls, close every client, end the loop thread. Idempotent."""
        self._finalizer.detach()
        self._rt.close()

    def __enter__(self) -> SessionPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether the pool has been closed."""
        return self._rt.closing

    @property
    def region(self) -> str | None:
        """The default region."""
        return self._aio.region

    @property
    def identity(self) -> Identity:
        """The pool's own identity."""
        return self._aio.identity

    @property
    def aio(self) -> _pool.SessionPool:
        """The async pool underneath, for :meth:`run`; its methods are for its loop only."""
        return self._aio

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"aiokit.sync.SessionPool(state={state}, identity={self._aio.identity!r}, "
            f"region={self._aio.region!r})"
        )

    def statistics(self) -> PoolStatistics:
        """A frozen snapshot of the pool's counters (see :class:`aiokit.PoolStatistics`)."""
        return self._call(self._aio.statistics)

    # --- calls ---------------------------------------------------------------------------

    def run(self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``await fn(*args, **kwargs)`` on the pool's loop; its result.

        For async code the facade does not cover, with :attr:`aio`::

            tables = pool.run(my_async_function, pool.aio, "eu-west-1")

        Raises:
            PoolClosedError: the pool is closed.
            ConfigurationError: ``fn`` is not callable.
        """
        if not callable(fn):
            raise ConfigurationError(
                f"run() takes an async function to call, not {type(fn).__name__} {fn!r}"
            )
        return self._call(fn, *args, **kwargs)

    @_mirrors(_async_pool.client)
    def client(self, *args: Any, **kwargs: Any) -> Client:
        """A client whose API methods are called without ``await``.

        Takes the arguments of :meth:`aiokit.SessionPool.client`.

        Raises:
            PoolClosedError: the pool is closed.
            UnknownServiceError: botocore knows no such service.
            InvalidRegionError: the region is malformed, unknown, or missing.
        """
        return Client(self, self._call(self._aio.client, *args, **kwargs))

    @_mirrors(_async_pool.resource)
    def resource(self, *args: Any, **kwargs: Any) -> Resource:
        """A boto3 resource whose actions, attributes and collections need no ``await``.

        Takes the arguments of :meth:`aiokit.SessionPool.resource`::

            table = pool.resource("dynamodb").Table("orders")
            table.put_item(Item={"id": "1"})
            with table.batch_writer() as writer:
                writer.put_item(Item={"id": "2"})
            for bucket in pool.resource("s3").buckets.all():
                print(bucket.name)

        Raises:
            PoolClosedError: the pool is closed.
            UnknownServiceError: the service has no resource interface.
        """
        return Resource(self, self._call(self._aio.resource, *args, **kwargs))

    @_mirrors(_async_pool.paginate)
    def paginate(self, *args: Any, **kwargs: Any) -> Paginator:
        """Paginate an operation: an iterable of pages, with ``items()`` and ``search()``.

        Takes the arguments of :meth:`aiokit.SessionPool.paginate`. Pages are fetched one
        at a time, as the iteration asks for them.

        Raises:
            PoolClosedError: the pool is closed.
        """
        return Paginator(self, self._call(self._aio.paginate, *args, **kwargs))

    @_mirrors(_async_pool.wait)
    def wait(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Wait for a botocore waiter; the response that matched its success state.

        Takes the arguments of :meth:`aiokit.SessionPool.wait`.

        Raises:
            WaiterTimeout: the deadline or the attempt limit was reached (also a TimeoutError).
            WaiterFailed: the resource reached a failure state.
        """
        return self._call(self._aio.wait, *args, **kwargs)

    @_mirrors(_async_pool.wait_many)
    def wait_many(self, *args: Any, **kwargs: Any) -> list[WaitResult]:
        """Run one waiter for many resources at once; one :class:`aiokit.WaitResult` each.

        Takes the arguments of :meth:`aiokit.SessionPool.wait_many`.
        """
        return self._call(self._aio.wait_many, *args, **kwargs)

    @_mirrors(_async_pool.targets)
    def targets(self, *args: Any, **kwargs: Any) -> list[Target]:
        """The targets a fan-out or crawl should visit.

        Takes the arguments of :meth:`aiokit.SessionPool.targets`.

        Raises:
            ConfigurationError: an unknown region, OU, role, or a malformed account id.
        """
        return self._call(self._aio.targets, *args, **kwargs)

    @_mirrors(_async_pool.crawl)
    def crawl(self, *args: Any, **kwargs: Any) -> Crawl:
        """Paginate an operation in every target: a :class:`Crawl` of items and a report.

        Takes the arguments of :meth:`aiokit.SessionPool.crawl`. Nothing runs until the
        crawl is iterated, collected or turned into a DataFrame::

            df = pool.crawl("sqs", "list_queues", targets).to_pandas()
        """
        return Crawl(self, self._call(self._aio.crawl, *args, **kwargs))

    def fan_out(
        self,
        fn: Callable[[Context], Awaitable[T]],
        targets: Iterable[Target],
        **options: Any,
    ) -> list[Outcome[T]]:
        """Run ``async def fn(ctx)`` for every target; every :class:`aiokit.Outcome`.

        ``fn`` is async, as for the async pool: it runs on the pool's loop, which is where
        the targets run concurrently. It gets an :class:`aiokit.Context` (``await
        ctx.client(...)``, ``ctx.paginate(...)``, ``ctx.target``)::

            async def tables(ctx: aiokit.Context) -> list[str]:
                return [t async for t in ctx.paginate("dynamodb", "list_tables").items()]

            outcomes = pool.fan_out(tables, targets, concurrency=32)

        Outcomes come back in the order targets finished, all at once (all in memory).

        Args:
            fn: the work for one target.
            targets: the targets.
            **options: the options of :meth:`aiokit.SessionPool.fan_out` (``concurrency``,
                ``per_account``, ``per_region``, ``timeout``, ``deadline``, ``progress``).

        Returns:
            One outcome per target, ok, skipped or failed.

        Raises:
            PoolClosedError: the pool is closed.
        """

        async def run() -> list[Outcome[T]]:
            return await self._aio.fan_out(fn, targets, **options).collect()

        return self._call(run)

    # --- plumbing ------------------------------------------------------------------------

    @overload
    def _call(self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R: ...

    @overload
    def _call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def _call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if self._rt.closing:
            raise PoolClosedError(_CLOSED_MESSAGE)
        return self._rt.loop.call(fn, *args, **kwargs)

    def _iterate(self, make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        """Drive an async iterator made by ``make`` on the loop, one item per call.

        One item per call, not a read-ahead buffer: an item the caller has not asked for is
        not fetched, so a paginator's resume token is always the one after the last page
        the caller saw.
        """
        iterator = self._call(make)
        try:
            while True:
                try:
                    item = self._call(iterator.__anext__)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            # Left early (break, an error): close an async generator on its own loop now, so
            # what it holds is released in order, not at loop shutdown. Only a generator: a
            # crawl's stream belongs to the crawl, which closes it when it stops.
            if inspect.isasyncgen(iterator) and not self._rt.closing:
                with contextlib.suppress(RuntimeError, PoolClosedError):
                    self._call(iterator.aclose)


_exit_hook_registered = False

# Public names say where users import them from.
ProgressBar.__module__ = progress_bar.__module__ = __name__


class Client:
    """A pool's client without ``await``: each API method call runs on the pool's loop.

    Every attribute of the underlying aiobotocore client is available: methods return the
    response, errors are the same aiokit / botocore exceptions (``client.exceptions.X``
    included), ``meta`` is the client's. Streamed bodies (S3 ``GetObject``'s ``Body``) come
    back as :class:`StreamingBody`. For paginators and waiters use the pool's
    :meth:`SessionPool.paginate` and :meth:`SessionPool.wait`.

    Clients are owned by the pool and closed with it.
    """

    def __init__(self, pool: SessionPool, client: Any) -> None:
        self._pool = pool
        self._client = client

    @property
    def aio(self) -> Any:
        """The async client underneath (for :meth:`SessionPool.run`)."""
        return self._client

    def __getattr__(self, name: str) -> Any:
        if name in ("get_paginator", "get_waiter"):
            use = "paginate" if name == "get_paginator" else "wait"
            raise AttributeError(
                f"aiokit.sync.Client has no {name}(): use pool.{use}(service, ...), which "
                "returns results without await"
            )
        attr = getattr(self._client, name)
        if not callable(attr) or isinstance(attr, type):
            return attr
        pool = self._pool

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            return _sync_response(pool, pool._call(attr, *args, **kwargs))

        return call

    def __dir__(self) -> list[str]:
        hidden = {"get_paginator", "get_waiter"}
        return sorted({*super().__dir__(), *dir(self._client)} - hidden)

    def __repr__(self) -> str:
        return f"aiokit.sync.Client({self._client!r})"


def _sync_response(pool: SessionPool, response: Any) -> Any:
    """A response whose streamed bodies are readable without ``await``."""
    if isinstance(response, dict):
        for key, value in response.items():
            if inspect.iscoroutinefunction(getattr(value, "read", None)):
                response[key] = StreamingBody(pool, value)
    return response


class _Proxy:
    """An aioboto3 object used without ``await``: every attribute read and call runs on
    the pool's loop (awaited there when it is async), and what comes back is wrapped the
    same way when it is a resource, a collection, a context manager or an async iterator.
    """

    def __init__(self, pool: SessionPool, target: Any) -> None:
        self._pool = pool
        self._target = target

    @property
    def aio(self) -> Any:
        """The async object underneath (for :meth:`SessionPool.run`)."""
        return self._target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _sync_value(self._pool, self._pool._call(_read, self._target, name))

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *dir(self._target)})

    def __iter__(self) -> Iterator[Any]:
        if not hasattr(self._target, "__aiter__"):
            raise TypeError(f"{type(self._target).__name__} is not iterable")
        pool = self._pool
        return (_sync_value(pool, v) for v in pool._iterate(self._target.__aiter__))

    def __enter__(self) -> Any:
        return _sync_value(self._pool, self._pool._call(self._target.__aenter__))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        return self._pool._call(self._target.__aexit__, exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"aiokit.sync.{type(self).__name__.lstrip('_')}({self._target!r})"


class Resource(_Proxy):
    """A pool's boto3 resource without ``await``: see :meth:`SessionPool.resource`.

    Actions (``table.put_item(...)``), sub-resources (``s3.Bucket("b")``), loaded
    attributes (``table.item_count``), collections (``for b in s3.buckets.all()``) and
    context managers (``with table.batch_writer() as w``) work as in boto3; ``meta`` is
    the async resource's. The resource is owned by the pool and closed with it.
    """

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Resource):
            return bool(self._target == other._target)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._target)


async def _read(target: Any, name: str) -> Any:
    value = getattr(target, name)
    if inspect.isawaitable(value):  # a loaded attribute: aioboto3 fetches it on first read
        value = await value
    return value


def _sync_value(pool: SessionPool, value: Any) -> Any:
    """``value``, as the facade hands it out (see :class:`_Proxy`)."""
    if isinstance(value, ServiceResource):
        return Resource(pool, value)
    if isinstance(value, ResourceCollection | CollectionManager):
        return _Proxy(pool, value)
    if isinstance(value, list) and value and isinstance(value[0], ServiceResource):
        return [_sync_value(pool, v) for v in value]
    if hasattr(value, "__aenter__") or hasattr(value, "__anext__"):
        if hasattr(value, "__anext__") and not hasattr(value, "__aenter__"):
            return (_sync_value(pool, v) for v in pool._iterate(lambda: value))
        return _Proxy(pool, value)
    if callable(value) and not isinstance(value, type):
        fn = value

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            return _sync_value(pool, pool._call(fn, *args, **kwargs))

        return call
    return _sync_response(pool, value)


class StreamingBody:
    """A streamed response body (S3 ``GetObject``'s ``Body``) read without ``await``.

    Read it whole, in chunks, or close it unread: its connection is held until then.
    """

    def __init__(self, pool: SessionPool, body: Any) -> None:
        self._pool = pool
        self._body = body

    def read(self, amt: int | None = None) -> bytes:
        """Read ``amt`` bytes, or everything left when ``amt`` is ``None``."""
        data: bytes = self._pool._call(self._body.read, amt)
        return data

    def iter_chunks(self, chunk_size: int = 65536) -> Iterator[bytes]:
        """Yield the body in chunks of at most ``chunk_size`` bytes."""
        while chunk := self.read(chunk_size):
            yield chunk

    def close(self) -> None:
        """Release the connection, read or not."""
        self._pool._call(self._body.close)

    def __enter__(self) -> StreamingBody:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return "aiokit.sync.StreamingBody()"


class Paginator:
    """An operation's pages without ``await``; see :meth:`SessionPool.paginate`.

    Iterate it for pages, or use :meth:`items` and :meth:`search`. Like
    :class:`aiokit.Paginator`, each iteration starts from ``StartingToken`` (or the
    beginning), and :attr:`resume_token` is the token to continue after the last page seen.
    """

    def __init__(self, pool: SessionPool, paginator: _AsyncPaginator) -> None:
        self._pool = pool
        self._paginator = paginator

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._pool._iterate(self._paginator.__aiter__)

    def items(self, key: str | None = None) -> Iterator[Any]:
        """Yield the records of every page, flattened (see :meth:`aiokit.Paginator.items`).

        Raises:
            InvalidParameterError: ``key`` is not one of the operation's result keys.
        """
        return self._pool._iterate(functools.partial(self._paginator.items, key))

    def search(self, expression: str) -> Iterator[Any]:
        """Yield a JMESPath expression's matches on each page (lists are flattened).

        Raises:
            InvalidParameterError: the expression does not parse (raised here, at once).
        """
        matches = self._paginator.search(expression)
        return self._pool._iterate(lambda: matches)

    @property
    def resume_token(self) -> str | None:
        """Where to resume after the last page yielded (``None`` after the last page)."""
        return self._paginator.resume_token

    @property
    def pages(self) -> int:
        """Pages fetched by the latest iteration."""
        return self._paginator.pages

    @property
    def retries(self) -> int:
        """Page requests retried by aiokit (on top of botocore's own attempts)."""
        return self._paginator.retries

    def __repr__(self) -> str:
        return repr(self._paginator).replace("<aiokit.", "<aiokit.sync.", 1)


class Crawl:
    """A crawl without ``await``; see :meth:`SessionPool.crawl`.

    Runs when first used, in one of three ways:

    - ``crawl.to_pandas()`` or ``crawl.collect()``: run to the end, everything in memory;
    - ``for item in crawl:`` (or ``crawl.items()``, ``crawl.events()``): items as they come,
      memory bounded; leaving the loop early stops the crawl;
    - ``with crawl: for item in crawl: ...``: the same, the crawl stopped when the block ends.

    :attr:`report` fills in as targets finish. A crawl runs once.
    """

    def __init__(self, pool: SessionPool, crawl: _AsyncCrawl) -> None:
        self._pool = pool
        self._crawl = crawl
        self._cm: AbstractContextManager[Any] | None = None
        self._started = False

    @property
    def report(self) -> Report:
        """Outcomes so far: counts by status and reason, the skipped and failed targets."""
        return self._crawl.report

    def statistics(self) -> FanOutStatistics:
        """A frozen snapshot of the crawl's counters."""
        stats: FanOutStatistics = self._crawl.statistics()
        return stats

    def __enter__(self) -> Crawl:
        self._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def __iter__(self) -> Iterator[Item]:
        return self.items()

    def items(self) -> Iterator[Item]:
        """Yield items as targets produce them, each tagged with its target."""
        return self._stream(self._crawl.__aiter__)

    def events(self) -> Iterator[Item | Outcome[int]]:
        """Yield items and outcomes in order: a target's outcome comes after its items."""
        return self._stream(self._crawl.events)

    def collect(self) -> tuple[list[Item], Report]:
        """Run to the end; every item (all in memory) and the report.

        Raises:
            RuntimeError: the crawl has already started.
        """
        self._claim()
        return self._pool._call(self._crawl.collect)

    def to_pandas(self) -> Any:
        """Run to the end; a DataFrame with one row per item and ``account``, ``region``.

        Needs ``pandas`` (the ``pandas`` or ``notebook`` extra).

        Raises:
            RuntimeError: the crawl has already started.
        """
        self._claim()
        return self._pool._call(self._crawl.to_pandas)

    def __repr__(self) -> str:
        return f"aiokit.sync.Crawl({self.report!r})"

    def _claim(self) -> None:
        if self._started:
            raise UsageError("a crawl runs once; make a new one with pool.crawl(...)")
        self._started = True

    def _start(self) -> None:
        self._claim()
        if self._pool._rt.closing:
            raise PoolClosedError(_CLOSED_MESSAGE)
        loop = self._pool._rt.loop
        loop.check_thread()
        # One task on the loop enters and later exits the async crawl: its task group must
        # be left by the task that entered it.
        cm = loop.portal.wrap_async_context_manager(self._crawl)
        cm.__enter__()
        self._cm = cm
        self._pool._rt.running.add(self)

    def _stop(self) -> None:
        """Stop the crawl (whatever still runs is cancelled); raise a bug in it, if any."""
        cm, self._cm = self._cm, None
        if cm is None:
            return
        self._pool._rt.running.discard(self)
        cm.__exit__(None, None, None)

    def _stream(self, make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        own = self._cm is None  # not in a `with`: run the crawl for this iteration only
        if own:
            self._start()
        try:
            yield from self._pool._iterate(make)
        finally:
            if own:
                self._stop()
