"""The pool's side of running a crawl in worker processes (``runner=aiokit.Processes(n)``).

:class:`PoolSpec` is the picklable description of a pool a worker builds its own from: the
pool's class (pickled by reference) and the options it was made with. It holds no role
credentials (each worker assumes roles itself); a ``StaticKeys`` identity is part of it and
travels over the process pipe only; its repr shows neither. :func:`shard_messages` is what
runs in a worker, on a pool built from the spec: the ordinary in-process crawl (or fan-out)
of its shard, one message per finished target (its records with its outcome), then a
:class:`~aiokit._fleet.runners.WorkerSummary`. :func:`crawl_shard` is a worker process's
main around it; ``aiokit.dask`` runs it in a Dask worker. See :mod:`aiokit._fleet.runners`
for the driver.

This module never imports the pool (the pool imports it, through ``_features``).
"""

from __future__ import annotations

import array
import copy
import logging
import pickle
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any, Protocol

import anyio

try:  # POSIX: a pipe's room (Linux: and its size); elsewhere a message goes from a thread
    import fcntl
    import termios
except ImportError:  # pragma: no cover - Windows
    fcntl = termios = None  # type: ignore[assignment]

from ._exceptions import AiokitError, ConfigurationError
from ._fleet.crawl import Item
from ._fleet.outcomes import Outcome
from ._fleet.runners import (
    CrawlJob,
    Runner,
    Sharded,
    WorkerSummary,
    follow_parent,
    refuse_in_a_starting_worker,
)

__all__ = [
    "PoolSpec",
    "WorkerError",
    "crawl_shard",
    "pool_spec",
    "run_job",
    "shard_messages",
    "sharded_for",
]


class WorkerError(AiokitError):
    """An error a worker process raised that could not travel back as it was."""


