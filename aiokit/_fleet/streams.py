"""Task groups and streams the anyio way: :func:`running` owns both; a bug is raised as itself.

A fan-out or crawl is an async context manager, not a bare async generator, because its task
group must be exited by the task that entered it, whatever the consumer does (``break``,
raise, cancel). :func:`running` is that task group and the stream its producer fills, in one
``@asynccontextmanager``: leaving it cancels what still runs and closes the stream, and the
classes wrap it rather than entering a task group by hand.

``send_soon`` and :class:`Drain` skip anyio's scheduling round trip when a stream's buffer
has room (two loop passes per item otherwise, a large share of a fan-out's own cost).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._exceptions import UsageError

__all__ = ["Drain", "bounded_map", "raise_one_bug", "running", "send_soon"]

T = TypeVar("T")
R = TypeVar("R")
V = TypeVar("V")


@asynccontextmanager
async def running(
    produce: Callable[[MemoryObjectSendStream[T]], Coroutine[Any, Any, None]], buffer: int
) -> AsyncIterator[MemoryObjectReceiveStream[T]]:
    """Run ``produce(send)`` in a task group; yield the stream's receiving end.

    The producer closes ``send`` when it is done (the consumer then sees the end of the
    stream). Leaving means the consumer wants no more (it finished, broke out, or failed),
    so what still runs is cancelled. A bug in user code reaches the caller as its own
    exception, not wrapped in an exception group (see :func:`raise_one_bug`).
    """
    send, receive = anyio.create_memory_object_stream[T](buffer)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce, send)
            try:
                yield receive
            finally:
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise_one_bug(group)
        raise
    finally:
        receive.close()
        send.close()  # the producer's, closed by it; here too in case it never started


def raise_one_bug(group: BaseExceptionGroup[BaseException]) -> None:
    """Raise the group's bug as itself when all its errors are one bug; return (for the
    caller to re-raise the group) otherwise.

    When several targets raise at once, errors of one class raised at one place in the code
    are one bug (a ``KeyError`` whose key differs per target is still one mistake), so the
    first is raised with a note counting the others. Only errors of different classes, or
    raised at different places, stay together in the group, since each may need its own fix.
    """
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


async def bounded_map(
    fn: Callable[[T], Awaitable[R]], items: Sequence[T], limiter: anyio.CapacityLimiter
) -> list[R]:
    """``fn`` over ``items`` concurrently, results in order; the first error is raised as is.

    A plain exception rather than an ``ExceptionGroup``: one failed lookup is an ordinary
    error for the caller, and the remaining lookups are cancelled.
    """
    results: dict[int, R] = {}
    failures: list[Exception] = []

    async with anyio.create_task_group() as tg:

        async def run(index: int, item: T) -> None:
            try:
                async with limiter:
                    results[index] = await fn(item)
            except Exception as exc:
                if not failures:
                    failures.append(exc)
                tg.cancel_scope.cancel()

        for index, item in enumerate(items):
            tg.start_soon(run, index, item)
    if failures:
        raise failures[0]
    return [results[i] for i in range(len(items))]