class _Spec(Protocol):
    _options: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """How to build a pool equivalent to the driver's, in another process."""

    cls: type[Any]
    options: dict[str, Any] = field(repr=False)  # may hold static keys: never shown

    def build(self) -> Any:
        """A new, unopened pool made like the driver's."""
        return self.cls(**self.options)

    def split_sts(self, workers: int) -> PoolSpec:
        """This spec with its STS budget split between ``workers`` (at least one each).

        The hub identity's AssumeRole calls are what every worker shares: together the
        workers make at most the driver pool's ``sts_concurrency`` of them at once.
        """
        sts = self.options.get("sts_concurrency", 16)
        return replace(self, options={**self.options, "sts_concurrency": max(1, sts // workers)})


def pool_spec(pool: _Spec) -> PoolSpec:
    """The picklable description of ``pool`` (its class and the options it was made with)."""
    return PoolSpec(type(pool), dict(pool._options))


def sharded_for(pool: _Spec, runner: Runner | None) -> Sharded | None:
    """What a crawl or fan-out needs to run elsewhere with ``runner`` (``None``: here)."""
    if runner is None:
        return None
    refuse_in_a_starting_worker(runner)
    spec = pool_spec(pool)  # the driver's whole; each run splits its STS budget (split_sts)
    try:
        pickle.dumps(spec)
    except Exception as exc:  # the message names the type, never a value
        raise ConfigurationError(
            f"runner={runner!r}: this pool's options cannot be sent to a worker process "
            f"({type(exc).__name__}: {exc})"
        ) from None
    return Sharded(runner, crawl_shard, spec, run_job)


def crawl_shard(job: CrawlJob, conn: Connection) -> None:
    """A worker process's main: crawl ``job``'s targets, report each one through ``conn``.

    A process's entry point, so it runs an event loop of its own (the one place aiokit
    does: this process exists only for it). It ignores SIGINT (a Ctrl-C reaches the whole
    process group: the driver decides, and terminates its workers) and exits when its
    parent does (a driver killed with SIGKILL must not leave its workers crawling).
    """
    follow_parent()
    channel = _Channel(conn)
    _log_to(channel, job.log_level)
    try:
        anyio.run(_crawl_shard, job, channel)
    except Exception as exc:  # the driver raises it: a bug is the same in every worker
        channel.send(("error", _portable(exc)))
    finally:
        logging.getLogger().handlers.clear()
        conn.close()


def run_job(job: CrawlJob, conn: Connection) -> None:
    """One job of a warm worker process (an entered ``aiokit.Processes``): as
    :func:`crawl_shard`, on the pipe the worker keeps for the next job.

    The job's crawl has a pool and an event loop of its own, closed when it ends, so
    nothing of one crawl (no credential, no connection) is left for the next; what stays
    is what a fresh worker would pay for again: aiokit and botocore imported, their
    models read.
    """
    channel = _channels.get(conn.fileno())
    if channel is None:
        channel = _channels[conn.fileno()] = _Channel(conn)
    _log_to(channel, job.log_level)
    try:
        anyio.run(_crawl_shard, job, channel)
    except Exception as exc:  # the driver raises it; this worker waits for the next job
        channel.send(("error", _portable(exc)))
    finally:
        logging.getLogger().handlers.clear()


#: A warm worker's channel to the driver, by its pipe's file descriptor (one per process).
_channels: dict[int, _Channel] = {}


#: Bytes the worker's end of its pipe holds (Linux; 1 MiB is the unprivileged maximum).
_PIPE_BYTES = 1 << 20


class _Channel:
    """The pipe to the driver, shared by the crawl's messages and the log records (sent
    from different threads: one message at a time).

    The crawl's messages are sent from the event loop itself when the pipe has room for
    the whole message (the usual case: the driver reads as they come), and from a thread
    only when it has not (the driver is behind: the worker waits for it, off the loop).
    A thread per message made the loop wait for the GIL after each of its system calls
    (the sending thread held it, pickling): measured, a worker's crawl took 2.2x the wall
    time and 1.4x the CPU of the same crawl in one process; sent from the loop, 1.0x and
    1.1x (``benchmarks/RESULTS.md``, "Scale-out").
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._fd = conn.fileno()
        self._capacity = _grown(self._fd)

    def send(self, message: Any) -> None:
        """Send ``message`` from any thread, waiting for room in the pipe if need be."""
        with self._lock:
            self._conn.send(message)

    async def send_soon(self, message: Any) -> None:
        """Send ``message`` from the event loop: now if it fits, else from a thread."""
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if len(data) + 8 <= self._room():  # (its length header)
                self._conn.send_bytes(data)
                return
        await anyio.to_thread.run_sync(self._send_bytes, data)

    def _send_bytes(self, data: bytes) -> None:
        with self._lock:
            self._conn.send_bytes(data)

    def _room(self) -> int:
        """Bytes the pipe takes now without blocking (0 when the system cannot say)."""
        if not self._capacity:
            return 0
        unread = array.array("i", [0])
        try:
            fcntl.ioctl(self._fd, termios.FIONREAD, unread)
        except OSError:
            return 0
        return self._capacity - unread[0]


def _grown(fd: int) -> int:
    """The pipe's capacity in bytes, grown to ``_PIPE_BYTES`` if the system allows (0:
    not a Linux pipe, or unknown)."""
    setter, getter = getattr(fcntl, "F_SETPIPE_SZ", None), getattr(fcntl, "F_GETPIPE_SZ", None)
    if setter is None or getter is None or termios is None:
        return 0
    try:
        fcntl.fcntl(fd, setter, _PIPE_BYTES)
    except OSError:
        pass  # over the system's limit: keep what it has
    try:
        return int(fcntl.fcntl(fd, getter))
    except OSError:
        return 0


class _LogToDriver(logging.Handler):
    """A worker's log records, sent to the driver: its handlers write them (the command
    line's: one line each, secrets redacted), not this process's stderr."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._channel.send(("log", _sendable(record)))
        except Exception:  # unpicklable extras, or the driver is gone: nobody to tell
            pass


def _log_to(channel: _Channel, level: int) -> None:
    root = logging.getLogger()
    root.handlers[:] = [_LogToDriver(channel)]
    root.setLevel(level)
    # The driver logs each outcome it receives (and the run's start and end): a worker's
    # own lifecycle records would say each of them twice.
    logging.getLogger("aiokit.fleet").setLevel(max(level, logging.WARNING))


def _sendable(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of ``record`` that pickles: its message formatted, its traceback as text."""
    record = copy.copy(record)
    record.msg, record.args = record.getMessage(), None
    if record.exc_info:
        if not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc = record.exc_info[1]
        sent = None if exc is None else _portable(exc)
        # The instance pickles (aiokit's errors rebuild their class), the class itself may
        # not (botocore's and aiokit's made at run time): the handlers read the instance.
        record.exc_info = None if sent is None else (BaseException, sent, None)
    return record


async def _crawl_shard(job: CrawlJob, channel: _Channel) -> None:
    async with job.spec.build() as pool:
        async for message in shard_messages(job, pool):
            await channel.send_soon(message)


async def shard_messages(job: CrawlJob, pool: Any) -> AsyncIterator[tuple[Any, ...]]:
    """Run ``job`` on ``pool`` (open): ``("outcome", target, records, outcome)`` per
    finished target, then ``("done", WorkerSummary)``."""
    limits = job.limits
    bounds = {
        "concurrency": limits.concurrency,
        "per_account": limits.per_account,
        "per_region": limits.per_region,
        "timeout": limits.timeout,
        "deadline": limits.deadline,
    }
    if job.fn is not None:
        run: Any = pool.fan_out(job.fn, list(job.targets), **bounds)
        run.trace_parent = job.trace_context  # the driver's run span, if it is traced
        async with run as outcomes:
            async for outcome in outcomes:
                yield ("outcome", outcome.target, [], _sent(outcome))
    else:
        if job.listings:  # many listings: a unit's records travel with its outcome
            run = pool.crawl(
                list(job.listings),
                list(job.targets),
                done=job.done,
                per_service=limits.per_service,
                **bounds,
            )
        else:
            run = pool.crawl(
                job.service,
                job.operation,
                list(job.targets),
                key=job.key,
                plain=job.plain,
                **bounds,
                **job.params,
            )
        # the driver's run span, if it is traced (aiokit.otel)
        run._fan_out.trace_parent = job.trace_context
        held: dict[Any, list[Any]] = {}
        async with run:
            async for event in run.events():
                if isinstance(event, Item):
                    unit = (
                        event.target
                        if event.listing is None
                        else (event.target, event.listing.name)
                    )
                    held.setdefault(unit, []).append(event.data)
                    continue
                records = held.pop(job.unit_key(event), [])
                yield ("outcome", event.target, records, _sent(event))
    stats = run.statistics()
    pool_stats = pool.statistics()
    summary = WorkerSummary(
        deadline_reached=stats.deadline_reached,
        interrupted=stats.interrupted,
        statistics=replace(pool_stats, scopes=dict(pool_stats.scopes)),  # a proxy: not picklable
    )
    yield ("done", summary)


def _sent(outcome: Outcome[int]) -> Outcome[int]:
    """``outcome``, with its error made picklable if it is not."""
    if outcome.error is None:
        return outcome
    return replace(outcome, error=_portable(outcome.error))


def _portable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return WorkerError(f"{type(exc).__name__}: {exc}")
    return exc
